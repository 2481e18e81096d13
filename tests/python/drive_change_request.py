#!/usr/bin/env python3
"""Concordat's golden scenario, played through the gRPC API with the project's Python client.

The governance part: a Medicines design authority is created for the four trusts of an ICS; a
pharmacist at CUH (RGT) raises "Electronic allergy-related prescribing alerts" as a
safety-critical change; the chair starts impact assessment; the clinical safety officer logs and
signs off the hazard; each trust assesses; the design authority votes unanimously; the programme
board approves; the change is found APPROVED and its history is in the ICS's audit chain, which
verifies. The configuration part: an alert-rule kind is registered; the allergy alerts are
published to the baseline under the approved change request (every trust sees its diff first);
RGM keeps an approved local NEWS2 threshold; out-of-bounds values, another trust's overlay and an
unapproved change request are refused; the effective configurations of RGT and RGM differ exactly
there; an integration engine watches RGM's revisions and resumes; both revisions trace to the
change request and their publishers in the audit chain. The convergence part: the trusts'
snapshots are assessed, RGM's variation lapses a few seconds after it is given an expiry, a plan
gets its critical path and P85 date, and RGN's corrected build achieves its milestone. The
benefits part (golden_benefits.py): twelve months measured, validated, accepted and rolled up.

It is written with the `concordat-client` package (clients/python) as a user has it: setup.sh
builds its wheel and installs it into tests/python/.venv, and this script imports
`concordat_client` and the generated `concordat.*` modules from there. Each persona has its own
`Client` (its token) per address: every service at --target, or each target where --service puts
it. Unary calls go through `Client.call` (which sends the request id and idempotency key), lists
through `Client.pages`, watches through `Client.watch`; the expected refusals are checked on the
`ConcordatError`'s code, `reason`, `domain`, field and precondition violations.

Every response is checked. One line per step goes to stdout; on the first failure the gRPC code,
message and decoded google.rpc details go to stderr and the exit status is 1.

Tokens come from the server's development issuer (`concordat dev token`), so run this against a
`concordat serve` started without a federation file, with the same --data-dir; or, with
--sign-jwks and --issuer, they are signed with a federated issuer's key.

Run it with tests/python/.venv/bin/python after tests/python/setup.sh.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

from golden_benefits import Benefits

TRUSTS = ["RGT", "RGM", "RGN", "RT1"]

# subject -> (trust, role); trust None means ICS-level staff (`--ics`).
PERSONAS = {
    "ics-admin": (None, "ics-admin"),
    "chair-rgt": ("RGT", "da-chair"),
    **{f"voter-{t.lower()}": (t, "da-member") for t in TRUSTS},
    "pharmacist-rgt": ("RGT", "trust-digital-lead"),
    **{f"lead-{t.lower()}": (t, "trust-digital-lead") for t in TRUSTS},
    "cso-rgt": ("RGT", "clinical-safety-officer"),
    "board-chair": (None, "board-chair"),
    **{f"engineer-{t.lower()}": (t, "trust-engineer") for t in TRUSTS},
    "engine-rgm": ("RGM", "automation"),
    "engine-rgn": ("RGN", "automation"),
    "ics-analyst": (None, "benefits-analyst"),
    "analyst-rgt": ("RGT", "benefits-analyst"),
}

PLATFORM_DOMAIN = "platform.concordat"
CHANGECONTROL_DOMAIN = "changecontrol.concordat"
SHAREDCONFIG_DOMAIN = "sharedconfig.concordat"

ALERT_RULE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["enabled"],
    "properties": {
        "enabled": {"type": "boolean"},
        "interrupt": {"type": "boolean"},
        "threshold": {"type": "integer", "minimum": 0, "maximum": 20},
    },
    "additionalProperties": False,
}

TITLE = "Electronic allergy-related prescribing alerts"
DESCRIPTION = (
    "Turn on interruptive allergy alerts in electronic prescribing across the shared EPR build: "
    "prescribing a medicine to which the patient has a recorded allergy or sensitivity raises an "
    "interruptive alert that the prescriber must acknowledge, with a reason, before signing."
)
RATIONALE = (
    "At Cambridge University Hospitals electronic allergy-related prescribing alerts prevent at "
    "least 850 significant adverse drug reactions a year, saving 2,450 bed days (about £0.98m). "
    "Every trust of the ICS should have the same protection."
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Play the governance part of Concordat's golden scenario (design authority, change "
            "request, hazard, impact assessments, vote, board decision, audit) against a running "
            "server, checking every response. Exit status 0 when every step gave what it should, "
            "1 otherwise."
        ),
    )
    parser.add_argument(
        "--target", required=True, metavar="HOST:PORT", help="the server's gRPC address"
    )
    parser.add_argument(
        "--service",
        action="append",
        default=[],
        metavar="TARGET=HOST:PORT",
        help=(
            "where one target's services are, when the targets run apart (platform, "
            "change-control, shared-config, convergence, benefits); the others are at --target"
        ),
    )
    parser.add_argument(
        "--concordat",
        metavar="BIN",
        help="the concordat binary, used to mint development tokens (`BIN dev token`)",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="the server's data directory (holds the development issuer's key)",
    )
    parser.add_argument(
        "--sign-jwks",
        metavar="FILE",
        help=(
            "instead of development tokens: the private JWKS of a federated issuer whose `org` "
            "claim names the trust or ICS; each persona's token is signed with its first key "
            "(tests/oidc/sign.mjs)"
        ),
    )
    parser.add_argument("--issuer", metavar="URL", help="that issuer's URL (with --sign-jwks)")
    parser.add_argument(
        "--audience", default="concordat", help="the audience of signed tokens (default: %(default)s)"
    )
    parser.add_argument(
        "--ics", default="QUE", metavar="QUE", help="the ICS code (default: %(default)s)"
    )
    parser.add_argument(
        "--until",
        metavar="STEP",
        help="stop after this step (e.g. x4, the benefits rollup before June is reopened)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="deadline of each call (default: %(default)s)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long to wait for the server to accept a connection (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if not (args.concordat and args.data_dir) and not (args.sign_jwks and args.issuer):
        parser.error("give --concordat and --data-dir, or --sign-jwks and --issuer")
    targets = {"platform", "change-control", "shared-config", "convergence", "benefits"}
    args.services = {}
    for entry in args.service:
        name, _, address = entry.partition("=")
        if name not in targets or not address:
            parser.error(f"--service {entry}: expected TARGET=HOST:PORT, TARGET one of {sorted(targets)}")
        args.services[name] = address
    return args


class Stopped(Exception):
    """The step --until names is done: the scenario stops there, its data left as it is."""


class StepFailed(Exception):
    """A step did not give what it should; `error` is the call's `ConcordatError`, if any."""

    def __init__(self, message: str, error: object = None):
        super().__init__(message)
        self.error = error


def check(condition: bool, what: str) -> None:
    if not condition:
        raise StepFailed(what)


def check_eq(actual, expected, what: str) -> None:
    if actual != expected:
        raise StepFailed(f"{what}: expected {expected!r}, got {actual!r}")


# Each API package's service: the target that serves it and the `Client`'s stub of it.
SERVICES = {
    "concordat.platform.v1": ("platform", "platform"),
    "concordat.changecontrol.v1": ("change-control", "change_control"),
    "concordat.sharedconfig.v1": ("shared-config", "shared_config"),
    "concordat.convergence.v1": ("convergence", "convergence"),
    "concordat.benefits.v1": ("benefits", "benefits"),
}


