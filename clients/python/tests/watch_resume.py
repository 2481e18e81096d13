#!/usr/bin/env python3
"""Follows an ICS's change requests with `Client.watch`, one line per event on stdout:
`CURSOR KIND NAME`, flushed as it comes, until killed.

The test that runs it cuts the connection in the middle; the watch opens again after the last
cursor it saw, so every event is printed once and none is missed.

Usage: watch_resume.py HOST:PORT ICS (the token in CONCORDAT_TOKEN).
"""

from __future__ import annotations

import os
import sys

from concordat.changecontrol.v1 import changecontrol_service_pb2 as cc
from concordat_client import Client


def main(argv: list[str]) -> int:
    address, ics = argv
    token = os.environ["CONCORDAT_TOKEN"]
    with Client(address, token) as client:
        request = cc.WatchChangeRequestsRequest(parent=f"icss/{ics}")
        for event in client.watch(client.change_control.WatchChangeRequests, request, attempts=20):
            print(event.cursor, event.kind, event.change_request.name, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
