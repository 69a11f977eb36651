"""ca_policy / ca_policy_info against the sandbox: the module's own EXAMPLES (Parts A and B) run as written."""

import json

import pytest
import yaml

from conftest import REPO, msp_tenant_id

POLICY_MODULE = REPO / "plugins" / "modules" / "ca_policy.py"


def examples():
    namespace = {}
    source = POLICY_MODULE.read_text()
    exec(compile(source.split("from ansible_collections")[0], str(POLICY_MODULE), "exec"), namespace)
    return yaml.safe_load(namespace["EXAMPLES"])


def play(tasks):
    return json.dumps([{"hosts": "localhost", "gather_facts": False,
                        "module_defaults": {"group/msp.conditional_access.graph": {"tenant_id": "{{ tenant }}"}},
                        "tasks": tasks}], indent=1)


def by_name(sandbox, tenant, name):
    return [p for p in sandbox.client.policies(tenant) if p["displayName"] == name]


def writes(sandbox, tenant):
    return [e for e in sandbox.client.log(tenant=tenant) if e["write"] and e["api"] == "graph"]


@pytest.fixture
def tenant(sandbox_reset):
    return msp_tenant_id()


def run(run_playbook, tenant, tasks, **kw):
    return run_playbook(play(tasks), extra_vars={"tenant": tenant}, **kw)


LOCATION = {"name": "location", "msp.conditional_access.ca_named_location": {
    "display_name": "Trusted - MSP Office", "is_trusted": True, "ip_ranges": ["203.0.113.0/24"]}}


def users_of(policy):
    return policy["conditions"]["users"]


def test_part_a_example_report_only_then_enabled(sandbox, run_playbook, tenant):
    part_a = examples()[0]
    part_a["name"] = "part_a"
    fixture = sandbox.client.tenant(tenant)
    ids = {u["userPrincipalName"]: u["id"] for u in fixture["users"]}
    group = {g["displayName"]: g["id"] for g in fixture["groups"]}["CIPP Technicians"]

    result = run(run_playbook, tenant, [LOCATION, part_a])
    assert result.rc == 0, result.stdout[-3000:]
    [stored] = by_name(sandbox, tenant, "Block CIPP Access - Outside Trusted IPs")
    [location] = [loc for loc in sandbox.client.locations(tenant) if loc["displayName"] == "Trusted - MSP Office"]
    assert stored["state"] == "enabledForReportingButNotEnforced"
    assert users_of(stored)["includeGroups"] == [group]
    assert users_of(stored)["excludeUsers"] == [ids["breakglass01@contoso-msp.onmicrosoft.com"]]
    assert stored["conditions"]["locations"] == {"includeLocations": ["All"], "excludeLocations": [location["id"]]}
    assert stored["grantControls"]["builtInControls"] == ["block"]
    diff = result.task("part_a")["diff"]
    assert diff["before"] == {}
    assert diff["after"]["users"]["include_groups"] == ["CIPP Technicians"]
    assert diff["after"]["locations"]["exclude_locations"] == ["Trusted - MSP Office"]

    count = len(writes(sandbox, tenant))
    again = run(run_playbook, tenant, [LOCATION, part_a])
    assert again.rc == 0 and again.changed == 0, again.stdout[-2000:]
    assert len(writes(sandbox, tenant)) == count

    # promote after validation: check mode first (diff in names, nothing written), then for real
    enabled = dict(part_a, **{"msp.conditional_access.ca_policy": dict(part_a["msp.conditional_access.ca_policy"],
                                                                        policy_state="enabled")})
    checked = run(run_playbook, tenant, [enabled], check=True)
    assert checked.rc == 0 and checked.task("part_a")["changed"] is True
    assert checked.task("part_a")["diff"]["before"]["state"] == "report_only"
    assert checked.task("part_a")["diff"]["after"]["state"] == "enabled"
    assert len(writes(sandbox, tenant)) == count
    applied = run(run_playbook, tenant, [enabled])
    assert applied.rc == 0
    [stored] = by_name(sandbox, tenant, "Block CIPP Access - Outside Trusted IPs")
    assert stored["state"] == "enabled"
    [patch] = writes(sandbox, tenant)[count:]
    assert patch["body"] == {"state": "enabled"}