class Api:
    """The client package and its generated modules, imported once arguments are parsed."""

    def __init__(self) -> None:
        import grpc
        from google.protobuf import json_format, struct_pb2, text_format

        from concordat.benefits.v1 import benefits_service_pb2 as bn
        from concordat.benefits.v1 import resources_pb2 as bnr
        from concordat.changecontrol.v1 import changecontrol_service_pb2 as cc
        from concordat.changecontrol.v1 import resources_pb2 as ccr
        from concordat.convergence.v1 import convergence_service_pb2 as cv
        from concordat.convergence.v1 import resources_pb2 as cvr
        from concordat.platform.v1 import platform_service_pb2 as pf
        from concordat.platform.v1 import resources_pb2 as pfr
        from concordat.sharedconfig.v1 import resources_pb2 as scr
        from concordat.sharedconfig.v1 import sharedconfig_service_pb2 as sc
        from concordat_client import Client, ConcordatError

        self.grpc = grpc
        self.Client, self.ConcordatError = Client, ConcordatError
        self.text_format = text_format
        self.bn, self.bnr = bn, bnr
        self.cc, self.ccr = cc, ccr
        self.cv, self.cvr = cv, cvr
        self.pf, self.pfr = pf, pfr
        self.sc, self.scr = sc, scr
        self.json_format, self.struct_pb2 = json_format, struct_pb2


def load_api() -> Api | None:
    try:
        return Api()
    except ImportError as e:
        print(
            f"error: {e}\n"
            "Prepare the client first: tests/python/setup.sh (it installs the concordat-client "
            "wheel), then run this script with tests/python/.venv/bin/python.",
            file=sys.stderr,
        )
        return None


def describe(error) -> list[str]:
    """The gRPC code, message and google.rpc details of a `ConcordatError`, one per line."""
    lines = [f"gRPC code: {error.code.name}", f"message: {error.message}"]
    if error.reason or error.domain:
        meta = f" metadata={error.metadata}" if error.metadata else ""
        lines.append(f"ErrorInfo: reason={error.reason} domain={error.domain}{meta}")
    if error.field_violations:
        lines.append(
            "BadRequest: "
            + "; ".join(f"{v.field}: {v.description}" for v in error.field_violations)
        )
    if error.precondition_violations:
        lines.append(
            "PreconditionFailure: "
            + "; ".join(
                f"[{v.type}] {v.subject}: {v.description}" for v in error.precondition_violations
            )
        )
    if error.retry_after is not None:
        lines.append(f"RetryInfo: retry after {error.retry_after:g}s")
    detailed = len(lines) > 2
    if error.code.name == "UNIMPLEMENTED" and not detailed:
        lines.append("(the server does not serve this method: is its target in `serve --target`?)")
    elif not detailed:
        lines.append("(no google.rpc.Status details)")
    if error.request_id:
        lines.append(f"request id: {error.request_id}")
    return lines


def mint_token(binary: str, data_dir: str, ics: str, subject: str, trust, role: str) -> str:
    org = ["--trust", trust] if trust else ["--ics", ics]
    cmd = [binary, "dev", "token", "--data-dir", data_dir, *org, "--role", role]
    cmd += ["--subject", subject]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as e:
        raise StepFailed(f"cannot run {' '.join(cmd)}: {e}") from None
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        raise StepFailed(
            f"{' '.join(cmd)} exited with {done.returncode}: "
            f"{done.stderr.strip() or done.stdout.strip() or 'no output'}"
        )
    token = lines[-1]
    check(token.count(".") == 2, f"{' '.join(cmd)}: last line of stdout is not a JWT: {token!r}")
    return token


