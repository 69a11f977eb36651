"""The tenants inventory plugin through real `ansible-inventory --list` runs on the sandbox (and one Part D run).

Fixture: sandbox.fixtures.inventory_fleet() - 120 GDAP relationships over 100 customers (two pages), a customer with
an expired second relationship, MLT_ relationships, one without a CA role, ends in 10 days with and without
auto-extend, a terminated one, one whose domain Graph does not know, and CIPP tenants with groups, an excluded and a
direct tenant. Expectations are written out from that description, not computed by the plugin's code.
"""

import contextlib
import datetime
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import BIN, DEMO_FIXTURE, REPO, ansible_env, load_fixture, run_ansible_playbook
from sandbox.fixtures import CA_ADMIN, gdap_relationship, inventory_customer, inventory_fleet
from sandbox.testing import start_sandbox

MSP = "11111111-1111-4111-8111-111111111111"
MSP_HOST = "contoso-msp.onmicrosoft.com"
TODAY = datetime.date.today()
CAA, HELPDESK, READER = "Conditional Access Administrator", "Helpdesk Administrator", "Global Reader"


def day(offset):
    return (TODAY + datetime.timedelta(days=offset)).isoformat() + "T00:00:00Z"


def domain(n):
    return "client%03d.onmicrosoft.com" % n


