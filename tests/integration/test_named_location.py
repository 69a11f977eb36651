"""ca_named_location / ca_named_location_info against the sandbox, through real ansible-playbook runs."""

import pytest

from conftest import msp_tenant_id

LOCATIONS = "/identity/conditionalAccess/namedLocations"

PLAY = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/msp.conditional_access.graph:
      tenant_id: "{{ tenant }}"
  tasks:
    - name: location
      msp.conditional_access.ca_named_location: %s
"""


def play(args, module="ca_named_location", task="location"):
    import json
    return PLAY.replace("name: location", "name: " + task).replace("ca_named_location:", module + ":") % json.dumps(args)


def graph_writes(sandbox, tenant):
    return [e for e in sandbox.client.log(tenant=tenant) if e["write"] and e["api"] == "graph"]


def locations_named(sandbox, tenant, name):
    return [loc for loc in sandbox.client.locations(tenant) if loc["displayName"] == name]


@pytest.fixture
def tenant(sandbox_reset):
    return msp_tenant_id()


def run(run_playbook, tenant, args, **kwargs):
    return run_playbook(play(args), extra_vars={"tenant": tenant}, **kwargs)


def run_info(run_playbook, tenant, args):
    """ca_named_location_info in a task named "info"."""
    return run_playbook(play(args, "ca_named_location_info", "info"), extra_vars={"tenant": tenant})


def test_lifecycle_create_idempotent_modify_checkmode_delete(sandbox, run_playbook, tenant):
    name = "Trusted - MSP Office (test)"
    args = {"display_name": name, "is_trusted": True, "ip_ranges": ["203.0.113.10", "198.51.100.0/24"]}

    created = run(run_playbook, tenant, args)
    assert created.rc == 0, created.stdout
    assert created.task("location")["changed"] is True
    [stored] = locations_named(sandbox, tenant, name)
    assert stored["@odata.type"] == "#microsoft.graph.ipNamedLocation"
    assert stored["isTrusted"] is True
    assert sorted(r["cidrAddress"] for r in stored["ipRanges"]) == ["198.51.100.0/24", "203.0.113.10/32"]
    assert {r["@odata.type"] for r in stored["ipRanges"]} == {"#microsoft.graph.iPv4CidrRange"}
    assert created.task("location")["named_location"]["id"] == stored["id"]

    # same ranges written differently: no change, no write
    before = len(graph_writes(sandbox, tenant))
    again = run(run_playbook, tenant, dict(args, ip_ranges=["198.51.100.77/24", "203.0.113.10/32"]))
    assert again.rc == 0 and again.task("location")["changed"] is False
    assert len(graph_writes(sandbox, tenant)) == before

    # check mode: a diff with the new range, nothing written
    wider = dict(args, ip_ranges=["203.0.113.10", "198.51.100.0/24", "2001:db8:10::/48"])
    checked = run(run_playbook, tenant, wider, check=True)
    assert checked.rc == 0 and checked.task("location")["changed"] is True
    diff = checked.task("location")["diff"]
    assert diff["before"]["ip_ranges"] == ["198.51.100.0/24", "203.0.113.10/32"]
    assert diff["after"]["ip_ranges"] == ["198.51.100.0/24", "203.0.113.10/32", "2001:db8:10::/48"]
    assert diff["after"]["display_name"] == name
    assert len(graph_writes(sandbox, tenant)) == before

    # apply: one PATCH carrying the full list with per-family types
    applied = run(run_playbook, tenant, wider)
    assert applied.rc == 0 and applied.task("location")["changed"] is True
    [patch] = graph_writes(sandbox, tenant)[before:]
    assert patch["method"] == "PATCH" and patch["body"]["@odata.type"] == "#microsoft.graph.ipNamedLocation"
    assert {(r["@odata.type"], r["cidrAddress"]) for r in patch["body"]["ipRanges"]} == {
        ("#microsoft.graph.iPv4CidrRange", "198.51.100.0/24"), ("#microsoft.graph.iPv4CidrRange", "203.0.113.10/32"),
        ("#microsoft.graph.iPv6CidrRange", "2001:db8:10::/48")}
    [stored] = locations_named(sandbox, tenant, name)
    assert len(stored["ipRanges"]) == 3

    # delete: trusted, so it is untrusted first, then deleted
    deleted = run(run_playbook, tenant, {"display_name": name, "state": "absent"})
    assert deleted.rc == 0 and deleted.task("location")["changed"] is True, deleted.stdout
    assert locations_named(sandbox, tenant, name) == []
    methods = [w["method"] for w in graph_writes(sandbox, tenant)[before + 1:]]
    assert methods == ["PATCH", "DELETE"]
    gone = run(run_playbook, tenant, {"display_name": name, "state": "absent"})
    assert gone.rc == 0 and gone.task("location")["changed"] is False


def test_country_location_and_type_change_refused(sandbox, run_playbook, tenant):
    name = "Allowed countries (test)"
    created = run(run_playbook, tenant, {"display_name": name, "countries_and_regions": ["nl", "BE"]})
    assert created.rc == 0, created.stdout
    [stored] = locations_named(sandbox, tenant, name)
    assert stored["@odata.type"] == "#microsoft.graph.countryNamedLocation"
    assert sorted(stored["countriesAndRegions"]) == ["BE", "NL"]
    # "not trusted" is what a country location is anyway: accepted, and no isTrusted goes to Graph (it refuses it)
    writes = len(graph_writes(sandbox, tenant))
    untrusted = run(run_playbook, tenant, {"display_name": name, "countries_and_regions": ["NL", "BE", "DE"],
                                           "is_trusted": False})
    assert untrusted.rc == 0, untrusted.stdout
    [patch] = graph_writes(sandbox, tenant)[writes:]
    assert "isTrusted" not in patch["body"] and sorted(patch["body"]["countriesAndRegions"]) == ["BE", "DE", "NL"]
    writes = len(graph_writes(sandbox, tenant))
    switched = run(run_playbook, tenant, {"display_name": name, "ip_ranges": ["203.0.113.0/24"]})
    assert switched.rc != 0
    assert "cannot change the type" in switched.task("location")["msg"]
    assert len(graph_writes(sandbox, tenant)) == writes


@pytest.mark.parametrize("args, option, value", [
    ({"ip_ranges": ["10.0.0.0/8"]}, "ip_ranges", "10.0.0.0/8"),
    ({"ip_ranges": ["203.0.113.0/24", "not-an-ip"]}, "ip_ranges", "not-an-ip"),
    ({"ip_ranges": []}, "ip_ranges", "[]"),
    ({"countries_and_regions": ["Narnia"]}, "countries_and_regions", "Narnia"),
    ({"countries_and_regions": ["NL"], "is_trusted": True}, "is_trusted", "True"),
    ({"ip_ranges": ["100.%d.%d.0/24" % (i // 250, i % 250) for i in range(2001)]}, "ip_ranges", "at most 2000"),
    ({"ip_ranges": ["2001::/8"]}, "ip_ranges", "2001::/8"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(sandbox, run_playbook, tenant, args, option, value):
    result = run(run_playbook, tenant, dict(args, display_name="Bad input (test)"))
    assert result.rc != 0
    msg = result.task("location")["msg"]
    assert msg.startswith(option + "=") and value in msg, msg
    assert graph_writes(sandbox, tenant) == []


def test_ambiguous_display_name_fails_listing_ids(sandbox, run_playbook, tenant):
    for lid in ("11111111-0000-4000-8000-000000000001", "11111111-0000-4000-8000-000000000002"):
        sandbox.client.put_location(tenant, {
            "@odata.type": "#microsoft.graph.ipNamedLocation", "id": lid, "displayName": "Twin office",
            "isTrusted": False, "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange",
                                              "cidrAddress": "192.0.2.0/24"}]})
    result = run(run_playbook, tenant, {"display_name": "Twin office", "ip_ranges": ["192.0.2.0/25"]})
    assert result.rc != 0
    msg = result.task("location")["msg"]
    assert "11111111-0000-4000-8000-000000000001" in msg and "11111111-0000-4000-8000-000000000002" in msg
    assert graph_writes(sandbox, tenant) == []
    # with the id, the task is unambiguous
    chosen = run(run_playbook, tenant, {"id": "11111111-0000-4000-8000-000000000002", "ip_ranges": ["192.0.2.0/25"]})
    assert chosen.rc == 0 and chosen.task("location")["changed"] is True


def test_name_differing_only_in_case_is_the_same_location(sandbox, run_playbook, tenant):
    assert run(run_playbook, tenant, {"display_name": "Branch Office (test)", "ip_ranges": ["192.0.2.0/24"]}).rc == 0
    writes = len(graph_writes(sandbox, tenant))
    renamed = run(run_playbook, tenant, {"display_name": "branch office (test)", "ip_ranges": ["192.0.2.0/24"]},
                  diff=True)
    assert renamed.rc == 0 and renamed.task("location")["changed"] is True
    [patch] = graph_writes(sandbox, tenant)[writes:]
    assert patch["method"] == "PATCH" and patch["body"]["displayName"] == "branch office (test)"
    assert [loc["displayName"] for loc in sandbox.client.locations(tenant)
            if loc["displayName"].lower() == "branch office (test)"] == ["branch office (test)"]


def test_info_with_an_unknown_id_returns_nothing(run_playbook, tenant):
    info = run_info(run_playbook, tenant, {"id": "99999999-0000-4000-8000-000000000000"})
    assert info.rc == 0, info.stdout
    assert info.task("info")["named_locations"] == []


def test_location_used_by_a_policy_is_not_deleted(sandbox, run_playbook, tenant):
    name = "Used office (test)"
    assert run(run_playbook, tenant, {"display_name": name, "ip_ranges": ["192.0.2.0/24"]}).rc == 0
    [loc] = locations_named(sandbox, tenant, name)
    sandbox.client.put_policy(tenant, {
        "id": "22222222-0000-4000-8000-000000000001", "displayName": "Block outside office (test)",
        "state": "enabledForReportingButNotEnforced",
        "conditions": {"users": {"includeUsers": ["All"], "excludeUsers": [], "includeGroups": [], "excludeGroups": [],
                                 "includeRoles": [], "excludeRoles": []},
                       "applications": {"includeApplications": ["All"]}, "clientAppTypes": ["all"],
                       "locations": {"includeLocations": ["All"], "excludeLocations": [loc["id"]]}},
        "grantControls": {"operator": "OR", "builtInControls": ["block"]}})
    writes = len(graph_writes(sandbox, tenant))
    refused = run(run_playbook, tenant, {"display_name": name, "state": "absent"})
    assert refused.rc != 0
    assert "Block outside office (test)" in refused.task("location")["msg"]
    assert len(graph_writes(sandbox, tenant)) == writes
    assert locations_named(sandbox, tenant, name)

    info = run_info(run_playbook, tenant, {"display_name": name, "with_references": True})
    assert info.rc == 0
    [entry] = info.task("info")["named_locations"]
    assert entry["used_by"] == [{"id": "22222222-0000-4000-8000-000000000001",
                                 "display_name": "Block outside office (test)"}]

    # force: the module deletes it anyway; Graph is then the judge (the sandbox refuses an in-use delete)
    forced = run(run_playbook, tenant, {"display_name": name, "state": "absent", "force": True})
    assert forced.rc != 0
    assert "Block outside office (test)" in forced.task("location")["msg"]
    [attempt] = [e for e in sandbox.client.log(tenant) if e["method"] == "DELETE"]
    assert attempt["status"] == 400 and attempt["path"].endswith(loc["id"])
    assert locations_named(sandbox, tenant, name)


def test_throttling_storm_and_replication_lag_converge(sandbox, run_playbook, tenant):
    # half a request per second forces 429s (without Retry-After) despite the module's own pacing
    sandbox.client.set_faults(tenant=tenant, throttle_rps=0.5, replication_lag=2)
    name = "Throttled office (test)"
    created = run(run_playbook, tenant, {"display_name": name, "is_trusted": True, "ip_ranges": ["192.0.2.0/24"]})
    assert created.rc == 0, created.stdout
    deleted = run(run_playbook, tenant, {"display_name": name, "state": "absent"})
    assert deleted.rc == 0, deleted.stdout
    assert locations_named(sandbox, tenant, name) == []
    assert sandbox.client.counters()["throttled"].get(tenant, 0) > 0