def sign_token(args: argparse.Namespace, subject: str, org: str, role: str) -> str:
    """A token for `subject` of `org` with `role`, signed with the federated issuer's key."""
    now = int(time.time())
    claims = {
        "iss": args.issuer, "sub": subject, "aud": args.audience, "iat": now,
        "exp": now + 3600, "org": org, "roles": [role],
    }
    sign = Path(__file__).resolve().parents[1] / "oidc" / "sign.mjs"
    cmd = ["node", str(sign), "--jwks", args.sign_jwks, "--claims", json.dumps(claims)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as e:
        raise StepFailed(f"cannot run sign.mjs: {e}") from None
    token = done.stdout.strip()
    if done.returncode != 0 or token.count(".") != 2:
        raise StepFailed(f"sign.mjs exited with {done.returncode}: {done.stderr.strip()}")
    return token


def near_days_from_now(ts, days: int) -> bool:
    """Whether a Timestamp lies `days` days from now, give or take one day."""
    when = ts.ToDatetime(tzinfo=dt.timezone.utc)
    now = dt.datetime.now(dt.timezone.utc)
    return abs(when - (now + dt.timedelta(days=days))) <= dt.timedelta(days=1)


class Convergence:
    """The convergence part of the golden scenario, driven after the configuration part."""

    def converge(self, cr) -> None:
        api = self.api
        sc, scr, cv, cvr = api.sc, api.scr, api.cv, api.cvr

        # RGM's variation gets its terms, lapsing in a few seconds.
        self.begin("r")
        expiry = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=4)
        change = self.item_change(
            scr.OPERATION_MODIFY, "sepsis-news2", {"enabled": True, "threshold": 6}
        )
        change.item.variation.rationale = "Paediatric sepsis pathway"
        change.item.variation.expire_time.FromDatetime(expiry)
        cs = self.call(
            "CreateChangeset",
            "engineer-rgm",
            sc.CreateChangesetRequest(
                parent=self.parent, changeset=self.changeset("RGM", cr.name, [change])
            ),
        ).changeset
        self.call(
            "PublishChangeset",
            "engineer-rgm",
            sc.PublishChangesetRequest(name=cs.name),
        )
        self.ok("PublishChangeset as engineer-rgm: RGM's variation lapses in 4 s")

        # Opened at the first read: cursor 0 replays every retained event, in order.
        watch = self.watch(
            "WatchConvergence",
            "ics-admin",
            cv.WatchConvergenceRequest(parent=self.parent, cursor=0),
            timeout=60,
        )

        def recorded(trust: str):
            for event in watch:
                if event.kind == "assessment.recorded" and event.assessment.trust == trust:
                    return event.assessment
            raise StepFailed(f"no assessment of {trust} recorded")

        def counts(a, domain: str) -> dict:
            cell = next(d for d in a.domains if d.domain == domain)
            return {cvr.KeyClass.Name(getattr(c, "class")): c.count for c in cell.counts}

        def snapshot(trust: str, items: list) -> None:
            self.call(
                "ImportSnapshot",
                f"engine-{trust.lower()}",
                sc.ImportSnapshotRequest(
                    parent=self.parent,
                    snapshot=scr.Snapshot(trust=trust, display_name="Production build"),
                    bundle_json=json.dumps({"items": items}),
                ),
            )

        allergy = {"kind": "alert-rule", "key": "allergy-interruptive",
                   "value": {"enabled": True, "interrupt": True}}

        def sepsis(threshold: int) -> dict:
            return {"kind": "alert-rule", "key": "sepsis-news2",
                    "value": {"enabled": True, "threshold": threshold}}

        self.begin("s")
        snapshot("RGN", [sepsis(8)])
        rgn = recorded("RGN")
        check_eq(
            counts(rgn, "medicines"),
            {"KEY_CLASS_DIVERGENT": 1, "KEY_CLASS_MISSING": 1},
            "RGN's first assessment",
        )
        self.ok("ImportSnapshot as engine-rgn: assessed DIVERGENT at sepsis-news2, MISSING the allergy alert")

        self.begin("t")
        snapshot("RGM", [allergy, sepsis(6)])
        rgm = recorded("RGM")
        check_eq(counts(rgm, "medicines").get("KEY_CLASS_VARIED_APPROVED"), 1, "RGM before the expiry")
        matrix = self.call(
            "GetConvergenceMatrix", "ics-admin", cv.GetConvergenceMatrixRequest(parent=self.parent),
        )
        check_eq(sorted({c.trust for c in matrix.cells}), ["RGM", "RGN"], "the matrix's trusts")
        self.ok("GetConvergenceMatrix: RGN divergent, RGM's variation VARIED_APPROVED")

        self.begin("u")
        lapsed = recorded("RGM")
        check_eq(counts(lapsed, "medicines").get("KEY_CLASS_VARIED_EXPIRED"), 1, "RGM after the expiry")
        self.ok("the variation lapsed: RGM assessed again, VARIED_EXPIRED")

        self.begin("v")
        start = dt.datetime.now(dt.timezone.utc)
        plan = cvr.ConvergencePlan(display_name="Medicines convergence", seed=42)
        plan.start_time.FromDatetime(start)
        for mid, trust, domain, days in [
            ("rgn-medicines", "RGN", "medicines", (10, 20, 40)),
            ("rgm-medicines", "RGM", "medicines", (5, 10, 20)),
            ("rgt-medicines", "RGT", "medicines", (2, 4, 8)),
        ]:
            plan.milestones.add(
                id=mid, trust=trust, domain=domain, target_convergence=1.0,
                optimistic_days=days[0], most_likely_days=days[1], pessimistic_days=days[2],
            )
        plan.dependencies.add(
            predecessor="rgn-medicines", successor="rgm-medicines",
            kind=cvr.DEPENDENCY_KIND_FINISH_TO_START,
        )
        created = self.call(
            "CreateConvergencePlan", "ics-admin",
            cv.CreateConvergencePlanRequest(parent=self.parent, plan_id=f"medicines-{secrets.token_hex(3)}", plan=plan),
        ).plan
        schedule = self.call(
            "ScheduleConvergencePlan", "ics-admin",
            cv.ScheduleConvergencePlanRequest(name=created.name),
        ).schedule
        check_eq(schedule.critical_path_summary, "RGN medicines → RGM medicines", "the critical path")
        forecast = self.call(
            "ForecastConvergencePlan", "ics-admin",
            cv.ForecastConvergencePlanRequest(name=created.name, iterations=2000),
        ).forecast
        p85 = forecast.p85_time.ToDatetime(tzinfo=dt.timezone.utc)
        check(start + dt.timedelta(days=15) <= p85 <= start + dt.timedelta(days=60), f"P85 {p85}")
        self.ok(f"ScheduleConvergencePlan: {schedule.critical_path_summary}; P85 {p85:%Y-%m-%d}")

        self.begin("w")
        snapshot("RGN", [allergy, sepsis(5)])
        corrected = recorded("RGN")
        check(corrected.scores.convergence > rgn.scores.convergence, "RGN's score should rise")
        achieved = self.call(
            "GetConvergencePlan", "ics-admin", cv.GetConvergencePlanRequest(name=created.name),
        ).plan.milestones[0]
        check_eq(achieved.achieved_by, corrected.name, "rgn-medicines: achieved by")
        watch.close()
        self.ok("ImportSnapshot as engine-rgn, corrected: converged, and its milestone achieved by that assessment")