def test_part_b_example_every_time_with_beta_fallback(sandbox, run_playbook, tenant):
    sandbox.client.set_faults(tenant=tenant, everytime_requires_beta=True)
    part_b = examples()[1]
    part_b["name"] = "part_b"
    result = run(run_playbook, tenant, [part_b])
    assert result.rc == 0, result.stdout[-3000:]
    [stored] = by_name(sandbox, tenant, "CIPP Service Account Conditional Access Policy")
    svc = [u["id"] for u in sandbox.client.tenant(tenant)["users"]
           if u["userPrincipalName"] == "cipp-svc@contoso-msp.onmicrosoft.com"]
    assert users_of(stored)["includeUsers"] == svc
    assert stored["conditions"]["applications"]["includeApplications"] == ["All"]
    assert stored["conditions"]["locations"] is None
    assert stored["grantControls"]["builtInControls"] == ["mfa"]
    assert stored["sessionControls"]["signInFrequency"] == {
        "isEnabled": True, "frequencyInterval": "everyTime", "authenticationType": "primaryAndSecondaryAuthentication"}
    assert stored["state"] == "enabled"
    posts = [e for e in writes(sandbox, tenant) if e["method"] == "POST"]
    assert [e["version"] for e in posts] == ["beta"]
    refused = [e for e in sandbox.client.log(tenant=tenant) if e["method"] == "POST" and e["status"] == 400]
    assert [e["version"] for e in refused] == ["v1.0"]
    again = run(run_playbook, tenant, [part_b])
    assert again.rc == 0 and again.changed == 0


def test_existing_exclusions_are_kept_and_lockout_guard(sandbox, run_playbook, tenant):
    name = "CA001-Global-BaseProtection-AllApps-AnyPlatform-MFA"
    [before] = by_name(sandbox, tenant, name)
    task = {"name": "p", "msp.conditional_access.ca_policy": {
        "display_name": name, "conditions": {"users": {"exclude_users": ["cipp-svc@contoso-msp.onmicrosoft.com"]}},
        "break_glass_accounts": ["breakglass01@contoso-msp.onmicrosoft.com"]}}
    result = run(run_playbook, tenant, [task])
    assert result.rc == 0, result.stdout[-2000:]
    [after] = by_name(sandbox, tenant, name)
    assert users_of(after)["excludeUsers"][:2] == users_of(before)["excludeUsers"]
    assert len(users_of(after)["excludeUsers"]) == 3
    assert users_of(after)["includeUsers"] == ["All"]
    [patch] = writes(sandbox, tenant)
    assert set(patch["body"]["conditions"]["users"]) >= {"includeUsers", "excludeUsers", "includeGroups"}

    # a blocking policy that would lock out the second break-glass account is refused before any write
    count = len(writes(sandbox, tenant))
    risky = {"name": "risky", "msp.conditional_access.ca_policy": {
        "display_name": "Block everyone", "policy_state": "enabled",
        "break_glass_accounts": ["breakglass01@contoso-msp.onmicrosoft.com", "breakglass02@contoso-msp.onmicrosoft.com"],
        "conditions": {"users": {"include_users": ["All"], "exclude_users": ["breakglass01@contoso-msp.onmicrosoft.com"]},
                       "applications": {"include_applications": ["All"]}},
        "grant_controls": {"operator": "OR", "built_in_controls": ["block"]}}}
    refused = run(run_playbook, tenant, [risky])
    assert refused.rc != 0
    assert "breakglass02@contoso-msp.onmicrosoft.com" in refused.task("risky")["msg"]
    assert len(writes(sandbox, tenant)) == count


