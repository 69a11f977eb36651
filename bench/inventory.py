"""Tenant discovery at MSP scale: `ansible-inventory --list` with msp.conditional_access.tenants (source gdap).

    .venv/bin/python -m bench.inventory [--tenants 500] [--latency-ms 80] [--runs 3] [--out bench/results/inventory.md]

Builds sandbox.fixtures.inventory_fleet(customers=N) (N customers, N + 20 relationships, two MLT_), starts the sandbox
with `latency_ms` on every Graph HTTP request (a stand-in for the network; a batch pays it once, as one round trip),
and measures per run: wall time of the whole `ansible-inventory` process, the plugin's own discovery time (its -vv
line), the HTTP requests the sandbox received (and the tenant lookups inside batches). For comparison it then times
the same N lookups sent one GET at a time through the collection's Graph client (what discovery without $batch costs).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MSP = "11111111-1111-4111-8111-111111111111"


def ansible_env(sandbox_env):
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import ansible_env as test_env  # the collection link and the same Ansible settings as the tests

    return test_env(dict(sandbox_env, ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="true"))


def one_run(handle, config, env):
    since = handle.client.log()[-1]["seq"] if handle.client.log() else 0
    started = time.monotonic()
    listing = config.with_suffix(".json")
    proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(config), "--list", "-vv", "--output",
                           str(listing)], env=env, capture_output=True, text=True, timeout=900)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit("ansible-inventory failed:\n" + proc.stderr[-3000:])
    hosts = len(json.loads(listing.read_text())["_meta"]["hostvars"])
    match = re.search(r"gdap: (\d+) tenants in ([\d.]+) s, (\d+) requests", proc.stdout + proc.stderr)
    log = [e for e in handle.client.log(since=since) if e["api"] in ("graph", "login")]
    http = [e for e in log if not e.get("batch")]
    return {"wall_s": wall, "discovery_s": float(match.group(2)) if match else None, "hosts": hosts,
            "http_requests": len(http), "graph_requests": len([e for e in http if e["api"] == "graph"]),
            "login_requests": len([e for e in http if e["api"] == "login"]),
            "batches": len([e for e in http if e["path"].endswith("/$batch")]),
            "relationship_pages": len([e for e in http if "delegatedAdminRelationships" in e["path"]]),
            "lookups_in_batches": len([e for e in log if e.get("batch")])}


def one_by_one(handle, tenant_ids):
    """The same tenant lookups without $batch: one GET each through the collection's GraphClient."""
    sys.path.insert(0, str(REPO / "build" / "collections"))
    from ansible_collections.msp.conditional_access.plugins.module_utils._auth import Authenticator
    from ansible_collections.msp.conditional_access.plugins.module_utils._graph import GraphClient

    os.environ.update(handle.env)
    graph = GraphClient(Authenticator({"tenant_id": MSP, "client_id": handle.env["AZURE_CLIENT_ID"],
                                       "client_secret": handle.env["AZURE_CLIENT_SECRET"],
                                       "graph_endpoint": handle.env["MSGRAPH_ENDPOINT"],
                                       "authority_host": handle.env["AZURE_AUTHORITY_HOST"]}))
    try:
        graph.get("/organization")  # the token first, outside the timing
        started = time.monotonic()
        for tid in tenant_ids:
            try:
                graph.get("/tenantRelationships/findTenantInformationByTenantId(tenantId='%s')" % tid)
            except Exception:  # the one unknown tenant (404) costs a request too
                pass
        return {"wall_s": time.monotonic() - started, "requests": len(tenant_ids)}
    finally:
        graph.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=500)
    parser.add_argument("--latency-ms", type=float, default=80)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "inventory.md"))
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))
    from sandbox.fixtures import inventory_customer, inventory_fleet
    from sandbox.testing import start_sandbox

    with tempfile.TemporaryDirectory() as tmp:
        fixture = inventory_fleet(customers=args.tenants)
        path = Path(tmp) / "fleet.json"
        path.write_text(json.dumps(fixture))
        config = Path(tmp) / "bench.tenants.yml"
        config.write_text("plugin: msp.conditional_access.tenants\nsource: gdap\nmsp_tenant_id: %s\n" % MSP)
        handle = start_sandbox(str(path), str(Path(tmp) / "state"))
        try:
            handle.client.set_faults(latency_ms=args.latency_ms)
            env = ansible_env(handle.env)
            runs = [one_run(handle, config, env) for _ in range(args.runs)]
            in_force = [inventory_customer(n) for n in range(1, args.tenants + 1) if n != 24] + [MSP]
            single = one_by_one(handle, in_force)
        finally:
            handle.stop()
    med = {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "discovery_s")}
    first = runs[0]
    lines = [
        "# Tenant discovery: %d GDAP customers (`python -m bench.inventory --tenants %d --latency-ms %g --runs %d`)"
        % (args.tenants, args.tenants, args.latency_ms, args.runs), "",
        "Sandbox with %g ms latency per Graph HTTP request; %d relationships; machine: 2 shared cores." % (
            args.latency_ms, len(fixture["tenants"][MSP]["delegatedAdminRelationships"])), "",
        "| figure | value |", "|---|---|",
        "| hosts in the inventory | %d (%d clients + the MSP) |" % (first["hosts"], first["hosts"] - 1),
        "| HTTP requests per run | %d: %d login, %d relationship pages, %d `$batch`, %d role list |" % (
            first["http_requests"], first["login_requests"], first["relationship_pages"], first["batches"],
            first["graph_requests"] - first["relationship_pages"] - first["batches"]),
        "| tenant lookups inside the batches | %d |" % first["lookups_in_batches"],
        "| discovery time (plugin, median of %d) | %.1f s (runs: %s) |" % (
            args.runs, med["discovery_s"], ", ".join("%.1f" % r["discovery_s"] for r in runs)),
        "| `ansible-inventory --list` wall time (median) | %.1f s (runs: %s) |" % (
            med["wall_s"], ", ".join("%.1f" % r["wall_s"] for r in runs)),
        "| the same %d lookups one GET at a time (no `$batch`) | %d requests, %.1f s |" % (
            single["requests"], single["requests"], single["wall_s"]), ""]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
