"""Request log, counters, fault switches, the control API, fixtures.generate and the serve command."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from conftest import DEMO_FIXTURE, REPO
from sandbox.fixtures import generate
from sandbox_testlib import EXCLUSION_FIXTURE, LOCATIONS, POLICIES, Graph, ip_location, new_policy
from sandbox_testlib import graph, trust_sandbox_ca  # noqa: F401 pylint: disable=unused-import (pytest fixtures)


def test_log_entries_and_counters(graph, sandbox_reset):
    client = sandbox_reset.client
    since = client.log()[-1]["seq"]
    created = graph.create(POLICIES, new_policy())
    graph.call("PATCH", POLICIES + "/" + created["id"], {"displayName": "renamed"})
    graph.error("POST", POLICIES, new_policy(conditions={"users": {}}))
    graph.get(POLICIES + "?$top=5")
    entries = client.log(tenant=graph.tenant, since=since)
    assert [(e["method"], e["status"], e["write"]) for e in entries] == [
        ("POST", 201, True), ("PATCH", 204, True), ("POST", 400, False), ("GET", 200, False)]
    first = entries[0]
    assert set(first) >= {"seq", "time", "tenant", "api", "method", "path", "query", "status", "write", "body", "version"}
    assert first["api"] == "graph" and first["path"] == POLICIES and first["version"] == "v1.0"
    assert first["body"]["displayName"] == "Sandbox test" and entries[-1]["query"] == {"$top": "5"}
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    counters = client.counters()
    assert counters["writes"][graph.tenant] == 2 == len(client.writes(graph.tenant))
    assert counters["requests"][graph.tenant] == len(client.log(tenant=graph.tenant))
    client.reset()
    assert client.log() == [] and client.counters()["writes"] == {}
    assert all(p["displayName"] != "renamed" for p in client.policies(graph.tenant))


def test_throttle_is_a_sliding_second_without_retry_after(graph, sandbox_reset):
    sandbox_reset.client.set_faults(tenant=graph.tenant, throttle_rps=2)
    burst = [graph.get(POLICIES) for _attempt in range(4)]
    assert [r.status_code for r in burst[:2]] == [200, 200]
    throttled = [r for r in burst if r.status_code == 429]
    assert throttled and all("Retry-After" not in r.headers for r in throttled)
    assert throttled[0].json()["error"]["code"] == "TooManyRequests"
    assert graph.get("/v1.0/users").status_code == 200  # only the CA endpoints are limited
    time.sleep(1.05)
    assert graph.get(POLICIES).status_code == 200
    assert sandbox_reset.client.counters()["throttled"][graph.tenant] == len(throttled)
    other = Graph(sandbox_reset, "22222222-2222-4222-8222-222222222222")
    assert [other.get(POLICIES).status_code for _attempt in range(2)] == [200, 200]  # per tenant


def test_unavailable_every_nth_with_retry_after(graph, sandbox_reset):
    sandbox_reset.client.set_faults(tenant=graph.tenant, unavailable_every=2, retry_after=7)
    statuses = [graph.get(POLICIES) for _attempt in range(4)]
    assert [r.status_code for r in statuses] == [200, 503, 200, 503]
    assert statuses[1].headers["Retry-After"] == "7"


def test_replication_lag(graph, sandbox_reset):
    sandbox_reset.client.set_faults(tenant=graph.tenant, replication_lag=2)
    lid = graph.create(LOCATIONS, ip_location("fresh"))["id"]
    body = new_policy(conditions={"users": {"includeUsers": ["All"]}, "applications": {"includeApplications": ["All"]},
                                  "locations": {"includeLocations": ["All"], "excludeLocations": [lid]}})
    assert graph.error("POST", POLICIES, body).startswith("1040:")
    assert [graph.get(LOCATIONS + "/" + lid).status_code for _attempt in range(2)] == [404, 200]
    assert graph.call("POST", POLICIES, body).status_code == 201


def test_forbidden_error_500_latency_and_dropped_connections(graph, sandbox_reset):
    client = sandbox_reset.client
    client.set_faults(tenant=graph.tenant, forbidden=True)
    denied = graph.get(POLICIES)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "Authorization_RequestDenied"
    client.reset()
    client.set_faults(tenant=graph.tenant, error_500_after=1)
    assert [graph.get(POLICIES).status_code for _attempt in range(2)] == [200, 500]
    client.reset()
    client.set_faults(tenant=graph.tenant, latency_ms=300)
    started = time.monotonic()
    graph.get(POLICIES)
    assert time.monotonic() - started >= 0.3
    client.reset()
    client.set_faults(tenant=graph.tenant, drop_connection_every=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        graph.get(POLICIES)
    assert client.log(tenant=graph.tenant)[-1]["status"] == 0
    client.reset()
    assert client.set_faults(tenant=None, latency_ms=0)["None"] == {"latency_ms": 0}


def test_seed_and_tamper_through_the_control_api(graph, sandbox_reset):
    client = sandbox_reset.client
    seeded = client.put_policy(graph.tenant, dict(new_policy(displayName="seeded"), id="5eed0000-0000-4000-8000-000000000001"))
    assert seeded["conditions"]["users"]["excludeUsers"] == []  # stored as Graph would return it
    assert graph.get(POLICIES + "/5eed0000-0000-4000-8000-000000000001").json()["displayName"] == "seeded"
    client.put_location(graph.tenant, dict(ip_location("seeded"), id="5eed0000-0000-4000-8000-000000000002"))
    assert [loc["displayName"] for loc in client.locations(graph.tenant)] == ["seeded"]
    assert client.writes(graph.tenant) == []  # control calls are not Graph writes
    assert set(client.tenant(graph.tenant)) >= {"policies", "namedLocations", "deleted", "users", "groups",
                                                "securityDefaults", "subscribedSkus"}


def test_generate_builds_a_valid_fleet():
    from sandbox.graph import check_policy_rules
    from sandbox.validation import validate

    fleet = generate(4, 6, seed=3)
    assert generate(4, 6, seed=3) == fleet and generate(4, 6, seed=4) != fleet
    clients = [t for t in fleet["tenants"] if t != fleet["msp_tenant_id"]]
    assert len(fleet["tenants"]) == 4 and len(clients) == 3
    for tid in clients:
        tenant = fleet["tenants"][tid]
        assert len(tenant["policies"]) == 6 and len({p["id"] for p in tenant["policies"]}) == 6
        for policy in tenant["policies"][:2]:
            body = {k: v for k, v in policy.items() if k not in ("id", "createdDateTime", "modifiedDateTime")}
            assert validate("POST", POLICIES, body) == []
            check_policy_rules(policy, dict(tenant, securityDefaults={"isEnabled": False}), "v1.0", {}, lambda lid: False)


def test_committed_fixtures_are_what_the_builders_make():
    from sandbox.fixtures import demo, exclusion

    assert json.loads(DEMO_FIXTURE.read_text()) == json.loads(json.dumps(demo()))
    built = json.loads(EXCLUSION_FIXTURE.read_text())
    assert built == json.loads(json.dumps(exclusion()))
    policies = built["tenants"]["66666666-6666-4666-8666-666666666666"]["policies"]
    assert len(policies) == 120 and any(p["displayName"].startswith("Microsoft-managed:") for p in policies)
    assert any(p["state"] == "disabled" for p in policies)


def test_serve_writes_env_file_and_stops_cleanly_on_sigterm(tmp_path):
    state = tmp_path / "state dir"
    process = subprocess.Popen([sys.executable, "-m", "sandbox", "serve", "--fixture", str(DEMO_FIXTURE),
                                "--state-dir", str(state)], cwd=str(REPO), stdout=subprocess.PIPE, text=True,
                               env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        info = json.loads(process.stdout.readline())
        assert info["url"].startswith("https://127.0.0.1:") and os.path.exists(info["ca_bundle"])
        env_text = open(info["env_file"]).read()
        for name in ("AZURE_AUTHORITY_HOST", "MSGRAPH_ENDPOINT", "CIPP_API_URL", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE",
                     "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"):
            assert "export %s=" % name in env_text
        shell = subprocess.run(["bash", "-c", 'source "$0" && echo "$AZURE_AUTHORITY_HOST|$SSL_CERT_FILE"',
                                info["env_file"]], capture_output=True, text=True, check=True)
        assert shell.stdout.strip() == "%s|%s" % (info["url"], info["ca_bundle"])
        assert requests.get(info["url"] + "/_sandbox/counters", verify=info["ca_bundle"]).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