@pytest.mark.parametrize("conditions, option, value", [
    ({"users": {"include_groups": ["No Such Group"]}, "applications": {"include_applications": ["All"]}},
     "conditions.users.include_groups", "No Such Group"),
    ({"users": {"include_users": ["ghost@contoso-msp.onmicrosoft.com"]}, "applications": {"include_applications": ["All"]}},
     "conditions.users.include_users", "ghost@contoso-msp.onmicrosoft.com"),
    ({"users": {"include_users": ["All"]}, "applications": {"include_applications": []}},
     "conditions.applications.include_applications", "[]"),
    ({"users": {"include_users": ["All"]}, "applications": {"include_applications": ["All"]},
      "locations": {"include_locations": ["Nowhere"]}}, "conditions.locations.include_locations", "Nowhere"),
])
def test_resolution_failures_and_graph_rules_write_nothing(sandbox, run_playbook, tenant, conditions, option, value):
    task = {"name": "bad", "msp.conditional_access.ca_policy": {
        "display_name": "Bad (test)", "conditions": conditions,
        "grant_controls": {"operator": "OR", "built_in_controls": ["mfa"]}}}
    result = run(run_playbook, tenant, [task])
    assert result.rc != 0
    msg = result.task("bad")["msg"]
    assert msg.startswith(option + "=") and value in msg, msg
    assert writes(sandbox, tenant) == []


def test_every_time_with_period_refused_before_sending(sandbox, run_playbook, tenant):
    task = {"name": "bad", "msp.conditional_access.ca_policy": {
        "display_name": "Bad SIF", "conditions": {"users": {"include_users": ["All"]},
                                                  "applications": {"include_applications": ["All"]}},
        "grant_controls": {"built_in_controls": ["mfa"]},
        "session_controls": {"sign_in_frequency": {"frequency_interval": "every_time", "type": "hours", "value": 4}}}}
    result = run(run_playbook, tenant, [task])
    assert result.rc != 0 and "every_time" in result.task("bad")["msg"]
    assert writes(sandbox, tenant) == []


def test_microsoft_managed_policy_only_state_and_exclusions(sandbox, run_playbook, tenant):
    mmp = {"id": "33333333-0000-4000-8000-00000000aaaa", "displayName": "Microsoft-managed: MFA for admins",
           "state": "enabledForReportingButNotEnforced",
           "conditions": {"users": {"includeRoles": ["62e90394-69f5-4237-9190-012177145e10"]},
                          "applications": {"includeApplications": ["MicrosoftAdminPortals"]}, "clientAppTypes": ["all"]},
           "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}}
    sandbox.client.put_policy(tenant, mmp)
    ok = run(run_playbook, tenant, [{"name": "m", "msp.conditional_access.ca_policy": {
        "display_name": mmp["displayName"], "policy_state": "enabled",
        "conditions": {"users": {"exclude_users": ["breakglass01@contoso-msp.onmicrosoft.com"]}}}}])
    assert ok.rc == 0, ok.stdout[-2000:]
    refused = run(run_playbook, tenant, [{"name": "m", "msp.conditional_access.ca_policy": {
        "display_name": mmp["displayName"], "grant_controls": {"operator": "OR", "built_in_controls": ["compliant_device"]}}}])
    assert refused.rc != 0 and "Clone it" in refused.task("m")["msg"]
    gone = run(run_playbook, tenant, [{"name": "m", "msp.conditional_access.ca_policy": {
        "display_name": mmp["displayName"], "state": "absent"}}])
    assert gone.rc != 0 and "cannot be deleted" in gone.task("m")["msg"]


def test_delete_and_info_export(sandbox, run_playbook, tenant):
    info = run(run_playbook, tenant, [{"name": "info", "msp.conditional_access.ca_policy_info": {}}])
    assert info.rc == 0
    [entry] = info.task("info")["policies"]
    assert entry["users"]["exclude_users"] == ["breakglass01@contoso-msp.onmicrosoft.com",
                                               "breakglass02@contoso-msp.onmicrosoft.com"]
    deleted = run(run_playbook, tenant, [{"name": "d", "msp.conditional_access.ca_policy": {
        "display_name": entry["display_name"], "state": "absent"}}])
    assert deleted.rc == 0 and deleted.task("d")["changed"] is True
    assert by_name(sandbox, tenant, entry["display_name"]) == []
    assert not [e for e in sandbox.client.log(tenant=tenant) if e["status"] == 400 and "1007" in json.dumps(e)]