def unwrap(value):
    """ansible-core 2.19 marks inventory strings as untrusted in --list output: {"__ansible_unsafe": "..."}."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


class Inventory:
    def __init__(self, proc):
        self.rc, self.stdout, self.stderr = proc.returncode, proc.stdout, proc.stderr
        data = unwrap(json.loads(proc.stdout)) if proc.stdout.strip().startswith("{") else {}
        self.hostvars = data.get("_meta", {}).get("hostvars", {})
        self.groups = {name: sorted(g.get("hosts", [])) for name, g in data.items() if name not in ("_meta", "all")}
        for name in data.get("all", {}).get("children", []):
            self.groups.setdefault(name, [])
        self.groups.pop("ungrouped", None)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """A sandbox of its own with the inventory fleet fixture (plus an app without GDAP permissions)."""
    folder = tmp_path_factory.mktemp("inventory")
    fixture = inventory_fleet(TODAY)
    fixture["apps"].append({"client_id": "a0a0a0a0-0000-4000-8000-00000000ad01", "client_secret": "no-gdap-secret",
                            "display_name": "no GDAP permission", "roles": ["Policy.Read.All"]})
    path = folder / "fleet.json"
    path.write_text(json.dumps(fixture))
    handle = start_sandbox(str(path), str(folder / "state"))
    handle.fixture_path, handle.folder = path, folder
    yield handle
    handle.stop()


@pytest.fixture
def fresh(fleet):
    fleet.client.reset(fixture=str(fleet.fixture_path))
    return fleet


def run_inventory(sandbox, config, name="fleet", extra_env=None, files=None, folder=None):
    folder = Path(folder or sandbox.folder) / name
    folder.mkdir(exist_ok=True)
    (folder / ("%s.tenants.yml" % name)).write_text(yaml.safe_dump(dict(
        {"plugin": "msp.conditional_access.tenants", "msp_tenant_id": MSP}, **config)))
    for rel, text in (files or {}).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    # as the collection's ansible.cfg sets it: a source that fails stops the run
    env = ansible_env(dict(sandbox.env, ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="true", **(extra_env or {})))
    proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(folder / ("%s.tenants.yml" % name)), "--list"],
                          env=env, capture_output=True, text=True, timeout=300, cwd=str(REPO))
    return Inventory(proc)


def graph_requests(sandbox):
    """(method, path) of the HTTP requests the sandbox got on Graph (batch sub-requests not counted)."""
    return [(e["method"], e["path"]) for e in sandbox.client.log() if e["api"] == "graph" and not e.get("batch")]


def expected_gdap_host(n):
    roles, rels, end, extend = [CAA], ["GDAP client%03d" % n], day(400), True
    if 2 <= n <= 18:
        roles, rels = [CAA, HELPDESK], rels + ["GDAP client%03d helpdesk" % n]
    elif n == 20:
        roles = [READER, HELPDESK]
    elif n in (21, 22):
        end, extend = day(10), n == 22
    elif n == 23:
        end, extend = day(20), False
    return {"tenant_id": inventory_customer(n), "tenant_name": "Client %03d" % n if n != 25 else "Client 025",
            "tenant_domain": domain(n) if n != 25 else None, "access_mode": "gdap", "ansible_connection": "local",
            "gdap_roles": sorted(roles), "gdap_relationships": sorted(rels), "gdap_relationship_end": end,
            "gdap_auto_extend": extend}


def test_gdap_hosts_vars_groups_and_requests(fresh):
    inventory = run_inventory(fresh, {"source": "gdap"})
    assert inventory.rc == 0, inventory.stderr
    names = {n: domain(n) for n in range(1, 101) if n not in (24, 25)}
    names[25] = inventory_customer(25)  # Graph does not know its domain: named by tenant id, with a warning
    assert "has no known default domain" in inventory.stderr
    expected = {names[n]: expected_gdap_host(n) for n in names}
    expected[MSP_HOST] = {"tenant_id": MSP, "tenant_name": "Contoso MSP", "tenant_domain": MSP_HOST,
                          "ansible_connection": "local"}
    assert inventory.hostvars == expected
    assert inventory.groups == {
        "clients": sorted(names.values()), "msp": [MSP_HOST], "direct_tenants": [],
        "gdap_missing_ca_role": [domain(20)], "gdap_expiring": [domain(21), domain(23)]}
    # two pages of relationships, 100 tenants (99 customers + the MSP) in five batches of 20, one role list
    requests = graph_requests(fresh)
    relationships = "/v1.0/tenantRelationships/delegatedAdminRelationships"
    assert [r for r in requests if r[1] == relationships] == [("GET", relationships)] * 2
    assert requests.count(("POST", "/v1.0/$batch")) == 5
    assert len(requests) == 8, requests
    infos = [e for e in fresh.client.log() if e.get("batch")]
    assert len(infos) == 100 and {e["path"].split("'")[1] for e in infos} == \
        {inventory_customer(n) for n in range(1, 101) if n != 24} | {MSP}


def test_constructed_include_exclude_filters(fresh):
    inventory = run_inventory(fresh, {
        "source": "gdap", "include": ["CLIENT00*", inventory_customer(50)], "exclude": [domain(3)],
        "filters": ["'Helpdesk Administrator' in gdap_roles"],
        "keyed_groups": [{"key": "access_mode", "prefix": "mode"}],
        "groups": {"helpdesk": "'Helpdesk Administrator' in gdap_roles"},
        "compose": {"client_exclusion_mode": "access_mode"}})
    assert inventory.rc == 0, inventory.stderr
    kept = [domain(n) for n in (2, 4, 5, 6, 7, 8, 9)]
    assert sorted(inventory.hostvars) == sorted(kept + [MSP_HOST])
    assert inventory.groups["clients"] == kept and inventory.groups["helpdesk"] == kept
    assert inventory.groups["mode_gdap"] == kept
    assert {inventory.hostvars[h]["client_exclusion_mode"] for h in kept} == {"gdap"}
    assert inventory.groups["gdap_missing_ca_role"] == [] and inventory.groups["gdap_expiring"] == []

    other = run_inventory(fresh, {"source": "gdap", "hostname": "name", "include": ["client 02?"],
                                  "msp_hostname": "the-msp"})
    assert other.rc == 0, other.stderr
    assert other.groups["clients"] == ["client-%03d" % n for n in (20, 21, 22, 23, 25, 26, 27, 28, 29)]
    assert other.groups["msp"] == ["the-msp"]
    clash = run_inventory(fresh, {"source": "gdap", "msp_hostname": "clients"})
    assert clash.rc != 0 and "msp_hostname='clients'" in clash.stderr

    broken = run_inventory(fresh, {"source": "gdap", "filters": ["no_such_var.attr"]})
    assert broken.rc != 0 and "filters=" in broken.stderr


def test_cipp_tenants_groups_excluded_direct(fresh):
    inventory = run_inventory(fresh, {"source": "cipp"}, name="cipp")
    assert inventory.rc == 0, inventory.stderr

    def cipp_host(n, groups, **extra):
        tid = inventory_customer(n)
        host = {"tenant_id": tid, "tenant_name": "Client %03d" % n, "tenant_domain": domain(n), "access_mode": "gdap",
                "ansible_connection": "local", "cipp_excluded": False, "cipp_groups": groups,
                "gdap_relationship_end": "2027-09-30T00:00:00Z", "gdap_auto_extend": True}
        host.update(extra)
        return host
    direct = {"tenant_id": inventory_customer(900), "tenant_name": "Direct Client",
              "tenant_domain": "direct001.onmicrosoft.com", "access_mode": "direct", "ansible_connection": "local",
              "cipp_excluded": False, "cipp_groups": ["Finance & Legal"]}
    assert inventory.hostvars == {
        domain(1): cipp_host(1, ["Pilot ring"]), domain(2): cipp_host(2, ["Finance & Legal", "Pilot ring"]),
        domain(3): cipp_host(3, [], gdap_relationship_end=day(10), gdap_auto_extend=False),
        "direct001.onmicrosoft.com": direct,
        MSP_HOST: {"tenant_id": MSP, "tenant_name": "Contoso MSP", "tenant_domain": MSP_HOST,
                   "ansible_connection": "local"}}
    assert inventory.groups == {
        "clients": [domain(1), domain(2), domain(3), "direct001.onmicrosoft.com"], "msp": [MSP_HOST],
        "direct_tenants": ["direct001.onmicrosoft.com"], "gdap_expiring": [domain(3)],
        "cipp_pilot_ring": [domain(1), domain(2)], "cipp_finance_legal": [domain(2), "direct001.onmicrosoft.com"]}
    cipp_calls = [e["path"] for e in fresh.client.log() if e["api"] == "cipp"]
    assert cipp_calls == ["/api/ListTenants", "/api/ListTenantGroups"]

    # excluded tenants on request: the editor role may not list them, an admin may
    denied = run_inventory(fresh, {"source": "cipp", "cipp_include_excluded": True}, name="cipp")
    assert denied.rc != 0 and "CIPP.AppSettings.ReadWrite" in denied.stderr
    app = load_fixture()["apps"][0]
    fresh.client.set_cipp(clients=[dict(load_fixture()["cipp"]["clients"][0], Role="admin",
                                        IPRange=json.dumps(["127.0.0.1/32"]))])
    with_excluded = run_inventory(fresh, {"source": "cipp", "cipp_include_excluded": True}, name="cipp")
    assert with_excluded.rc == 0, with_excluded.stderr
    assert with_excluded.hostvars[domain(4)]["cipp_excluded"] is True
    assert app["client_secret"] not in with_excluded.stdout + with_excluded.stderr


def test_cache_serves_the_second_run(fresh):
    cache = fresh.folder / "cache"
    config = {"source": "gdap", "cache": True, "cache_plugin": "ansible.builtin.jsonfile",
              "cache_connection": str(cache), "cache_timeout": 600, "include": [domain(1)]}
    first = run_inventory(fresh, config, name="cached")
    assert first.rc == 0, first.stderr
    seen = len(graph_requests(fresh))
    assert seen == 8
    second = run_inventory(fresh, config, name="cached")
    assert second.rc == 0 and second.hostvars == first.hostvars
    assert len(graph_requests(fresh)) == seen  # nothing asked of Graph
    stored = "".join(p.read_text() for p in cache.iterdir())
    assert inventory_customer(1) in stored and load_fixture()["apps"][0]["client_secret"] not in stored


def test_missing_permissions_are_named(fresh):
    no_gdap = {"AZURE_CLIENT_ID": "a0a0a0a0-0000-4000-8000-00000000ad01", "AZURE_CLIENT_SECRET": "no-gdap-secret"}
    inventory = run_inventory(fresh, {"source": "gdap"}, extra_env=no_gdap)
    assert inventory.rc != 0 and inventory.hostvars == {}
    assert "DelegatedAdminRelationship.Read.All" in inventory.stderr and "403" in inventory.stderr
    assert "no-gdap-secret" not in inventory.stderr

    # a CIPP custom role that does not hold CIPP.Core.Read
    fresh.client._call("POST", "/cipp", {"custom_roles": {"custom-reporting": {"Permissions": []}}, "clients": [
        dict(load_fixture()["cipp"]["clients"][0], Role="custom-reporting", IPRange=json.dumps(["127.0.0.1/32"]))]})
    cipp = run_inventory(fresh, {"source": "cipp"}, name="cipp")
    assert cipp.rc != 0 and "CIPP.Core.Read" in cipp.stderr

    before = len(fresh.client.log())
    secret = run_inventory(fresh, {"source": "gdap", "client_secret": "in-the-file"})
    assert secret.rc != 0 and "AZURE_CLIENT_SECRET" in secret.stderr and "in-the-file" not in secret.stderr
    assert len(fresh.client.log()) == before  # refused before anything was asked


def test_empty_result_fails_unless_allowed(fresh, tmp_path):
    fixture = inventory_fleet(TODAY)
    fixture["tenants"][MSP]["delegatedAdminRelationships"] = [
        gdap_relationship(inventory_customer(1), "Client 001", "MLT_client001", [CA_ADMIN]),
        gdap_relationship(inventory_customer(2), "Client 002", "GDAP client002", [CA_ADMIN], status="terminated")]
    path = tmp_path / "empty.json"
    path.write_text(json.dumps(fixture))
    fresh.client.reset(fixture=str(path))
    inventory = run_inventory(fresh, {"source": "gdap"})
    assert inventory.rc != 0 and inventory.hostvars == {}
    assert "found no client tenant" in inventory.stderr and "allow_empty" in inventory.stderr
    allowed = run_inventory(fresh, {"source": "gdap", "allow_empty": True})
    assert allowed.rc == 0 and sorted(allowed.hostvars) == [MSP_HOST] and allowed.groups["clients"] == []
    fresh.client.reset(fixture=str(fresh.fixture_path))
    everything_excluded = run_inventory(fresh, {"source": "gdap", "exclude": ["*"]})
    assert everything_excluded.rc != 0 and "left none" in everything_excluded.stderr


def test_throttling_is_retried_then_reported(fresh):
    fresh.client.set_faults(tenant=MSP, gdap_throttle_every=4, retry_after=1)
    inventory = run_inventory(fresh, {"source": "gdap"})
    assert inventory.rc == 0, inventory.stderr
    assert len(inventory.groups["clients"]) == 99
    assert fresh.client.counters()["throttled"][MSP] > 0
    fresh.client.set_faults(tenant=MSP, gdap_throttle_every=1, retry_after=1)
    throttled = run_inventory(fresh, {"source": "gdap"})
    assert throttled.rc != 0 and "429" in throttled.stderr


def test_part_d_reaches_every_discovered_tenant_and_no_other(sandbox, tmp_path):
    """Part D (playbooks/client_tenants.yml) on inventories/sandbox-dynamic: the CA requests in the sandbox log come
    from exactly the discovered client tenants. Litware is a sandbox tenant that CIPP excludes and GDAP only reaches
    through an MLT_ relationship: nothing may touch it."""
    fixture = load_fixture()
    litware = "66666666-6666-4666-8666-666666666666"
    fixture["tenants"][litware] = dict(fixture["tenants"]["22222222-2222-4222-8222-222222222222"],
                                       display_name="Litware", default_domain="litware.onmicrosoft.com")
    fixture["tenants"][MSP]["delegatedAdminRelationships"].append(
        gdap_relationship(litware, "Litware", "MLT_Litware", [CA_ADMIN]))
    fixture["cipp"]["tenants"].append(dict(fixture["cipp"]["tenants"][0], customerId=litware, displayName="Litware",
                                           defaultDomainName="litware.onmicrosoft.com", Excluded=True))
    path = tmp_path / "part_d.json"
    path.write_text(json.dumps(fixture))
    sandbox.client.reset(fixture=str(path))
    try:
        result = run_ansible_playbook(str(REPO / "playbooks" / "client_tenants.yml"), ansible_env(sandbox.env),
                                      inventory=str(REPO / "inventories" / "sandbox-dynamic"))
        assert result.rc == 0, result.stdout[-3000:] + result.stderr[-2000:]
        clients = {"22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333",
                   "44444444-4444-4444-8444-444444444444", "55555555-5555-4555-8555-555555555555"}
        ca = {e["tenant"] for e in sandbox.client.log() if e["api"] == "graph" and "/conditionalAccess/" in e["path"]}
        assert ca == clients
        assert all(e["tenant"] != litware for e in sandbox.client.log())
        assert {r["host"] for r in result.results} >= {"fabrikam.onmicrosoft.com", "northwind.onmicrosoft.com",
                                                       "tailspin.onmicrosoft.com", "woodgrove.onmicrosoft.com"}
    finally:
        sandbox.client.reset(fixture=str(DEMO_FIXTURE))


@contextlib.contextmanager
def discovered_check_run(sandbox, tmp_path, tenant_id, change):
    """client_tenants.yml --check on the discovered inventory after ``change(relationship)`` on each of the MSP's
    GDAP relationships with ``tenant_id``; yields the result, then puts the sandbox back on the demo fixture."""
    fixture = load_fixture()
    for relationship in fixture["tenants"][MSP]["delegatedAdminRelationships"]:
        if relationship["customer"]["tenantId"] == tenant_id:
            change(relationship)
    path = tmp_path / "changed_relationships.json"
    path.write_text(json.dumps(fixture))
    sandbox.client.reset(fixture=str(path))
    try:
        yield run_ansible_playbook(str(REPO / "playbooks" / "client_tenants.yml"), ansible_env(sandbox.env),
                                   check=True, inventory=str(REPO / "inventories" / "sandbox-dynamic"))
    finally:
        sandbox.client.reset(fixture=str(DEMO_FIXTURE))


def test_missing_ca_role_is_reported_before_part_d(sandbox, tmp_path):
    """A discovered tenant in gdap_missing_ca_role stops at the input checks (named, nothing sent to its CA
    endpoints); the other tenants run."""
    tailspin = "44444444-4444-4444-8444-444444444444"

    def global_reader_only(relationship):
        relationship["accessDetails"]["unifiedRoles"] = [{"roleDefinitionId": "f2ef992c-3afb-46b9-b7cf-a126ee74c451"}]

    with discovered_check_run(sandbox, tmp_path, tailspin, global_reader_only) as result:
        assert result.rc != 0
        failed = [r for r in result.results if r["status"] == "failed" and r["host"] == "tailspin.onmicrosoft.com"]
        assert failed and "no GDAP relationship of the MSP grants Conditional Access Administrator" in \
            failed[0]["result"]["msg"] and "Global Reader" in failed[0]["result"]["msg"]
        ca = {e["tenant"] for e in sandbox.client.log() if e["api"] == "graph" and "/conditionalAccess/" in e["path"]}
        assert ca == {"22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333",
                      "55555555-5555-4555-8555-555555555555"}
        assert sandbox.client.writes() == []


def test_expiring_gdap_access_is_warned_and_part_d_still_runs(sandbox, tmp_path):
    """A tenant whose GDAP access ends within 30 days, with no auto-extend, gets a warning from the Part D input
    check naming the end date; its Part D still runs (a warning, not a refusal)."""
    fabrikam = "22222222-2222-4222-8222-222222222222"
    soon = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with discovered_check_run(sandbox, tmp_path, fabrikam,
                              lambda relationship: relationship.update(endDateTime=soon, autoExtendDuration="PT0S")
                              ) as result:
        assert result.rc == 0, result.stdout[-3000:]
        warned = {r["host"]: r["result"].get("warnings") or [] for r in result.results
                  if r["task"] == "Check the Part D variables"}
        expiring = [w for w in warned["fabrikam.onmicrosoft.com"] if "does not auto-extend" in str(w)]
        assert expiring and soon[:10] in str(expiring[0]), warned["fabrikam.onmicrosoft.com"]
        assert not any("auto-extend" in str(w) for host, ws in warned.items() if host != "fabrikam.onmicrosoft.com"
                       for w in ws)
        assert any(e["tenant"] == fabrikam and "/conditionalAccess/" in e["path"] for e in sandbox.client.log())
