#!/usr/bin/env python3
"""Runs scim2-tester's compliance checks against a SCIM server and reports them.

Usage: SCIM_TOKEN=... scim-check.py https://host/scim/v2
Prints one line per check; exits 1 when any check failed (ERROR or CRITICAL), 2 when
the checker itself could not run. Run with .tools/scim-venv/bin/python
(scripts/install-scim-tester.sh).
"""

import os
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

FAILED = {Status.ERROR, Status.CRITICAL}


def main() -> int:
    if len(sys.argv) != 2 or not os.environ.get("SCIM_TOKEN"):
        print("usage: SCIM_TOKEN=<token> scim-check.py <base URL ending in /scim/v2>", file=sys.stderr)
        return 2
    http = Client(
        base_url=sys.argv[1],
        headers={"Authorization": f"Bearer {os.environ['SCIM_TOKEN']}"},
        timeout=30,
    )
    results = check_server(SyncSCIMClient(http))
    failed = 0
    for r in results:
        where = f"[{r.resource_type}] " if r.resource_type else ""
        reason = (r.reason or "").replace("\n", " | ")
        print(f"{r.status.name:<10} {where}{r.title}: {reason}")
        failed += r.status in FAILED
    print(f"scim2-tester: {len(results)} checks, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
