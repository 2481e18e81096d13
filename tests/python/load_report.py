#!/usr/bin/env python3
"""Load run of the board report at scale: `concordat report board` against a seeded ICS.

Seeds, through the API only, an ICS as load_convergence.py does (`--trusts` trusts, 12 clinical
domains, a design authority deciding them, one approved standard change request per domain, a
baseline of `--items` items, `--overrides` approved variations per trust of which every tenth
lapses within 120 days), then:

- `--snapshots` snapshots of each trust's build, each closer to the baseline than the one
  before, each assessed by the service's follower (a trajectory of that many points per trust);
- a convergence plan with a milestone per trust and domain, each domain's trusts in a chain;
- a rate card and `--benefits` benefit profiles (cash-releasing and non-cash-releasing in turn,
  each enabled by its domain's change request, owned by every trust, with a monthly target), and
  every trust's twelve months of 2025/26 for every benefit submitted by the trust's benefits
  analyst, validated by its digital lead and accepted by the ICS; each trust's year attributed
  wholly to the enabling change request.

Then runs `concordat report board --fy 2025/26` as a process, `--repeat` times for the PDF and for
the HTML (medians: wall time, the command's own split into gathering and rendering, and the
largest resident memory), beside two floors measured in the same run: `concordat whoami` (a
process and one call) and a plain SQL read of the rows the report stands on (change requests,
assessments, approved variations, benefit profiles, the year's measurements, the audit chain)
from the same database. Checks: the renders of one format are byte-identical; the PDF's text
holds the first benefit's ICS total and the change requests' numbers. Prints one table; exits 1
on the first failed check or call. Needs the stubs and packages of tests/python/setup.sh, and
pdftotext (poppler-utils) for the text check:

    tests/python/.venv/bin/python tests/python/load_report.py \\
        --concordat target/release/concordat --trusts 10 --benefits 100
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import zlib


import load_convergence as lc
import load_shared_config as base
from load_shared_config import PARENT, check

from concordat.benefits.v1 import benefits_service_pb2 as bn  # noqa: E402
from concordat.benefits.v1 import benefits_service_pb2_grpc as bn_grpc  # noqa: E402
from concordat.benefits.v1 import resources_pb2 as bnr  # noqa: E402
from concordat.convergence.v1 import convergence_service_pb2 as cv  # noqa: E402
from concordat.convergence.v1 import resources_pb2 as cvr  # noqa: E402
from concordat.platform.v1 import resources_pb2 as pfr  # noqa: E402
from concordat.sharedconfig.v1 import resources_pb2 as scr  # noqa: E402

MONTHS = [f"2025-{m:02d}" for m in range(4, 13)] + [f"2026-{m:02d}" for m in range(1, 4)]
BATCH = 120  # the most cells ValidateMeasurements and AcceptMeasurements take at once


def level(b: int) -> int:
    """Benefit `b`'s monthly count at one trust before any trend."""
    return 10 + (b * 7) % 40


def count(b: int, t: int, m: int) -> int:
    """Trust `t`'s count of benefit `b` in month `m` (0 = April): the level, a trend of -1, 0 or
    +1 a month, and noise; the same every run."""
    noise = random.Random(b * 100_003 + t * 101 + m).randint(-3, 3)
    return max(0, level(b) + (b % 3 - 1) * m + noise)


def monthly_target(b: int, trusts: int) -> int:
    """The ICS's monthly target of benefit `b`: below, at or above what the trusts deliver."""
    return trusts * (level(b) + (b % 4 - 1) * 4)


