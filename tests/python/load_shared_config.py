#!/usr/bin/env python3
"""Load run of shared configuration at scale, measured from outside with a grpcio client.

Starts `concordat serve` on a fresh database (SQLite in a temporary directory, or a new database
on the PostgreSQL server of `--postgres`), with a federation of one ICS and `--trusts` trusts and
the development issuer. Seeds, through the API only, a baseline of `--items` items (in changesets
of at most `--changeset-items`) and an overlay of `--overrides` overrides per trust, all under one
pre-approved standard change request. Then measures, `--repeat` times each (medians):

- the rows' own cost: a plain SQL read of the current baseline and overlay rows one trust's
  effective configuration stands on (kind, key, value), from the same database, by this process;
- GetEffectiveConfig, every page, with grpcio's default message limit (4 MiB): the first read
  after seeding (once: the server reads the baseline whole into its cache of baselines), the
  first read of other trusts' revisions (the median over trusts not read before), that trust's
  revision read again, and the first read after each one-item baseline publish (the baseline
  held made anew from the one key changed);
- ExportConfig of it, every page;
- publishing a one-item change to the baseline (every trust gets a revision) and to an overlay;
- DiffEffectiveConfig between adjacent revisions;
- `--readers` concurrent GetEffectiveConfig reads, one trust each, against one read alone;

and seeding against the bulk insert of the same rows into a table of the items' shape (one
transaction; executemany on SQLite, COPY on PostgreSQL). Every read is checked: the item count,
one revision and one content hash over all its pages. Prints one table; exits 1 on the first
failed check or call.

Needs the stubs and packages of tests/python/setup.sh; run with tests/python/.venv/bin/python:

    tests/python/.venv/bin/python tests/python/load_shared_config.py \\
        --concordat target/release/concordat --items 50000 --trusts 10 --overrides 2000
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "gen"))

import grpc  # noqa: E402
from google.protobuf import json_format, struct_pb2  # noqa: E402

from concordat.changecontrol.v1 import changecontrol_service_pb2 as cc  # noqa: E402
from concordat.changecontrol.v1 import changecontrol_service_pb2_grpc as cc_grpc  # noqa: E402
from concordat.changecontrol.v1 import resources_pb2 as ccr  # noqa: E402
from concordat.platform.v1 import platform_service_pb2 as pf  # noqa: E402
from concordat.platform.v1 import platform_service_pb2_grpc as pf_grpc  # noqa: E402
from concordat.platform.v1 import resources_pb2 as pfr  # noqa: E402
from concordat.sharedconfig.v1 import resources_pb2 as scr  # noqa: E402
from concordat.sharedconfig.v1 import sharedconfig_service_pb2 as sc  # noqa: E402
from concordat.sharedconfig.v1 import sharedconfig_service_pb2_grpc as sc_grpc  # noqa: E402

TRUSTS = ["RGT", "RGM", "RGN", "RT1", "RWH", "RQQ", "RC1", "RGP", "RDE", "RCX"]
KINDS = ["alert-rule", "order-set", "form-template", "code-set"]
PARENT = "icss/QUE"


class Failed(Exception):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise Failed(what)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def key(i: int) -> tuple[str, str]:
    return KINDS[i % 4], f"item-{i:07d}"


def baseline_value(i: int) -> dict:
    return {"enabled": True, "threshold": i % 10, "label": f"Item {i}"}


def overridden(t: int, items: int, overrides: int) -> list[int]:
    """Trust `t`'s overridden item numbers: spread over the baseline, different per trust."""
    step = max(1, items // overrides)
    return sorted({(j * step + t * 7) % items for j in range(overrides)})


def struct(d: dict) -> struct_pb2.Value:
    v = struct_pb2.Value()
    json_format.ParseDict(d, v)
    return v


def add(i: int, value: dict):
    kind, k = key(i)
    return scr.ItemChange(
        operation=scr.OPERATION_ADD, item=scr.ConfigItem(kind=kind, key=k, value=struct(value))
    )


def median_of(repeat: int, run) -> float:
    """The median wall time of `run()` over `repeat` runs, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


class Run:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.dir = Path(tempfile.mkdtemp(prefix="concordat-load-"))
        self.trusts = TRUSTS[: args.trusts]
        self.server: subprocess.Popen | None = None
        self.tokens: dict[str, str] = {}
        self.rows: list[tuple[str, str, str]] = []

    # The server.

    def database(self) -> str:
        if not self.args.postgres:
            self.sqlite_file = self.dir / "concordat.db"
            return f"sqlite://{self.sqlite_file}?mode=rwc"
        import psycopg

        name = f"load_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.args.postgres, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        base = self.args.postgres.rstrip("/")
        self.pg_url = f"{base}/{name}"
        return self.pg_url

    def start(self) -> None:
        trusts = ", ".join(f'{{ ods = "{t}", name = "Trust {t}" }}' for t in self.trusts)
        (self.dir / "federation.toml").write_text(
            f'[[ics]]\ncode = "QUE"\nname = "Load ICS"\ntrusts = [{trusts}]\n'
        )
        self.port = free_port()
        self.metrics_port = free_port()
        (self.dir / "config.toml").write_text(
            f'listen = "127.0.0.1:{self.port}"\n'
            f'metrics_listen = "127.0.0.1:{self.metrics_port}"\n'
            "[server]\n"
            f'request_timeout = "{self.args.request_timeout}s"\n'
            "[dev_issuer]\n"
            "enabled = true\n"
            f'listen = "127.0.0.1:{free_port()}"\n'
        )
        log = open(self.dir / "server.log", "w")
        self.server = subprocess.Popen(
            [
                self.args.concordat,
                "serve",
                "--config",
                str(self.dir / "config.toml"),
                "--data-dir",
                str(self.dir),
                "--federation",
                str(self.dir / "federation.toml"),
                "--database-url",
                self.database(),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        try:
            grpc.channel_ready_future(self.channel).result(timeout=60)
        except grpc.FutureTimeoutError:
            raise Failed(f"the server did not start: {(self.dir / 'server.log').read_text()}")
        self.platform = pf_grpc.PlatformServiceStub(self.channel)
        self.changes = cc_grpc.ChangeControlServiceStub(self.channel)
        self.config = sc_grpc.SharedConfigServiceStub(self.channel)

    def stop(self) -> None:
        if self.server:
            self.server.terminate()
            self.server.wait(timeout=30)

    def token(self, subject: str, trust: str, role: str) -> str:
        cmd = [self.args.concordat, "dev", "token", "--data-dir", str(self.dir)]
        cmd += ["--trust", trust, "--role", role, "--subject", subject]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        check(done.returncode == 0, f"{' '.join(cmd)}: {done.stderr.strip()}")
        token = done.stdout.strip().splitlines()[-1]
        self.tokens[subject] = token
        return token

    def md(self, subject: str):
        return (("authorization", f"Bearer {self.tokens[subject]}"),)

    # Seeding, through the API.

    def design_authority(self, domains: list[str]):
        """Mints the run's tokens, and creates a design authority deciding `domains` with a
        standard template: both, for approved standard change requests."""
        for subject, trust, role in [
            ("admin", self.trusts[0], "ics-admin"),
            ("chair", self.trusts[0], "da-chair"),
            ("lead", self.trusts[0], "trust-digital-lead"),
            ("engine", self.trusts[1 % len(self.trusts)], "automation"),
        ]:
            self.token(subject, trust, role)
        issuer = self.platform.WhoAmI(pf.WhoAmIRequest(), metadata=self.md("admin")).principal.issuer
        person = lambda s: pfr.Person(issuer=issuer, subject=s)  # noqa: E731
        da = self.changes.CreateDesignAuthority(
            cc.CreateDesignAuthorityRequest(
                parent=PARENT,
                design_authority_id="clinical",
                design_authority=ccr.DesignAuthority(
                    display_name="Clinical",
                    domains=domains,
                    members=[
                        ccr.Membership(trust=t, voting_members=[person(f"voter-{t.lower()}")])
                        for t in self.trusts
                    ],
                    chair=person("chair"),
                    charter=ccr.Charter(
                        quorum_percent=75,
                        rules=[
                            ccr.ClassRule(
                                change_class=c,
                                threshold=ccr.THRESHOLD_SIMPLE_MAJORITY,
                                cso_sign_off_required=c == ccr.CHANGE_CLASS_SAFETY_CRITICAL,
                            )
                            for c in (
                                ccr.CHANGE_CLASS_ROUTINE,
                                ccr.CHANGE_CLASS_SIGNIFICANT,
                                ccr.CHANGE_CLASS_SAFETY_CRITICAL,
                            )
                        ],
                        silence=ccr.SILENCE_POLICY_ABSTAIN,
                        board_risk_threshold=3,
                        board_cost_threshold_pence=5_000_000,
                        max_residual_risk=3,
                        assessment_days=14,
                        voting_days=7,
                        emergency_review_days=10,
                    ),
                ),
            ),
            metadata=self.md("admin"),
        ).design_authority
        template = self.changes.CreateStandardTemplate(
            cc.CreateStandardTemplateRequest(
                parent=PARENT,
                standard_template_id="bulk",
                standard_template=ccr.StandardTemplate(
                    display_name="Bulk", description="Bulk", design_authority=da.name
                ),
            ),
            metadata=self.md("chair"),
        ).standard_template
        return da, template

    def approved_change_request(self, da, template, domain: str) -> str:
        """A standard change request of `domain` affecting every trust: approved on submission."""
        cr = self.changes.CreateChangeRequest(
            cc.CreateChangeRequestRequest(
                parent=PARENT,
                change_request=ccr.ChangeRequest(
                    title=f"Build: {domain}",
                    description="The ICS build",
                    domain=domain,
                    design_authority=da.name,
                    affected_trusts=self.trusts,
                    change_type=ccr.CHANGE_TYPE_STANDARD,
                    change_class=ccr.CHANGE_CLASS_ROUTINE,
                    standard_template=template.name,
                ),
            ),
            metadata=self.md("lead"),
        ).change_request
        self.changes.SubmitChangeRequest(
            cc.SubmitChangeRequestRequest(name=cr.name), metadata=self.md("lead")
        )
        return cr.name

    def approve_change(self) -> str:
        da, template = self.design_authority(["medicines"])
        cr_name = self.approved_change_request(da, template, "medicines")
        schema = struct_pb2.Struct()
        json_format.ParseDict({"type": "object"}, schema)
        for kind in KINDS:
            self.config.CreateConfigKind(
                sc.CreateConfigKindRequest(
                    parent=PARENT,
                    config_kind_id=kind,
                    config_kind=scr.ConfigKind(domain="medicines", schema=schema),
                ),
                metadata=self.md("admin"),
            )
        return cr_name

    def publish(self, layer: str, changes: list) -> tuple[float, float]:
        """Creates and publishes a changeset: the two calls' times."""
        started = time.perf_counter()
        cs = self.config.CreateChangeset(
            sc.CreateChangesetRequest(
                parent=PARENT,
                changeset=scr.Changeset(
                    layer=f"{PARENT}/layers/{layer}", change_request=self.cr, changes=changes
                ),
            ),
            metadata=self.md("admin"),
        ).changeset
        created = time.perf_counter()
        self.config.PublishChangeset(
            sc.PublishChangesetRequest(name=cs.name), metadata=self.md("admin")
        )
        return created - started, time.perf_counter() - created

    def seed(self) -> None:
        a = self.args
        self.cr = self.approve_change()
        self.next_item = a.items
        create = publish = 0.0
        for start in range(0, a.items, a.changeset_items):
            chunk = range(start, min(a.items, start + a.changeset_items))
            c, p = self.publish("baseline", [add(i, baseline_value(i)) for i in chunk])
            create, publish = create + c, publish + p
        self.seed_baseline = (create, publish)
        started = time.perf_counter()
        for t, trust in enumerate(self.trusts):
            changes = [
                add(i, {"enabled": True, "threshold": 99})
                for i in overridden(t, a.items, a.overrides)
            ]
            self.publish(trust, changes)
        self.seed_overlays = time.perf_counter() - started
        self.bulk = self.bulk_insert()

    def bulk_insert(self) -> float:
        """The seed's physical limit: the baseline's rows inserted in one transaction into a
        scratch table shaped like the items' table, with its primary key."""
        rows = []
        for i in range(self.args.items):
            kind, k = key(i)
            value = json.dumps(baseline_value(i), separators=(",", ":"), sort_keys=True)
            rows.append(("QUE", "bulk", kind, k, 1, value, '"overridable"', "", "", False, "cr"))
        columns = (
            "ics, layer, kind, item_key, from_revision, value, governance, owner, description, "
            "suppress, change_request"
        )
        ddl = (
            "CREATE TABLE load_bulk (ics TEXT NOT NULL, layer TEXT NOT NULL, kind TEXT NOT NULL, "
            "item_key TEXT NOT NULL, from_revision BIGINT NOT NULL, to_revision BIGINT, "
            "value TEXT NOT NULL, governance TEXT NOT NULL, owner TEXT NOT NULL, "
            "description TEXT NOT NULL, suppress BOOLEAN NOT NULL, change_request TEXT NOT NULL, "
            "PRIMARY KEY (ics, layer, kind, item_key, from_revision))"
        )
        if not self.args.postgres:
            conn = sqlite3.connect(self.sqlite_file, timeout=30)
            conn.execute(ddl)
            started = time.perf_counter()
            with conn:
                conn.executemany(
                    f"INSERT INTO load_bulk ({columns}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows
                )
            took = time.perf_counter() - started
            conn.execute("DROP TABLE load_bulk")
            conn.close()
            return took
        import psycopg

        with psycopg.connect(self.pg_url) as conn:
            conn.execute(ddl)
            conn.commit()
            started = time.perf_counter()
            with conn.cursor() as cur:
                with cur.copy(f"COPY load_bulk ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            conn.commit()
            took = time.perf_counter() - started
            conn.execute("DROP TABLE load_bulk")
            conn.commit()
            return took

    # Reads.

    def row_read(self, trust: str) -> int:
        sql = (
            "SELECT kind, item_key, value FROM sc_items WHERE ics = 'QUE' "
            f"AND layer IN ('baseline', '{trust}') AND to_revision IS NULL"
        )
        if not hasattr(self, "reading"):
            # One connection, opened once, as the server holds its pool.
            if not self.args.postgres:
                self.reading = sqlite3.connect(self.sqlite_file, timeout=30)
            else:
                import psycopg

                self.reading = psycopg.connect(self.pg_url, autocommit=True)
        return len(self.reading.execute(sql).fetchall())

    def read_all(self, trust: str, subject: str = "engine") -> int:
        """Every page of `trust`'s effective configuration; checks they agree."""
        token, items, heads = "", 0, set()
        while True:
            page = self.config.GetEffectiveConfig(
                sc.GetEffectiveConfigRequest(
                    parent=PARENT, trust=trust, page_size=10_000, page_token=token
                ),
                metadata=self.md(subject),
            )
            e = page.effective_config
            heads.add((e.revision, e.content_hash))
            items += len(e.items)
            if not page.next_page_token:
                check(len(heads) == 1, f"{trust}: pages of different revisions: {heads}")
                return items
            token = page.next_page_token

    def export_all(self, trust: str) -> int:
        token, items, hashes = "", 0, set()
        while True:
            page = self.config.ExportConfig(
                sc.ExportConfigRequest(
                    name=f"{PARENT}/trusts/{trust}/effectiveConfig",
                    page_size=20_000,
                    page_token=token,
                ),
                metadata=self.md("engine"),
            )
            hashes.add(page.content_hash)
            # Parsed as a client would, to count its items.
            items += len(json.loads(page.bundle_json)["items"])
            if not page.next_page_token:
                check(len(hashes) == 1, f"export of {trust}: pages of different hashes: {hashes}")
                return items
            token = page.next_page_token

    def effective_revision(self, trust: str) -> int:
        return self.config.GetEffectiveConfig(
            sc.GetEffectiveConfigRequest(parent=PARENT, trust=trust, page_size=1),
            metadata=self.md("engine"),
        ).effective_config.revision

    def measure(self) -> list[tuple[str, float, str]]:
        a, reader = self.args, self.trusts[1 % len(self.trusts)]
        rows = a.items + a.overrides
        check(self.row_read(reader) == rows, f"row read: {self.row_read(reader)} rows, not {rows}")
        started = time.perf_counter()
        check(self.read_all(reader) == a.items, "GetEffectiveConfig: item count")
        cold = time.perf_counter() - started
        exported = self.export_all(reader)
        check(exported == a.items, f"ExportConfig: {exported} items, not {a.items}")
        out = []
        row = median_of(a.repeat, lambda: self.row_read(reader))
        out.append((f"row read: baseline + {reader} overlay rows (plain SQL, {rows} rows)", row, "1"))
        ratio = lambda t: f"{t / row:.1f}×"  # noqa: E731
        out.append(("GetEffectiveConfig, first read after seeding (baseline read whole), every page, once", cold, ratio(cold)))
        # The first read put the baseline in the server's cache of baselines; every trust's reads
        # then fetch only their overlay's rows. The median over the other trusts, each read
        # once, is a first read of a revision; the median of reads again, the second.
        unread = [t for t in self.trusts if t != reader][: a.repeat]
        firsts = []
        for trust in unread:
            started = time.perf_counter()
            check(self.read_all(trust) == a.items, f"GetEffectiveConfig of {trust}: item count")
            firsts.append(time.perf_counter() - started)
        t = statistics.median(firsts)
        out.append(
            (
                f"GetEffectiveConfig, first read of a revision, every page "
                f"(median of {len(firsts)} trust{'' if len(firsts) == 1 else 's'})",
                t,
                ratio(t),
            )
        )
        t = median_of(a.repeat, lambda: self.read_all(reader))
        out.append(("GetEffectiveConfig, the same revision again, every page (4 MiB client limit)", t, ratio(t)))
        t = median_of(a.repeat, lambda: self.export_all(reader))
        out.append(("ExportConfig, every page", t, ratio(t)))

        def one(layer: str) -> None:
            self.next_item += 1
            self.publish(layer, [add(self.next_item, {"enabled": False})])

        t = median_of(a.repeat, lambda: one("baseline"))
        out.append((f"publish one baseline item ({len(self.trusts)} effective revisions)", t, ""))
        after_publish = []
        for _ in range(a.repeat):
            one("baseline")
            started = time.perf_counter()
            # Each baseline publish so far added one item.
            check(self.read_all(reader) == self.next_item, "GetEffectiveConfig after a publish: item count")
            after_publish.append(time.perf_counter() - started)
        t = statistics.median(after_publish)
        out.append(("GetEffectiveConfig, first read after a one-item baseline publish, every page", t, ratio(t)))
        t = median_of(a.repeat, lambda: one(reader))
        out.append((f"publish one {reader} overlay item", t, ""))
        newest = self.effective_revision(reader)

        def adjacent() -> None:
            diff = self.config.DiffEffectiveConfig(
                sc.DiffEffectiveConfigRequest(
                    parent=PARENT, trust=reader, from_revision=newest - 1, to_revision=newest
                ),
                metadata=self.md("engine"),
            )
            check(len(diff.changes) == 1, f"adjacent diff: {len(diff.changes)} changes")

        t = median_of(a.repeat, adjacent)
        out.append(("DiffEffectiveConfig, adjacent revisions (1 change)", t, ""))

        readers = self.trusts[: a.readers]
        for trust in readers:
            self.token(f"engine-{trust.lower()}", trust, "automation")
        expected = [self.read_all(t, f"engine-{t.lower()}") for t in readers]
        one_read = median_of(a.repeat, lambda: self.read_all(readers[0], f"engine-{readers[0].lower()}"))
        with concurrent.futures.ThreadPoolExecutor(len(readers)) as pool:

            def together() -> None:
                counts = list(
                    pool.map(lambda t: self.read_all(t, f"engine-{t.lower()}"), readers)
                )
                check(counts == expected, f"concurrent reads: {counts}, not {expected}")

            t = median_of(a.repeat, together)
        out.append(
            (f"{len(readers)} concurrent GetEffectiveConfig, one trust each", t, f"{t / one_read:.1f}× one read")
        )
        create, publish = self.seed_baseline
        out.append(
            (f"seed: {a.items}-item baseline, CreateChangeset", create, f"{create / self.bulk:.1f}× bulk")
        )
        out.append((f"seed: {a.items}-item baseline, PublishChangeset", publish, f"{publish / self.bulk:.1f}× bulk"))
        out.append(("seed: bulk insert of the same rows (one transaction)", self.bulk, "1"))
        out.append((f"seed: {len(self.trusts)} overlays of {a.overrides} overrides", self.seed_overlays, ""))
        self.memory = self.server_memory()
        return out

    def server_memory(self) -> str:
        """The server's memory now (Linux): its heap (anonymous resident pages) and all it holds
        resident, which also counts the database file's pages SQLite maps; and the peak of that."""
        try:
            status = Path(f"/proc/{self.server.pid}/status").read_text()
        except OSError:
            return "unknown"
        kib = {
            line.split(":")[0]: int(line.split()[1])
            for line in status.splitlines()
            if line.startswith(("VmRSS:", "VmHWM:", "RssAnon:"))
        }
        return (
            f"heap {kib['RssAnon'] // 1024} MiB; resident in all {kib['VmRSS'] // 1024} MiB "
            f"(peak {kib['VmHWM'] // 1024} MiB); {self.cache_held()}"
        )

    def cache_held(self) -> str:
        """What the server's cache of baselines holds, from its `/metrics`."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        held = {
            line.split("{")[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("concordat_read_cache_") and 'cache="shared-config baselines"' in line
        }
        held_bytes = held.get("concordat_read_cache_bytes", 0)
        revisions = held.get("concordat_read_cache_entries", 0)
        per_item = held_bytes / max(1, revisions) / max(1, self.next_item)
        return (
            f"cache of baselines {held_bytes / (1 << 20):.1f} MiB as it counts them, "
            f"{revisions:.0f} revisions of about {per_item:.0f} bytes per item"
        )


def arguments(description: str, items: int, overrides: int) -> argparse.ArgumentParser:
    """The options every load script takes: the binary, the backend and the ICS's size."""
    p = argparse.ArgumentParser(description=description.split("\n\n")[0])
    p.add_argument("--concordat", required=True, help="the concordat binary (a release build)")
    p.add_argument("--postgres", default="", help="a PostgreSQL server URL; default SQLite")
    p.add_argument("--items", type=int, default=items)
    p.add_argument("--trusts", type=int, default=10, choices=range(2, len(TRUSTS) + 1))
    p.add_argument("--overrides", type=int, default=overrides)
    p.add_argument("--changeset-items", type=int, default=20_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--request-timeout", type=int, default=300, help="seconds")
    return p


def execute(run: "Run"):
    """Starts, seeds and measures `run`, stopping its server whatever happens: the measurements,
    or None once the failure is printed."""
    try:
        run.start()
        started = time.perf_counter()
        run.seed()
        print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)
        return run.measure()
    except Failed as e:
        print(f"FAILED: {e}", file=sys.stderr)
    except grpc.RpcError as e:
        print(f"FAILED: {e.code().name}: {e.details()}", file=sys.stderr)
    finally:
        run.stop()
    return None


def main(argv: list[str]) -> int:
    p = arguments(__doc__, items=50_000, overrides=2_000)
    p.add_argument("--readers", type=int, default=4)
    args = p.parse_args(argv)
    if args.overrides > args.items:
        p.error("--overrides must not exceed --items")
    args.readers = max(1, min(args.readers, args.trusts))
    run = Run(args)
    results = execute(run)
    if results is None:
        return 1
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"\n{backend}, {args.items} items × {len(run.trusts)} trusts, {args.overrides} overrides "
        f"each; medians of {args.repeat}\n"
    )
    print(f"server memory at the end: {run.memory}\n")
    print("| operation | time | ratio |\n| --- | --- | --- |")
    for what, seconds, ratio in results:
        shown = f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.2f} s"
        print(f"| {what} | {shown} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