class Driver(Convergence, Benefits):
    def __init__(self, api: Api, args: argparse.Namespace):
        self.api = api
        self.args = args
        self.parent = f"icss/{args.ics}"
        # One Client per persona and address, made when first used: (persona, address) -> Client.
        self.clients: dict = {}
        self.tokens: dict[str, str] = {}
        self.step = "setup"

    # -- plumbing ---------------------------------------------------------------------------

    def begin(self, step: str) -> None:
        self.step = step

    def ok(self, text: str) -> None:
        print(f"ok   [{self.step}] {text}", flush=True)
        if self.args.until == self.step:
            raise Stopped()

    def address(self, target: str) -> str:
        """Where `target` is served: where --service puts it, else --target."""
        return self.args.services.get(target, self.args.target)

    def client(self, persona: str, target: str):
        """`persona`'s Client (with its token) of the address serving `target`."""
        key = (persona, self.address(target))
        if key not in self.clients:
            self.clients[key] = self.api.Client(
                key[1], self.tokens[persona], timeout=self.args.timeout
            )
        return self.clients[key]

    def method(self, name: str, persona: str, request):
        """`persona`'s Client and its stub's method `name`, of the service whose package
        `request` is from (each package has one service), at the target serving it."""
        target, stub = SERVICES[request.DESCRIPTOR.file.package]
        client = self.client(persona, target)
        return client, getattr(getattr(client, stub), name)

    def call(self, method: str, persona: str, request):
        """Calls `method` as `persona`: must succeed. The Client gives the request a new request
        id (the `x-request-id` header, and the idempotency key where the request has one)."""
        client, bound = self.method(method, persona, request)
        try:
            return client.call(bound, request)
        except self.api.ConcordatError as e:
            raise StepFailed(f"{method} as {persona} failed", error=e) from None

    def pages(self, method: str, persona: str, request, items: str):
        """Every item of the list `method` gives `persona`, page after page: must succeed."""
        client, bound = self.method(method, persona, request)
        try:
            yield from client.pages(bound, request, items)
        except self.api.ConcordatError as e:
            raise StepFailed(f"{method} as {persona} failed", error=e) from None

    def watch(self, method: str, persona: str, request, resume=None, timeout=None):
        """The responses of the watch `method` as `persona`, opened when first read (resumed by
        the Client from the last cursor, or as `resume` says, if the server goes away); `close()`
        it to cancel the stream."""
        client, bound = self.method(method, persona, request)
        try:
            yield from client.watch(bound, request, resume=resume, timeout=timeout)
        except self.api.ConcordatError as e:
            raise StepFailed(f"{method} as {persona} failed", error=e) from None

    def expect_error(
        self,
        method: str,
        persona: str,
        request,
        code: str,
        reason: str,
        domain: str,
        precondition: bool = False,
    ):
        """Calls `method`, which must fail with `code` and an ErrorInfo `domain`/`reason`;
        returns the ConcordatError."""
        client, bound = self.method(method, persona, request)
        try:
            response = client.call(bound, request)
        except self.api.ConcordatError as e:
            got = e.code.name
            want = f"{code} with ErrorInfo reason {reason} (domain {domain})"
            if got != code:
                raise StepFailed(
                    f"{method} as {persona}: expected {want}, got {got}", error=e
                ) from None
            if e.reason != reason or e.domain != domain:
                seen = f"{e.reason} (domain {e.domain})" if e.reason else "no ErrorInfo"
                raise StepFailed(
                    f"{method} as {persona}: expected {want}, got {got} with {seen}", error=e
                ) from None
            if precondition and not e.precondition_violations:
                raise StepFailed(
                    f"{method} as {persona}: {reason} should carry a PreconditionFailure naming "
                    "the state and the allowed moves",
                    error=e,
                ) from None
            return e
        shown = self.api.text_format.MessageToString(response, as_one_line=True)[:300]
        raise StepFailed(
            f"{method} as {persona}: expected {code} {reason}, but it succeeded: {shown}"
        )

    def invalid(self, method: str, persona: str, request, field: str):
        """Calls `method`, which must fail with INVALID_ARGUMENT naming `field` alone."""
        client, bound = self.method(method, persona, request)
        try:
            client.call(bound, request)
        except self.api.ConcordatError as e:
            fields = [v.field for v in e.field_violations]
            if e.code.name != "INVALID_ARGUMENT" or fields != [field]:
                raise StepFailed(
                    f"{method} as {persona}: expected INVALID_ARGUMENT naming {field}, got "
                    f"{e.code.name} naming {fields}",
                    error=e,
                ) from None
            return e
        raise StepFailed(f"{method} as {persona}: expected INVALID_ARGUMENT, but it succeeded")

    @staticmethod
    def check(condition: bool, what: str) -> None:
        check(condition, what)

    @staticmethod
    def check_eq(actual, expected, what: str) -> None:
        check_eq(actual, expected, what)

    def state_name(self, value: int) -> str:
        return self.api.ccr.State.Name(value)

    def check_state(self, cr, expected: str, what: str) -> None:
        check_eq(self.state_name(cr.state), "STATE_" + expected, f"{what}: state")

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    # -- the scenario -------------------------------------------------------------------------

    def run(self) -> None:
        self.mint_tokens()
        self.connect()
        self.accept_tokens()
        da = self.create_design_authority()
        cr = self.create_change_request(da)
        cr = self.submit_and_start_assessment(cr)
        self.vote_before_voting_opens(cr)
        self.log_hazard(cr)
        self.assess(cr)
        cr = self.open_voting(cr)
        cr = self.vote(cr)
        cr = self.board_decision(cr)
        self.check_outcome_and_audit(cr)
        self.publish_configuration(da, cr)
        self.converge(cr)
        self.realise_benefits(cr)

    def mint_tokens(self) -> None:
        """Each persona's token (no server needed: signed here or by `concordat dev token`)."""
        self.begin("tokens")
        for subject, (trust, role) in PERSONAS.items():
            if self.args.sign_jwks:
                self.tokens[subject] = sign_token(self.args, subject, trust or self.args.ics, role)
            else:
                self.tokens[subject] = mint_token(
                    self.args.concordat, self.args.data_dir, self.args.ics, subject, trust, role
                )

    def connect(self) -> None:
        """Waits until every address the targets are at accepts a connection."""
        self.begin("connect")
        grpc = self.api.grpc
        first_target: dict[str, str] = {}
        for target, _ in SERVICES.values():
            first_target.setdefault(self.address(target), target)
        addresses = sorted(first_target)
        for address in addresses:
            channel = self.client("ics-admin", first_target[address]).channel
            try:
                grpc.channel_ready_future(channel).result(timeout=self.args.connect_timeout)
            except grpc.FutureTimeoutError:
                raise StepFailed(
                    f"cannot connect to {address} within {self.args.connect_timeout:g}s "
                    "(is `concordat serve` listening there?)"
                ) from None
        self.ok(f"connected to {', '.join(addresses)}")

    def accept_tokens(self) -> None:
        """Every persona's token is accepted, for the trust and role it was made for."""
        self.begin("tokens")
        pf = self.api.pf
        for subject, (trust, role) in PERSONAS.items():
            who = self.call("WhoAmI", subject, pf.WhoAmIRequest()).principal
            check_eq(who.subject, subject, f"WhoAmI as {subject}: subject")
            # People are named by issuer and subject; every persona is the same issuer's.
            self.issuer = who.issuer
            check_eq(who.ics, self.args.ics, f"WhoAmI as {subject}: ics")
            check_eq(who.trust, trust or "", f"WhoAmI as {subject}: trust")
            check(role in who.roles, f"WhoAmI as {subject}: roles {list(who.roles)} lack {role}")
        kind = "signed" if self.args.sign_jwks else "development"
        self.ok(f"{len(self.tokens)} {kind} tokens minted and accepted (WhoAmI)")

    def person(self, subject: str):
        """`subject` at the development issuer, as the API names people."""
        return self.api.pfr.Person(issuer=self.issuer, subject=subject)

    def is_person(self, got, subject: str, what: str) -> None:
        """Checks that `got` (a Person) is `subject` at the development issuer."""
        check_eq((got.issuer, got.subject), (self.issuer, subject), what)

    def create_design_authority(self):
        self.begin("a")
        cc, r = self.api.cc, self.api.ccr
        da_id = f"medicines-{secrets.token_hex(4)}"
        rules = [
            (r.CHANGE_CLASS_ROUTINE, r.THRESHOLD_SIMPLE_MAJORITY, False),
            (r.CHANGE_CLASS_SIGNIFICANT, r.THRESHOLD_SIMPLE_MAJORITY, False),
            (r.CHANGE_CLASS_SAFETY_CRITICAL, r.THRESHOLD_UNANIMOUS, True),
        ]
        charter = r.Charter(
            quorum_percent=75,
            rules=[
                r.ClassRule(change_class=c, threshold=t, cso_sign_off_required=cso)
                for c, t, cso in rules
            ],
            silence=r.SILENCE_POLICY_ABSTAIN,
            board_risk_threshold=3,
            board_cost_threshold_pence=5_000_000,
            max_residual_risk=3,
            assessment_days=14,
            voting_days=7,
            emergency_review_days=10,
        )
        members = {t: [f"voter-{t.lower()}"] for t in TRUSTS}
        request = cc.CreateDesignAuthorityRequest(
            parent=self.parent,
            design_authority_id=da_id,
            design_authority=r.DesignAuthority(
                display_name="Medicines",
                domains=["medicines"],
                members=[
                    r.Membership(trust=t, voting_members=[self.person(p) for p in v])
                    for t, v in members.items()
                ],
                chair=self.person("chair-rgt"),
                charter=charter,
            ),
        )
        da = self.call("CreateDesignAuthority", "ics-admin", request).design_authority
        what = "CreateDesignAuthority"
        check_eq(da.name, f"{self.parent}/designAuthorities/{da_id}", f"{what}: name")
        check(da.name.endswith(da_id), f"{what}: name {da.name!r} does not end with {da_id!r}")
        check_eq(da.display_name, "Medicines", f"{what}: display_name")
        check_eq(list(da.domains), ["medicines"], f"{what}: domains")
        self.is_person(da.chair, "chair-rgt", f"{what}: chair")
        check_eq(
            {m.trust: sorted(p.subject for p in m.voting_members) for m in da.members},
            members,
            f"{what}: members",
        )
        check_eq(
            {p.issuer for m in da.members for p in m.voting_members},
            {self.issuer},
            f"{what}: members' issuer",
        )
        check(bool(da.etag), f"{what}: etag is empty")
        check(da.HasField("create_time"), f"{what}: create_time is unset")
        got = da.charter
        check_eq(got.version, 1, f"{what}: charter.version")
        check(got.HasField("effective_time"), f"{what}: charter.effective_time is unset")
        for field in (
            "quorum_percent",
            "silence",
            "board_risk_threshold",
            "board_cost_threshold_pence",
            "max_residual_risk",
            "assessment_days",
            "voting_days",
            "emergency_review_days",
        ):
            check_eq(getattr(got, field), getattr(charter, field), f"{what}: charter.{field}")
        check_eq(
            sorted((x.change_class, x.threshold, x.cso_sign_off_required) for x in got.rules),
            sorted(rules),
            f"{what}: charter.rules",
        )
        self.ok(f"CreateDesignAuthority as ics-admin: {da.name}, charter v{got.version}")
        return da

    def create_change_request(self, da):
        self.begin("b")
        cc, r = self.api.cc, self.api.ccr
        request = cc.CreateChangeRequestRequest(
            parent=self.parent,
            change_request=r.ChangeRequest(
                title=TITLE,
                description=DESCRIPTION,
                rationale=RATIONALE,
                domain="medicines",
                design_authority=da.name,
                affected_trusts=TRUSTS,
                change_type=r.CHANGE_TYPE_NORMAL,
                change_class=r.CHANGE_CLASS_SAFETY_CRITICAL,
                cost_estimate_pence=6_000_000,
                effort_days=20,
                configuration_items=["alert-rule/allergy-interruptive"],
            ),
        )
        cr = self.call("CreateChangeRequest", "pharmacist-rgt", request).change_request
        what = "CreateChangeRequest"
        check(
            cr.name.startswith(f"{self.parent}/changeRequests/")
            and len(cr.name) > len(f"{self.parent}/changeRequests/"),
            f"{what}: name {cr.name!r} is not {self.parent}/changeRequests/{{id}}",
        )
        self.check_state(cr, "DRAFT", what)
        check_eq(cr.requesting_trust, "RGT", f"{what}: requesting_trust")
        self.is_person(cr.requester, "pharmacist-rgt", f"{what}: requester")
        check(
            re.fullmatch(r"CR-[0-9]{4}-[0-9]{4}", cr.number) is not None,
            f"{what}: number {cr.number!r} does not match ^CR-\\d{{4}}-\\d{{4}}$",
        )
        check(bool(cr.etag), f"{what}: etag is empty")
        check_eq(cr.title, TITLE, f"{what}: title")
        check_eq(cr.design_authority, da.name, f"{what}: design_authority")
        check_eq(sorted(cr.affected_trusts), sorted(TRUSTS), f"{what}: affected_trusts")
        check_eq(cr.change_class, r.CHANGE_CLASS_SAFETY_CRITICAL, f"{what}: change_class")
        check_eq(cr.change_type, r.CHANGE_TYPE_NORMAL, f"{what}: change_type")
        check_eq(cr.cost_estimate_pence, 6_000_000, f"{what}: cost_estimate_pence")
        check_eq(cr.residual_risk, 0, f"{what}: residual_risk (no hazards yet)")
        self.ok(f"CreateChangeRequest as pharmacist-rgt: {cr.number} {cr.name} DRAFT")
        return cr

    def submit_and_start_assessment(self, cr):
        self.begin("c")
        cc = self.api.cc
        cr = self.call(
            "SubmitChangeRequest",
            "pharmacist-rgt",
            cc.SubmitChangeRequestRequest(name=cr.name, etag=cr.etag),
        ).change_request
        self.check_state(cr, "SUBMITTED", "SubmitChangeRequest")
        self.ok(f"SubmitChangeRequest as pharmacist-rgt: {cr.number} SUBMITTED")
        cr = self.call(
            "StartImpactAssessment",
            "chair-rgt",
            cc.StartImpactAssessmentRequest(name=cr.name),
        ).change_request
        what = "StartImpactAssessment"
        self.check_state(cr, "IMPACT_ASSESSMENT", what)
        check(cr.HasField("assessment_deadline"), f"{what}: assessment_deadline is unset")
        check(
            near_days_from_now(cr.assessment_deadline, 14),
            f"{what}: assessment_deadline {cr.assessment_deadline.ToJsonString()} is not the "
            "charter's 14 days from now",
        )
        self.ok(
            f"StartImpactAssessment as chair-rgt: IMPACT_ASSESSMENT, assessments due "
            f"{cr.assessment_deadline.ToJsonString()}"
        )
        return cr

    def vote_before_voting_opens(self, cr):
        self.begin("d")
        cc, r = self.api.cc, self.api.ccr
        self.expect_error(
            "CastVote",
            "voter-rgm",
            cc.CastVoteRequest(parent=cr.name, choice=r.VOTE_CHOICE_APPROVE),
            code="FAILED_PRECONDITION",
            reason="INVALID_TRANSITION",
            domain=CHANGECONTROL_DOMAIN,
            precondition=True,
        )
        self.ok(
            "CastVote as voter-rgm before voting opened: FAILED_PRECONDITION INVALID_TRANSITION"
        )

    def log_hazard(self, cr):
        self.begin("e")
        cc, r = self.api.cc, self.api.ccr
        hazard = r.Hazard(
            description="alert fatigue leads to an overridden allergy alert",
            cause=(
                "prescribers see many low-value interruptive alerts and override them by habit"
            ),
            effect=(
                "a medicine the patient is allergic to is given: anaphylaxis or a severe reaction"
            ),
            existing_controls="pharmacist verification of inpatient prescriptions; allergy banner",
            initial_likelihood=4,
            initial_severity=4,
            further_controls=(
                "interruptive alerts only for recorded allergies of severity moderate or above; "
                "override requires a reason; monthly review of override rates by the medicines DA"
            ),
            residual_likelihood=2,
            residual_severity=4,
        )
        h = self.call(
            "CreateHazard",
            "cso-rgt",
            cc.CreateHazardRequest(parent=cr.name, hazard=hazard),
        ).hazard
        what = "CreateHazard"
        check(
            h.name.startswith(f"{cr.name}/hazards/") and len(h.name) > len(f"{cr.name}/hazards/"),
            f"{what}: name {h.name!r} is not {cr.name}/hazards/{{id}}",
        )
        check_eq(h.initial_risk, 4, f"{what}: initial_risk (likelihood 4 x severity 4)")
        check_eq(h.residual_risk, 3, f"{what}: residual_risk (likelihood 2 x severity 4)")
        check(not h.HasField("signed_off_by"), f"{what}: signed_off_by is set before sign-off")
        self.ok(f"CreateHazard as cso-rgt: {h.name}, initial risk 4, residual risk 3")
        h = self.call(
            "SignOffHazard", "cso-rgt", cc.SignOffHazardRequest(name=h.name)
        ).hazard
        what = "SignOffHazard"
        self.is_person(h.signed_off_by, "cso-rgt", f"{what}: signed_off_by")
        check_eq(h.signed_off_trust, "RGT", f"{what}: signed_off_trust")
        check(h.HasField("sign_off_time"), f"{what}: sign_off_time is unset")
        check_eq(h.residual_risk, 3, f"{what}: residual_risk")
        self.ok("SignOffHazard as cso-rgt: signed off by cso-rgt (RGT)")

    def assess(self, cr):
        self.begin("f")
        cc, r = self.api.cc, self.api.ccr

        def assessment(trust: str):
            return r.ImpactAssessment(
                trust=trust,
                effort_days=3,
                local_configuration_impact=(
                    "allergy alert rule enabled in the local prescribing build"
                ),
                training_impact="15-minute briefing for prescribers and pharmacists",
                clinical_risk_notes="alert fatigue monitored through override rates",
                readiness_date="2027-01-15",
                recommendation=r.RECOMMENDATION_SUPPORT,
            )

        self.expect_error(
            "SubmitImpactAssessment",
            "lead-rgm",
            cc.SubmitImpactAssessmentRequest(
                parent=cr.name, impact_assessment=assessment("RGN")
            ),
            code="PERMISSION_DENIED",
            reason="TRUST_SCOPE",
            domain=PLATFORM_DOMAIN,
        )
        self.ok("SubmitImpactAssessment as lead-rgm for RGN: PERMISSION_DENIED TRUST_SCOPE")
        for trust in TRUSTS:
            lead = f"lead-{trust.lower()}"
            ia = self.call(
                "SubmitImpactAssessment",
                lead,
                cc.SubmitImpactAssessmentRequest(
                    parent=cr.name, impact_assessment=assessment(trust)
                ),
            ).impact_assessment
            what = f"SubmitImpactAssessment as {lead}"
            check_eq(ia.name, f"{cr.name}/impactAssessments/{trust}", f"{what}: name")
            check_eq(ia.trust, trust, f"{what}: trust")
            self.is_person(ia.assessor, lead, f"{what}: assessor")
            check_eq(ia.recommendation, r.RECOMMENDATION_SUPPORT, f"{what}: recommendation")
            check_eq(ia.readiness_date, "2027-01-15", f"{what}: readiness_date")
            self.ok(f"SubmitImpactAssessment as {lead}: {trust} SUPPORT, ready 2027-01-15")
        listed = self.call(
            "ListImpactAssessments", "chair-rgt", cc.ListImpactAssessmentsRequest(parent=cr.name)
        )
        what = "ListImpactAssessments"
        check_eq(
            sorted(a.trust for a in listed.impact_assessments), sorted(TRUSTS), f"{what}: trusts"
        )
        check_eq(list(listed.missing_trusts), [], f"{what}: missing_trusts")
        n = len(listed.impact_assessments)
        self.ok(f"ListImpactAssessments as chair-rgt: {n} assessments, none missing")

    def open_voting(self, cr):
        self.begin("g")
        cc = self.api.cc
        cr = self.call(
            "OpenVoting", "chair-rgt", cc.OpenVotingRequest(name=cr.name)
        ).change_request
        what = "OpenVoting"
        self.check_state(cr, "DA_REVIEW", what)
        check_eq(cr.charter_version, 1, f"{what}: charter_version")
        check(cr.HasField("voting_deadline"), f"{what}: voting_deadline is unset")
        check(
            near_days_from_now(cr.voting_deadline, 7),
            f"{what}: voting_deadline {cr.voting_deadline.ToJsonString()} is not the charter's "
            "7 days from now",
        )
        check_eq(cr.residual_risk, 3, f"{what}: residual_risk (highest of the hazard log)")
        self.ok(
            f"OpenVoting as chair-rgt: DA_REVIEW under charter v1, votes due "
            f"{cr.voting_deadline.ToJsonString()}"
        )
        return cr

    def vote(self, cr):
        self.begin("h")
        cc, r = self.api.cc, self.api.ccr

        def cast(voter: str):
            return self.call(
                "CastVote",
                voter,
                cc.CastVoteRequest(
                    parent=cr.name,
                    choice=r.VOTE_CHOICE_APPROVE,
                    comment="supported by the trust's medicines safety group",
                ),
            )

        for trust in TRUSTS[:3]:
            voter = f"voter-{trust.lower()}"
            resp = cast(voter)
            what = f"CastVote as {voter}"
            check_eq(resp.vote.name, f"{cr.name}/votes/{trust}", f"{what}: vote.name")
            check_eq(resp.vote.trust, trust, f"{what}: vote.trust")
            self.is_person(resp.vote.voter, voter, f"{what}: vote.voter")
            check_eq(resp.vote.choice, r.VOTE_CHOICE_APPROVE, f"{what}: vote.choice")
            self.check_state(resp.change_request, "DA_REVIEW", what)
            self.ok(f"CastVote as {voter}: APPROVE for {trust}, still DA_REVIEW")
        self.expect_error(
            "CastVote",
            "voter-rgt",
            cc.CastVoteRequest(parent=cr.name, choice=r.VOTE_CHOICE_APPROVE),
            code="ALREADY_EXISTS",
            reason="ALREADY_VOTED",
            domain=CHANGECONTROL_DOMAIN,
        )
        self.ok("CastVote as voter-rgt again: ALREADY_EXISTS ALREADY_VOTED")
        resp = cast("voter-rt1")
        what = "CastVote as voter-rt1"
        check_eq(resp.vote.trust, "RT1", f"{what}: vote.trust")
        cr = resp.change_request
        self.check_state(cr, "BOARD_REVIEW", f"{what} (residual risk 3 >= board threshold 3)")
        check(cr.HasField("decision"), f"{what}: decision is unset")
        d = cr.decision
        check_eq(d.approved, True, f"{what}: decision.approved")
        check("unanimous" in d.rule.lower(), f"{what}: decision.rule {d.rule!r} lacks 'unanimous'")
        check_eq(
            (d.approvals, d.rejections, d.abstentions), (4, 0, 0), f"{what}: decision counts"
        )
        check_eq(d.charter_version, 1, f"{what}: decision.charter_version")
        self.ok(f"CastVote as voter-rt1: BOARD_REVIEW, decision approved ({d.rule})")
        return cr

    def board_decision(self, cr):
        self.begin("i")
        cc = self.api.cc
        minutes = "ICS-PB-2026-11 item 4"
        cr = self.call(
            "RecordBoardDecision",
            "board-chair",
            cc.RecordBoardDecisionRequest(
                name=cr.name, approved=True, minutes_reference=minutes
            ),
        ).change_request
        what = "RecordBoardDecision"
        self.check_state(cr, "APPROVED", what)
        check(cr.HasField("board_decision"), f"{what}: board_decision is unset")
        b = cr.board_decision
        check_eq(b.approved, True, f"{what}: board_decision.approved")
        check_eq(b.minutes_reference, minutes, f"{what}: board_decision.minutes_reference")
        self.is_person(b.recorded_by, "board-chair", f"{what}: board_decision.recorded_by")
        self.ok(f"RecordBoardDecision as board-chair: APPROVED ({minutes})")
        return cr

    def check_outcome_and_audit(self, cr):
        self.begin("j")
        cc, pf = self.api.cc, self.api.pf
        got = self.call(
            "GetChangeRequest", "pharmacist-rgt", cc.GetChangeRequestRequest(name=cr.name)
        ).change_request
        self.check_state(got, "APPROVED", "GetChangeRequest")
        check_eq(got.number, cr.number, "GetChangeRequest: number")
        self.ok(f"GetChangeRequest: {got.number} APPROVED")

        found, seen = False, 0
        for c in self.pages(
            "ListChangeRequests",
            "pharmacist-rgt",
            cc.ListChangeRequestsRequest(
                parent=self.parent, filter="state = APPROVED", page_size=500
            ),
            "change_requests",
        ):
            self.check_state(c, "APPROVED", f"ListChangeRequests: {c.name}")
            found = found or c.name == cr.name
            seen += 1
        check(found, f"ListChangeRequests(state = APPROVED): {cr.name} not among {seen} listed")
        self.ok(f"ListChangeRequests(state = APPROVED): contains {cr.number}")

        def audit(resource: str) -> list:
            return list(
                self.pages(
                    "ListAuditEntries",
                    "ics-admin",
                    pf.ListAuditEntriesRequest(parent=self.parent, resource=resource, page_size=500),
                    "entries",
                )
            )

        # The change request with everything under it, then only its hazards, assessments and votes.
        whole = audit(cr.name)
        children = audit(cr.name + "/")
        own = [e for e in whole if e.resource == cr.name]
        what = "ListAuditEntries"
        for e in whole:
            check(
                e.resource == cr.name or e.resource.startswith(cr.name + "/"),
                f"{what}(resource={cr.name}): entry {e.sequence} is about {e.resource!r}",
            )
        for e in children:
            check(
                e.resource.startswith(cr.name + "/"),
                f"{what}(resource={cr.name}/): entry {e.sequence} is about {e.resource!r}",
            )
        check_eq(
            sorted(e.sequence for e in whole if e.resource != cr.name),
            sorted(e.sequence for e in children),
            f"{what}: the subtree is the change request plus its parts",
        )
        for entries in (whole, children):
            sequences = [e.sequence for e in entries]
            check(sequences == sorted(sequences, reverse=True), f"{what}: not newest first")
        entries = whole
        check(
            len(entries) >= 10,
            f"{what}: {len(own)} entries about {cr.name} and {len(children)} about its parts; "
            "expected at least 10",
        )
        for e in entries:
            check(
                re.fullmatch(r"[0-9a-f]{64}", e.hash) is not None,
                f"{what}: entry {e.sequence} hash {e.hash!r} is not SHA-256 hex",
            )
        actors = {e.actor_subject for e in entries}
        mutators = {"pharmacist-rgt", "chair-rgt", "cso-rgt", "board-chair"}
        mutators |= {f"lead-{t.lower()}" for t in TRUSTS} | {f"voter-{t.lower()}" for t in TRUSTS}
        missing = sorted(mutators - actors)
        check(not missing, f"{what}: no entries by {missing} (who changed {cr.name})")
        self.ok(
            f"ListAuditEntries as ics-admin: {len(own)} entries about {cr.name}, "
            f"{len(children)} about its hazards, assessments and votes"
        )

        v = self.call(
            "VerifyAuditChain",
            "ics-admin",
            pf.VerifyAuditChainRequest(parent=self.parent),
        )
        what = "VerifyAuditChain"
        check(
            v.valid,
            f"{what}: chain broken at sequence {v.first_broken_sequence}: {v.problem}",
        )
        check(
            v.entries_checked >= max(e.sequence for e in entries),
            f"{what}: checked {v.entries_checked} entries, but entry "
            f"{max(e.sequence for e in entries)} exists",
        )
        check(
            re.fullmatch(r"[0-9a-f]{64}", v.head_hash) is not None,
            f"{what}: head_hash {v.head_hash!r} is not SHA-256 hex",
        )
        self.ok(f"VerifyAuditChain as ics-admin: valid, {v.entries_checked} entries checked")

    # -- the configuration part ------------------------------------------------------------------

    def value(self, obj):
        v = self.api.struct_pb2.Value()
        self.api.json_format.ParseDict(obj, v)
        return v

    def as_json(self, v):
        return self.api.json_format.MessageToDict(v)

    def changeset(self, layer: str, cr_name: str, changes: list):
        return self.api.scr.Changeset(
            layer=f"{self.parent}/layers/{layer}",
            change_request=cr_name,
            description="golden scenario",
            changes=changes,
        )

    def item_change(self, op, key: str, value: dict, governance=None):
        scr = self.api.scr
        return scr.ItemChange(
            operation=op,
            item=scr.ConfigItem(
                kind="alert-rule", key=key, value=self.value(value), governance=governance
            ),
        )

    def publish_configuration(self, da, cr) -> None:
        api = self.api
        sc, scr = api.sc, api.scr

        self.begin("k")
        schema = api.struct_pb2.Struct()
        api.json_format.ParseDict(ALERT_RULE_SCHEMA, schema)
        kind = self.call(
            "CreateConfigKind",
            "ics-admin",
            sc.CreateConfigKindRequest(
                parent=self.parent,
                config_kind_id="alert-rule",
                config_kind=scr.ConfigKind(
                    domain="medicines", schema=schema, description="Clinical decision support"
                ),
            ),
        ).config_kind
        check_eq(kind.name, f"{self.parent}/configKinds/alert-rule", "CreateConfigKind: name")
        self.ok(f"CreateConfigKind as ics-admin: {kind.name} ({kind.domain})")

        self.begin("l")
        locked = scr.Governance(mode=scr.GOVERNANCE_MODE_LOCKED)
        bounded = scr.Governance(
            mode=scr.GOVERNANCE_MODE_BOUNDED,
            bounds=[scr.Bound(range=scr.RangeBound(pointer="/threshold", min=3, max=7))],
        )
        proposed = self.call(
            "CreateChangeset",
            "engineer-rgt",
            sc.CreateChangesetRequest(
                parent=self.parent,
                changeset=self.changeset(
                    "baseline",
                    cr.name,
                    [
                        self.item_change(
                            scr.OPERATION_ADD,
                            "allergy-interruptive",
                            {"enabled": True, "interrupt": True},
                            locked,
                        ),
                        self.item_change(
                            scr.OPERATION_ADD,
                            "sepsis-news2",
                            {"enabled": True, "threshold": 5},
                            bounded,
                        ),
                    ],
                ),
            ),
        ).changeset
        what = "CreateChangeset(baseline)"
        check_eq(
            sorted(d.trust for d in proposed.trust_diffs), sorted(TRUSTS), f"{what}: trust_diffs"
        )
        check(
            all(len(d.changes) == 2 for d in proposed.trust_diffs),
            f"{what}: every trust should get both alerts",
        )
        self.ok(f"CreateChangeset as engineer-rgt: {proposed.name}, diffs for {len(TRUSTS)} trusts")
        published = self.call(
            "PublishChangeset",
            "engineer-rgt",
            sc.PublishChangesetRequest(name=proposed.name),
        ).revision
        what = "PublishChangeset(baseline)"
        check_eq(published.revision, 1, f"{what}: revision")
        check_eq(published.change_request, cr.name, f"{what}: change_request")
        self.is_person(published.publisher, "engineer-rgt", f"{what}: publisher")
        check(re.fullmatch(r"[0-9a-f]{64}", published.content_hash) is not None, f"{what}: hash")
        self.ok(f"PublishChangeset as engineer-rgt: {published.name} under {cr.number}")

        self.begin("m")
        variation = self.call(
            "CreateChangeset",
            "engineer-rgm",
            sc.CreateChangesetRequest(
                parent=self.parent,
                changeset=self.changeset(
                    "RGM",
                    cr.name,
                    [
                        self.item_change(
                            scr.OPERATION_ADD, "sepsis-news2", {"enabled": True, "threshold": 6}
                        )
                    ],
                ),
            ),
        ).changeset
        check_eq([d.trust for d in variation.trust_diffs], ["RGM"], "CreateChangeset(RGM): diffs")
        self.call(
            "PublishChangeset",
            "engineer-rgm",
            sc.PublishChangesetRequest(name=variation.name),
        )
        self.ok("PublishChangeset as engineer-rgm: RGM keeps NEWS2 threshold 6 (bounds 3–7)")

        self.begin("n")
        e = self.expect_error(
            "CreateChangeset",
            "engineer-rgm",
            sc.CreateChangesetRequest(
                parent=self.parent,
                changeset=self.changeset(
                    "RGM",
                    cr.name,
                    [
                        self.item_change(
                            scr.OPERATION_MODIFY, "sepsis-news2", {"enabled": True, "threshold": 9}
                        )
                    ],
                ),
            ),
            "INVALID_ARGUMENT",
            "INVALID_ARGUMENT",
            SHAREDCONFIG_DOMAIN,
        )
        fields = [v.field for v in e.field_violations]
        check_eq(fields, ["changeset.changes[0].item"], "threshold 9: field violations")
        self.ok("CreateChangeset as engineer-rgm, threshold 9: INVALID_ARGUMENT, outside [3, 7]")
        self.expect_error(
            "CreateChangeset",
            "engineer-rgn",
            sc.CreateChangesetRequest(
                parent=self.parent,
                changeset=self.changeset(
                    "RGM",
                    cr.name,
                    [
                        self.item_change(
                            scr.OPERATION_MODIFY, "sepsis-news2", {"enabled": True, "threshold": 4}
                        )
                    ],
                ),
            ),
            "PERMISSION_DENIED",
            "TRUST_SCOPE",
            PLATFORM_DOMAIN,
        )
        self.ok("CreateChangeset as engineer-rgn on RGM's overlay: PERMISSION_DENIED TRUST_SCOPE")
        draft = self.call(
            "CreateChangeRequest",
            "pharmacist-rgt",
            self.api.cc.CreateChangeRequestRequest(
                parent=self.parent,
                change_request=self.api.ccr.ChangeRequest(
                    title="VTE risk assessment alert",
                    description="Not yet agreed",
                    domain="medicines",
                    design_authority=da.name,
                    affected_trusts=TRUSTS,
                    change_type=self.api.ccr.CHANGE_TYPE_NORMAL,
                    change_class=self.api.ccr.CHANGE_CLASS_ROUTINE,
                ),
            ),
        ).change_request
        unapproved = self.call(
            "CreateChangeset",
            "engineer-rgt",
            sc.CreateChangesetRequest(
                parent=self.parent,
                changeset=self.changeset(
                    "baseline",
                    draft.name,
                    [self.item_change(scr.OPERATION_ADD, "vte", {"enabled": True})],
                ),
            ),
        ).changeset
        self.expect_error(
            "PublishChangeset",
            "engineer-rgt",
            sc.PublishChangesetRequest(name=unapproved.name),
            "FAILED_PRECONDITION",
            "CHANGE_REQUEST_NOT_APPROVED",
            SHAREDCONFIG_DOMAIN,
        )
        self.ok(f"PublishChangeset under {draft.number} (DRAFT): CHANGE_REQUEST_NOT_APPROVED")

        self.begin("o")

        def effective(trust: str):
            return self.call(
                "GetEffectiveConfig",
                "engine-rgm",
                sc.GetEffectiveConfigRequest(parent=self.parent, trust=trust),
            ).effective_config

        rgt, rgm = effective("RGT"), effective("RGM")
        values = lambda e: {i.key: self.as_json(i.value) for i in e.items}  # noqa: E731
        v_rgt, v_rgm = values(rgt), values(rgm)
        differing = sorted(k for k in set(v_rgt) | set(v_rgm) if v_rgt.get(k) != v_rgm.get(k))
        check_eq(differing, ["sepsis-news2"], "GetEffectiveConfig: RGT and RGM differ")
        check_eq(v_rgm["sepsis-news2"]["threshold"], 6, "GetEffectiveConfig(RGM): threshold")
        sepsis = next(i for i in rgm.items if i.key == "sepsis-news2")
        check_eq(sepsis.source, scr.SOURCE_OVERRIDE, "GetEffectiveConfig(RGM): source")
        check_eq(sepsis.change_request, cr.name, "GetEffectiveConfig(RGM): change_request")
        self.ok(
            f"GetEffectiveConfig as engine-rgm: RGT and RGM differ only at sepsis-news2 "
            f"(RGM revision {rgm.revision}, etag {rgm.etag})"
        )

        self.begin("p")

        def after(request, response) -> None:
            """Where the Client reopens the watch if the server goes away: after the last
            revision received (the stream has no cursor)."""
            request.from_revision = response.effective_revision.revision

        def watch(from_revision: int, count: int) -> list:
            stream = self.watch(
                "WatchEffectiveConfig",
                "engine-rgm",
                sc.WatchEffectiveConfigRequest(
                    parent=self.parent, trust="RGM", from_revision=from_revision
                ),
                resume=after,
                timeout=self.args.timeout,
            )
            got = []
            try:
                for message in stream:
                    got.append(message.effective_revision)
                    if len(got) == count:
                        break
            finally:
                stream.close()
            return got

        seen = [r.revision for r in watch(0, 2)]
        check_eq(seen, [1, 2], "WatchEffectiveConfig(RGM, from 0)")
        resumed = watch(1, 1)
        check_eq(resumed[0].revision, 2, "WatchEffectiveConfig(RGM, from 1)")
        check_eq(resumed[0].changes[0].key, "sepsis-news2", "WatchEffectiveConfig: changes")
        self.ok("WatchEffectiveConfig as engine-rgm: revisions 1, 2 in order; resumed after 1")

        self.begin("q")
        entries = list(
            self.pages(
                "ListAuditEntries",
                "ics-admin",
                self.api.pf.ListAuditEntriesRequest(
                    parent=self.parent,
                    resource=f"{self.parent}/layers/",
                    action="config.publish",
                    page_size=50,
                ),
                "entries",
            )
        )
        check_eq(len(entries), 2, "ListAuditEntries(config.publish)")
        for entry in entries:
            check(cr.number in entry.summary, f"audit entry {entry.sequence} names {cr.number}")
        check_eq(
            sorted(e.actor_subject for e in entries),
            ["engineer-rgm", "engineer-rgt"],
            "ListAuditEntries(config.publish): publishers",
        )
        self.ok(f"ListAuditEntries: both revisions trace to {cr.number} and their publishers")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    api = load_api()
    if api is None:
        return 1
    driver = Driver(api, args)
    try:
        driver.run()
    except Stopped:
        print(f"PASS: stopped after step [{args.until}], as --until asked")
        return 0
    except StepFailed as failure:
        print(f"FAIL [{driver.step}] {failure}", file=sys.stderr)
        if failure.error is not None:
            for line in describe(failure.error):
                print(f"  {line}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"interrupted at step [{driver.step}]", file=sys.stderr)
        return 1
    finally:
        driver.close()
    print(
        "PASS: the change request went from DRAFT to APPROVED as the charter says, "
        "its configuration was published under it, convergence measured the trusts' builds, "
        "and its benefit rolled up to the ICS"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
