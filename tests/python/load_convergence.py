#!/usr/bin/env python3
"""Load run of convergence planning at scale, measured from outside with a grpcio client.

Starts `concordat serve` as load_shared_config.py does (SQLite, or a new database on the
PostgreSQL server of `--postgres`), with `--trusts` trusts, and seeds through the API only: kinds
of 12 clinical domains (one design authority deciding them all, one pre-approved standard change
request per domain), a baseline of `--items` items spread over them, `--overrides` approved
variations per trust, and per trust a snapshot of its build: the baseline with its variations, a
changed value every 50th key, a key missing every 97th, and 100 keys of its own. The service's
follower records an assessment of each snapshot by itself; the script waits for them on
WatchConvergence. Then measures, `--repeat` times each (medians):

- the rows' own cost: a plain SQL read of the rows one trust's assessment stands on (the current
  baseline and overlay rows and the snapshot's rows: kind, key, value) from the same database;
- AssessSnapshot of that trust (computed as of now, not recorded: every row read through shared
  configuration's API, classified and scored);
- the follower: from an import's answer to its assessment recorded (median over the trusts);
- GetConvergenceMatrix of every trust × domain, against the plain SQL read of each trust's newest
  assessment row;
- ListDivergences of one trust, every page, against the plain SQL read of its divergence rows.

Every answer is checked (the classes the snapshot was built to have). Prints one table; exits 1 on
the first failed check or call. Needs the stubs and packages of tests/python/setup.sh:

    tests/python/.venv/bin/python tests/python/load_convergence.py \\
        --concordat target/release/concordat --items 50000 --trusts 10 --overrides 2000
"""

from __future__ import annotations

import json
import sys
import time

from google.protobuf import json_format, struct_pb2

import load_shared_config as base
from load_shared_config import PARENT, check, median_of, struct

from concordat.convergence.v1 import convergence_service_pb2 as cv  # noqa: E402
from concordat.convergence.v1 import convergence_service_pb2_grpc as cv_grpc  # noqa: E402
from concordat.convergence.v1 import resources_pb2 as cvr  # noqa: E402
from concordat.sharedconfig.v1 import resources_pb2 as scr  # noqa: E402
from concordat.sharedconfig.v1 import sharedconfig_service_pb2 as sc  # noqa: E402

DOMAINS = [
    "medicines", "theatres", "pathology", "radiology", "maternity", "emergency",
    "outpatients", "inpatients", "critical-care", "oncology", "mental-health", "community",
]


def key(i: int) -> tuple[str, str]:
    return f"{DOMAINS[i % len(DOMAINS)]}-rule", f"item-{i:07d}"