class ReportRun(lc.ConvergenceRun):
    def start(self) -> None:
        super().start()
        self.benefits = bn_grpc.BenefitsServiceStub(self.channel)
        self.today = dt.datetime.now(dt.timezone.utc)

    def variation(self, layer: str, i: int) -> scr.Variation | None:
        """Every tenth variation lapses within 120 days of the run (some inside the report's 90)."""
        spread = zlib.crc32(f"{layer}/{i}".encode())
        if layer == "baseline" or spread % 10:
            return None
        v = scr.Variation(rationale="Local practice, reviewed yearly")
        v.expire_time.FromDatetime(self.today + dt.timedelta(days=1 + spread // 10 % 120))
        return v

    def ics_token(self, subject: str, role: str) -> str:
        cmd = [self.args.concordat, "dev", "token", "--config", str(self.dir / "config.toml")]
        cmd += ["--data-dir", str(self.dir), "--ics", "QUE", "--role", role, "--subject", subject]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        check(done.returncode == 0, f"{' '.join(cmd)}: {done.stderr.strip()}")
        self.tokens[subject] = done.stdout.strip().splitlines()[-1]
        return self.tokens[subject]

    def person(self, subject: str) -> pfr.Person:
        return pfr.Person(issuer=self.issuer, subject=subject)

    # Seeding, through the API.

    def seed(self) -> None:
        super().seed()
        self.issuer = self.platform.WhoAmI(
            base.pf.WhoAmIRequest(), metadata=self.md("admin")
        ).principal.issuer
        started = time.perf_counter()
        self.later_snapshots()
        self.plan()
        print(f"snapshots and plan in {time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        self.seed_benefits()
        print(f"benefits in {time.perf_counter() - started:.1f} s", flush=True)

    def later_snapshots(self) -> None:
        """Snapshots 2.. of each trust: snapshot k keeps one in k+1 of the first one's changed
        values (the rest back to the baseline's); the follower assesses each."""
        watch = self.convergence.WatchConvergence(
            cv.WatchConvergenceRequest(parent=PARENT, cursor=0), metadata=self.md("admin")
        )
        waiting: set[str] = set()
        for k in range(1, self.args.snapshots):
            for t, trust in enumerate(self.trusts):
                items = self.snapshot_items(t)
                for item in items:
                    i = int(item["key"].split("-")[-1]) if item["key"].startswith("item-") else -1
                    if item["value"] == {"enabled": False} and (i // 50) % (k + 1):
                        item["value"] = base.baseline_value(i)
                waiting.add(self.import_snapshot(trust, items))
        for event in watch:
            if event.kind == "assessment.recorded":
                waiting.discard(event.assessment.snapshot)
                if not waiting:
                    break
        watch.cancel()

    def plan(self) -> None:
        """A plan with a milestone per trust and domain; each domain's trusts one after another."""
        plan = cvr.ConvergencePlan(display_name="ICS convergence", seed=42)
        plan.start_time.FromDatetime(self.today)
        plan.target_time.FromDatetime(self.today + dt.timedelta(days=365))
        for d, domain in enumerate(lc.DOMAINS):
            for t, trust in enumerate(self.trusts):
                plan.milestones.add(
                    id=f"{trust.lower()}-{domain}", trust=trust, domain=domain,
                    target_convergence=1.0, optimistic_days=5 + t, most_likely_days=10 + t + d,
                    pessimistic_days=30 + 2 * t + d,
                )
                if t:
                    plan.dependencies.add(
                        predecessor=f"{self.trusts[t - 1].lower()}-{domain}",
                        successor=f"{trust.lower()}-{domain}",
                        kind=cvr.DEPENDENCY_KIND_FINISH_TO_START,
                    )
        self.convergence.CreateConvergencePlan(
            cv.CreateConvergencePlanRequest(parent=PARENT, plan_id="ics", plan=plan),
            metadata=self.md("admin"),
        )

    def seed_benefits(self) -> None:
        a = self.args
        self.ics_token("ics-analyst", "benefits-analyst")
        for trust in self.trusts:
            self.token(f"analyst-{trust}", trust, "benefits-analyst")
            self.token(f"lead-{trust}", trust, "trust-digital-lead")
        card = self.benefits.CreateRateCard(
            bn.CreateRateCardRequest(
                parent=PARENT,
                rate_card_id="standard",
                rate_card=bnr.RateCard(
                    title="ICS rate card",
                    unit_values=[
                        bnr.UnitValue(unit="bed day", pounds="400.00", effective_from="2025-04-01"),
                        bnr.UnitValue(unit="staff hour", pounds="35.50", effective_from="2025-04-01"),
                    ],
                ),
            ),
            metadata=self.md("ics-analyst"),
        ).rate_card
        self.benefit_names = []
        for b in range(a.benefits):
            cash = b % 2 == 0
            domain = lc.DOMAINS[b % len(lc.DOMAINS)]
            made = self.benefits.CreateBenefit(
                bn.CreateBenefitRequest(
                    parent=PARENT,
                    benefit_id=f"benefit-{b:03d}",
                    benefit=bnr.Benefit(
                        title=f"{domain.capitalize()} benefit {b:03d}",
                        four_tests=bnr.FourTests(
                            precisely=f"Benefit {b} of the {domain} build",
                            observable_outcome="Counted monthly by each trust",
                            why_this_change="Enabled only by the change request",
                            how_measured="Monthly audit",
                        ),
                        owners=[
                            bnr.BenefitOwner(trust=t, owner=self.person(f"lead-{t}"))
                            for t in self.trusts
                        ],
                        senior_responsible_owner=self.person("ics-analyst"),
                        category=bnr.CATEGORY_CASH_RELEASING if cash else bnr.CATEGORY_NON_CASH_RELEASING,
                        dimension=bnr.DIMENSION_DIRECT,
                        measure=bnr.Measure(
                            unit="staff hour" if cash else "bed day",
                            higher_is_better=True,
                            aggregation=bnr.AGGREGATION_SUM,
                        ),
                        target=bnr.MeasureAt(
                            value=str(monthly_target(b, len(self.trusts))), month="2026-03"
                        ),
                        frequency=bnr.FREQUENCY_MONTHLY,
                        enabling_change_requests=[self.crs[domain]],
                        valuation=bnr.Valuation(rate_card=card.name, rate_card_version=1),
                    ),
                ),
                metadata=self.md("ics-analyst"),
            ).benefit
            self.benefit_names.append(made.name)

        def cell(b: int, trust: str, month: str) -> str:
            return f"{self.benefit_names[b]}/trusts/{trust}/measurements/{month}"

        def submit(job: tuple[int, int]) -> None:
            b, t = job
            trust = self.trusts[t]
            for m, month in enumerate(MONTHS):
                self.benefits.SubmitMeasurement(
                    bn.SubmitMeasurementRequest(
                        name=cell(b, trust, month),
                        value=str(count(b, t, m)),
                        evidence=bnr.Evidence(note="Monthly audit"),
                    ),
                    metadata=self.md(f"analyst-{trust}"),
                )
            self.benefits.SetAttribution(
                bn.SetAttributionRequest(
                    attribution=bnr.Attribution(
                        name=f"{self.benefit_names[b]}/trusts/{trust}/attributions/2025-26",
                        shares=[
                            bnr.Share(
                                change_request=self.crs[lc.DOMAINS[b % len(lc.DOMAINS)]],
                                percent="100",
                            )
                        ],
                    )
                ),
                metadata=self.md(f"lead-{trust}"),
            )

        def settle(job: tuple[int, list[str]]) -> None:
            t, names = job
            trust = self.trusts[t]
            done = self.benefits.ValidateMeasurements(
                bn.ValidateMeasurementsRequest(names=names), metadata=self.md(f"lead-{trust}")
            ).measurements
            check(len(done) == len(names), f"{trust}: validated {len(done)}")
            done = self.benefits.AcceptMeasurements(
                bn.AcceptMeasurementsRequest(names=names), metadata=self.md("ics-analyst")
            ).measurements
            check(
                all(m.state == bnr.MEASUREMENT_STATE_ICS_ACCEPTED for m in done),
                f"{trust}: every cell accepted",
            )

        with concurrent.futures.ThreadPoolExecutor(a.clients) as pool:
            jobs = [(b, t) for b in range(a.benefits) for t in range(len(self.trusts))]
            list(pool.map(submit, jobs))
            batches = []
            for t, trust in enumerate(self.trusts):
                names = [cell(b, trust, m) for b in range(a.benefits) for m in MONTHS]
                batches += [(t, names[i : i + BATCH]) for i in range(0, len(names), BATCH)]
            list(pool.map(settle, batches))

    # Measuring.

    def report(self, out: str) -> tuple[float, float, float, int]:
        """One `concordat report board`: wall seconds, gathering and rendering seconds as the
        command reports them, and its largest resident memory in KiB."""
        cmd = [self.args.concordat, "report", "board", "--fy", "2025/26"]
        cmd += ["--as-of", self.today.strftime("%Y-%m-%d"), "--out", out]
        cmd += ["--server", f"http://127.0.0.1:{self.port}", "--token-file", str(self.token_file)]
        with open(self.dir / "report.err", "w+") as err:
            started = time.perf_counter()
            child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
            _, status, usage = os.wait4(child.pid, 0)
            wall = time.perf_counter() - started
            child.returncode = os.waitstatus_to_exitcode(status)
            err.seek(0)
            said = err.read()
        check(child.returncode == 0, f"report board: {said.strip()}")
        written = next(line for line in said.splitlines() if " written (" in line)
        gathered = float(written.split("gathered in ")[1].split(" s")[0])
        rendered = float(written.split("rendered in ")[1].split(" s")[0])
        rss = usage.ru_maxrss  # KiB on Linux
        return wall, gathered, rendered, rss

    def whoami(self) -> None:
        cmd = [self.args.concordat, "whoami", "--server", f"http://127.0.0.1:{self.port}"]
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=60, check=False,
            env={"PATH": "/usr/bin:/bin", "CONCORDAT_TOKEN": self.tokens["board-chair"]},
        )
        check(done.returncode == 0, f"whoami: {done.stderr.strip()}")

    def rows_of_report(self) -> int:
        """The rows the report stands on, read with plain SQL."""
        year = ("2025-04", "2026-03")
        queries = [
            "SELECT * FROM cc_change_requests WHERE ics = 'QUE'",
            "SELECT * FROM cv_assessments WHERE ics = 'QUE'",
            "SELECT * FROM cv_divergences WHERE ics = 'QUE' AND class = 'VARIED_APPROVED' "
            "AND assessment IN (SELECT name FROM (SELECT a.id AS name, a.trust, "
            "ROW_NUMBER() OVER (PARTITION BY a.trust ORDER BY a.assess_time DESC) AS n "
            "FROM cv_assessments a WHERE a.ics = 'QUE') newest WHERE n = 1)",
            "SELECT * FROM bn_benefits WHERE ics = 'QUE'",
            f"SELECT * FROM bn_measurements WHERE ics = 'QUE' AND month >= '{year[0]}' "
            f"AND month <= '{year[1]}'",
            "SELECT * FROM audit_entries WHERE ics = 'QUE' ORDER BY sequence",
        ]
        return sum(len(self.reader().execute(q).fetchall()) for q in queries)

    def measure(self) -> list[tuple[str, str]]:
        a = self.args
        self.ics_token("board-chair", "board-chair")
        self.token_file = self.dir / "board-chair.token"
        self.token_file.write_text(self.tokens["board-chair"])
        results = []
        texts = {}
        for fmt in ("pdf", "html"):
            runs = [self.report(str(self.dir / f"board-{r}.{fmt}")) for r in range(a.repeat)]
            first = (self.dir / f"board-0.{fmt}").read_bytes()
            for r in range(1, a.repeat):
                check(
                    (self.dir / f"board-{r}.{fmt}").read_bytes() == first,
                    f"render {r} of the {fmt} differs from the first",
                )
            wall, gathered, rendered, rss = (statistics.median(x) for x in zip(*runs))
            texts[fmt] = first
            results.append(
                (
                    f"`report board --out board.{fmt}` ({len(first):,} bytes)",
                    f"{wall:.2f} s wall; gathered {gathered:.2f} s, rendered {rendered:.2f} s; "
                    f"max RSS {rss / 1024:.0f} MiB",
                )
            )
        if shutil.which("pdftotext"):
            text = subprocess.run(
                ["pdftotext", "-layout", str(self.dir / "board-0.pdf"), "-"],
                capture_output=True, text=True, check=True,
            ).stdout
            total = sum(count(0, t, m) for t in range(len(self.trusts)) for m in range(12))
            check(f"{total:,}" in text, f"the PDF should hold benefit 000's ICS total {total:,}")
            check("CR-" in text, "the PDF should name change requests")
            pages = subprocess.run(
                ["pdfinfo", str(self.dir / "board-0.pdf")], capture_output=True, text=True
            ).stdout
            results[0] = (results[0][0], results[0][1] + "; " + next(
                (line.split()[-1] + " pages" for line in pages.splitlines() if line.startswith("Pages:")),
                "",
            ))
        whoami = base.median_of(a.repeat, self.whoami)
        rows = self.rows_of_report()
        row_read = base.median_of(a.repeat, self.rows_of_report)
        results.append(("floor: `concordat whoami` (a process and one call)", f"{whoami:.3f} s"))
        results.append((f"floor: plain SQL read of the rows the report stands on ({rows:,} rows)", f"{row_read:.3f} s"))
        self.memory = self.server_memory()
        return results


def main(argv: list[str]) -> int:
    p = base.arguments(__doc__, items=12_000, overrides=200)
    p.add_argument("--snapshots", type=int, default=3, help="per trust")
    p.add_argument("--benefits", type=int, default=100)
    p.add_argument("--clients", type=int, default=4, help="concurrent calls while seeding")
    args = p.parse_args(argv)
    if args.overrides > args.items:
        p.error("--overrides must not exceed --items")
    run = ReportRun(args)
    results = base.execute(run)
    if results is None:
        return 1
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"\n{backend}: {len(run.trusts)} trusts × {len(lc.DOMAINS)} domains × {args.benefits} "
        f"benefits ({args.benefits * len(run.trusts) * 12:,} accepted cells), {args.items:,} "
        f"items, {args.overrides} variations and {args.snapshots} snapshots per trust; medians of "
        f"{args.repeat}\n"
    )
    print(f"server memory at the end: {run.memory}\n")
    print("| operation | measured |\n| --- | --- |")
    for what, figure in results:
        print(f"| {what} | {figure} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
