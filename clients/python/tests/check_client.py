"""Checks the installed concordat-client package against a running Concordat server.

Run with the interpreter the wheel was installed into:

    python check_client.py --address 127.0.0.1:50051 --token TOKEN --issuer ISSUER

TOKEN acts for ICS QUE as `ics-admin`; ISSUER is its issuer (people in requests are named by
issuer and subject). Prints one line per check; exits 1 at the first that fails.
"""

from __future__ import annotations

import argparse
import sys
import uuid

import grpc

from concordat.changecontrol.v1 import changecontrol_service_pb2 as ccs
from concordat.changecontrol.v1 import resources_pb2 as cc
from concordat.platform.v1 import platform_service_pb2 as pf
from concordat.platform.v1 import resources_pb2 as pfr
from concordat_client import Client, ConcordatError


def check(ok: bool, what: str) -> None:
    if not ok:
        print(f"FAIL {what}")
        sys.exit(1)
    print(f"ok   {what}")


def design_authority(issuer: str) -> cc.DesignAuthority:
    def person(subject: str) -> pfr.Person:
        return pfr.Person(issuer=issuer, subject=subject)

    return cc.DesignAuthority(
        display_name="Medicines",
        domains=["medicines"],
        members=[cc.Membership(trust="RGT", voting_members=[person("voter-rgt")])],
        chair=person("chair-rgt"),
        charter=cc.Charter(
            quorum_percent=75,
            rules=[
                cc.ClassRule(change_class=c, threshold=cc.THRESHOLD_SIMPLE_MAJORITY)
                for c in (
                    cc.CHANGE_CLASS_ROUTINE,
                    cc.CHANGE_CLASS_SIGNIFICANT,
                    cc.CHANGE_CLASS_SAFETY_CRITICAL,
                )
            ],
            silence=cc.SILENCE_POLICY_ABSTAIN,
            board_risk_threshold=3,
            board_cost_threshold_pence=5_000_000,
            max_residual_risk=3,
            assessment_days=14,
            voting_days=7,
            emergency_review_days=10,
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--issuer", required=True)
    args = parser.parse_args()
    token: str = args.token

    with Client(args.address, lambda: token) as client:
        who = client.call(client.platform.WhoAmI, pf.WhoAmIRequest()).principal
        check("ics-admin" in who.roles, f"WhoAmI through a token provider: {who.subject}")

        try:
            client.call(
                client.change_control.CreateDesignAuthority,
                ccs.CreateDesignAuthorityRequest(
                    parent="icss/QUE",
                    design_authority_id="Not An Id!",
                    design_authority=design_authority(args.issuer),
                ),
            )
            check(False, "a design authority with a malformed id is refused")
        except ConcordatError as e:
            fields = [v.field for v in e.field_violations]
            check(
                e.code == grpc.StatusCode.INVALID_ARGUMENT and "design_authority_id" in fields,
                f"bad input raises ConcordatError {e.code.name}, reason {e.reason}, fields {fields}",
            )

        # The same request id twice is one creation: the second answer is the first's.
        request_id = str(uuid.uuid4())
        first = client.call(
            client.change_control.CreateDesignAuthority,
            ccs.CreateDesignAuthorityRequest(
                parent="icss/QUE",
                design_authority_id="medicines",
                design_authority=design_authority(args.issuer),
            ),
            request_id=request_id,
        ).design_authority
        again = client.call(
            client.change_control.CreateDesignAuthority,
            ccs.CreateDesignAuthorityRequest(
                parent="icss/QUE",
                design_authority_id="medicines",
                design_authority=design_authority(args.issuer),
            ),
            request_id=request_id,
        ).design_authority
        check(
            again.name == first.name and again.etag == first.etag,
            f"a request id sent twice creates once: {first.name}",
        )
        try:
            client.call(
                client.change_control.CreateDesignAuthority,
                ccs.CreateDesignAuthorityRequest(
                    parent="icss/QUE",
                    design_authority_id="medicines",
                    design_authority=design_authority(args.issuer),
                ),
            )
            check(False, "a new request id for the same id is refused")
        except ConcordatError as e:
            check(
                e.code == grpc.StatusCode.ALREADY_EXISTS,
                f"a new request id is a new request: {e.code.name} {e.reason}",
            )
        client.call(
            client.change_control.CreateDesignAuthority,
            ccs.CreateDesignAuthorityRequest(
                parent="icss/QUE",
                design_authority_id="surgery",
                design_authority=design_authority(args.issuer),
            ),
        )

        paged = list(
            client.pages(
                client.platform.ListAuditEntries,
                pf.ListAuditEntriesRequest(parent="icss/QUE", page_size=1),
                "entries",
            )
        )
        whole = client.call(
            client.platform.ListAuditEntries,
            pf.ListAuditEntriesRequest(parent="icss/QUE", page_size=1000),
        ).entries
        check(
            len(paged) >= 2 and [e.sequence for e in paged] == [e.sequence for e in whole],
            f"pages of one: {len(paged)} audit entries, the same as one page of 1000",
        )
    print("PASS")


if __name__ == "__main__":
    main()