class ConvergenceRun(base.Run):
    def start(self) -> None:
        super().start()
        self.convergence = cv_grpc.ConvergenceServiceStub(self.channel)
        # `dev token` finds the federation (all the trusts) through the configuration file.
        config = self.dir / "config.toml"
        federation = self.dir / "federation.toml"
        config.write_text(f'federation = "{federation}"\n' + config.read_text())

    def token(self, subject: str, trust: str, role: str) -> str:
        cmd = [self.args.concordat, "dev", "token", "--config", str(self.dir / "config.toml")]
        cmd += ["--data-dir", str(self.dir), "--trust", trust, "--role", role, "--subject", subject]
        done = base.subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        check(done.returncode == 0, f"{' '.join(cmd)}: {done.stderr.strip()}")
        token = done.stdout.strip().splitlines()[-1]
        self.tokens[subject] = token
        return token

    def approve_changes(self) -> dict[str, str]:
        """The design authority of every domain, a kind per domain, and an approved change request
        per domain."""
        da, template = self.design_authority(DOMAINS)
        schema = struct_pb2.Struct()
        json_format.ParseDict({"type": "object"}, schema)
        crs = {}
        for domain in DOMAINS:
            crs[domain] = self.approved_change_request(da, template, domain)
            self.config.CreateConfigKind(
                sc.CreateConfigKindRequest(
                    parent=PARENT,
                    config_kind_id=f"{domain}-rule",
                    config_kind=scr.ConfigKind(domain=domain, schema=schema),
                ),
                metadata=self.md("admin"),
            )
        return crs

    def variation(self, layer: str, i: int) -> scr.Variation | None:
        """The terms of item `i`'s variation in `layer` (none here: a variation never lapses)."""
        return None

    def publish_by_domain(self, layer: str, items: dict[int, dict]) -> None:
        """Publishes `items` (number → value) to `layer`, one changeset per domain and chunk."""
        by_domain: dict[str, list] = {}
        for i, value in items.items():
            kind, k = key(i)
            by_domain.setdefault(DOMAINS[i % len(DOMAINS)], []).append(
                scr.ItemChange(
                    operation=scr.OPERATION_ADD,
                    item=scr.ConfigItem(
                        kind=kind, key=k, value=struct(value), variation=self.variation(layer, i)
                    ),
                )
            )
        for domain, changes in by_domain.items():
            for start in range(0, len(changes), self.args.changeset_items):
                self.cr = self.crs[domain]
                self.publish(layer, changes[start : start + self.args.changeset_items])

    def snapshot_items(self, t: int) -> list[dict]:
        """Trust `t`'s build: see the module's description."""
        a = self.args
        overrides = set(base.overridden(t, a.items, a.overrides))
        items = []
        for i in range(a.items):
            if i % 97 == 0:
                continue
            value = base.baseline_value(i)
            if i in overrides:
                value = {"enabled": True, "threshold": 99}
            elif i % 50 == 0:
                value = {"enabled": False}
            kind, k = key(i)
            items.append({"kind": kind, "key": k, "value": value})
        for j in range(100):
            items.append({"kind": key(j)[0], "key": f"local-{t}-{j:03d}", "value": {"own": j}})
        return items

    def expected(self, t: int) -> dict[str, int]:
        a = self.args
        overrides = set(base.overridden(t, a.items, a.overrides))
        missing = sum(1 for i in range(a.items) if i % 97 == 0)
        varied = sum(1 for i in overrides if i % 97 != 0)
        divergent = sum(1 for i in range(a.items) if i % 50 == 0 and i % 97 != 0 and i not in overrides)
        return {
            "KEY_CLASS_MISSING": missing,
            "KEY_CLASS_VARIED_APPROVED": varied,
            "KEY_CLASS_DIVERGENT": divergent,
            "KEY_CLASS_LOCAL_ONLY": 100,
            "KEY_CLASS_ALIGNED": a.items - missing - varied - divergent,
        }

    def import_snapshot(self, trust: str, items: list[dict]) -> str:
        self.token(f"engine-{trust}", trust, "automation")
        return self.config.ImportSnapshot(
            sc.ImportSnapshotRequest(
                parent=PARENT,
                snapshot=scr.Snapshot(trust=trust, display_name="Production build"),
                bundle_json=json.dumps({"items": items}),
            ),
            metadata=self.md(f"engine-{trust}"),
        ).snapshot.name

    def seed(self) -> None:
        a = self.args
        self.crs = self.approve_changes()
        self.next_item = a.items
        self.publish_by_domain("baseline", {i: base.baseline_value(i) for i in range(a.items)})
        for t, trust in enumerate(self.trusts):
            overrides = base.overridden(t, a.items, a.overrides)
            self.publish_by_domain(trust, {i: {"enabled": True, "threshold": 99} for i in overrides})
        watch = self.convergence.WatchConvergence(
            cv.WatchConvergenceRequest(parent=PARENT, cursor=0), metadata=self.md("admin")
        )
        self.snapshots: dict[str, str] = {}
        self.follower: list[float] = []
        self.assessments: dict[str, cvr.Assessment] = {}
        for t, trust in enumerate(self.trusts):
            items = self.snapshot_items(t)
            self.snapshots[trust] = self.import_snapshot(trust, items)
            imported = time.perf_counter()
            for event in watch:
                a_ = event.assessment
                if event.kind == "assessment.recorded" and a_.snapshot == self.snapshots[trust]:
                    self.follower.append(time.perf_counter() - imported)
                    self.assessments[trust] = a_
                    break
        watch.cancel()
        for t, trust in enumerate(self.trusts):
            counts = {
                cvr.KeyClass.Name(getattr(c, "class")): c.count for c in self.assessments[trust].counts
            }
            for name, n in self.expected(t).items():
                check(counts.get(name, 0) == n, f"{trust}: {name} {counts.get(name, 0)}, expected {n}")

    def reader(self):
        """The reading connection, opened once (by the base script's first row read)."""
        if not hasattr(self, "reading"):
            self.row_read(self.trusts[0])
        return self.reading

    def rows_of_assessment(self, trust: str) -> int:
        snapshot = self.snapshots[trust].rsplit("/", 1)[1]
        sql = (
            "SELECT kind, item_key, value FROM sc_items WHERE ics = 'QUE' "
            f"AND layer IN ('baseline', '{trust}') AND to_revision IS NULL "
            "UNION ALL SELECT kind, item_key, value FROM sc_snapshot_items "
            f"WHERE ics = 'QUE' AND snapshot = '{snapshot}'"
        )
        return len(self.reader().execute(sql).fetchall())

    def newest_assessment_rows(self) -> int:
        n = 0
        for trust in self.trusts:
            rows = self.reader().execute(
                "SELECT id, tally FROM cv_assessments WHERE ics = 'QUE' AND trust = "
                f"'{trust}' ORDER BY assess_time DESC, id DESC LIMIT 1"
            ).fetchall()
            n += len(rows)
        return n

    def divergence_rows(self, trust: str) -> int:
        assessment = self.assessments[trust].name.rsplit("/", 1)[1]
        return len(
            self.reader().execute(
                "SELECT * FROM cv_divergences WHERE ics = 'QUE' "
                f"AND assessment = '{assessment}' ORDER BY kind, item_key"
            ).fetchall()
        )

    def all_divergences(self, trust: str) -> int:
        n, token = 0, ""
        while True:
            page = self.convergence.ListDivergences(
                cv.ListDivergencesRequest(
                    parent=f"{PARENT}/trusts/{trust}", page_size=1000, page_token=token
                ),
                metadata=self.md("admin"),
            )
            n += len(page.divergences)
            token = page.next_page_token
            if not token:
                return n

    def measure(self) -> list[tuple[str, float, str]]:
        a = self.args
        trust = self.trusts[1]
        rows = self.rows_of_assessment(trust)
        row_read = median_of(a.repeat, lambda: self.rows_of_assessment(trust))
        expected = self.expected(1)

        def assess() -> None:
            got = self.convergence.AssessSnapshot(
                cv.AssessSnapshotRequest(parent=f"{PARENT}/trusts/{trust}"),
                metadata=self.md("admin"),
            ).assessment
            counts = {cvr.KeyClass.Name(getattr(c, "class")): c.count for c in got.counts}
            check(counts.get("KEY_CLASS_DIVERGENT") == expected["KEY_CLASS_DIVERGENT"], "as of now")

        assess_time = median_of(a.repeat, assess)
        matrix_rows = median_of(a.repeat, self.newest_assessment_rows)

        def matrix() -> None:
            m = self.convergence.GetConvergenceMatrix(
                cv.GetConvergenceMatrixRequest(parent=PARENT), metadata=self.md("admin")
            )
            check(len(m.cells) == len(self.trusts) * len(DOMAINS), f"{len(m.cells)} cells")

        matrix_time = median_of(a.repeat, matrix)
        divergences = self.all_divergences(trust)
        check(divergences == a.items + 100 - expected["KEY_CLASS_ALIGNED"], f"{divergences} divergences")
        divergence_rows = median_of(a.repeat, lambda: self.divergence_rows(trust))
        divergence_time = median_of(a.repeat, lambda: self.all_divergences(trust))
        ratio = lambda t, limit: f"{t / limit:.1f}× the row read"  # noqa: E731
        self.memory = self.server_memory()
        follower = sorted(self.follower)[len(self.follower) // 2]
        return [
            (f"row read: baseline + {trust} overlay + snapshot rows (plain SQL, {rows} rows)", row_read, "—"),
            (f"AssessSnapshot of {trust}, as of now (not recorded)", assess_time, ratio(assess_time, row_read)),
            (f"follower: import answered → assessment recorded (median of {len(self.follower)} trusts)", follower, ratio(follower, row_read)),
            (f"row read: newest assessment row of each of {len(self.trusts)} trusts (plain SQL)", matrix_rows, "—"),
            (f"GetConvergenceMatrix, {len(self.trusts)} trusts × {len(DOMAINS)} domains", matrix_time, ratio(matrix_time, matrix_rows)),
            (f"row read: {trust}'s divergence rows (plain SQL, {divergences} rows)", divergence_rows, "—"),
            ("ListDivergences, every page of 1,000", divergence_time, ratio(divergence_time, divergence_rows)),
        ]


def main(argv: list[str]) -> int:
    p = base.arguments(__doc__, items=50_000, overrides=2_000)
    args = p.parse_args(argv)
    if args.overrides > args.items:
        p.error("--overrides must not exceed --items")
    run = ConvergenceRun(args)
    results = base.execute(run)
    if results is None:
        return 1
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"\n{backend}, {args.items} items × {len(run.trusts)} trusts × {len(DOMAINS)} domains, "
        f"{args.overrides} variations each; medians of {args.repeat}\n"
    )
    print(f"server memory at the end: {run.memory}\n")
    print("| operation | time | ratio |\n| --- | --- | --- |")
    for what, seconds, ratio in results:
        shown = f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.2f} s"
        print(f"| {what} | {shown} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
