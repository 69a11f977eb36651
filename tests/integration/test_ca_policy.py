"""ca_policy / ca_policy_info against the sandbox. The module's own EXAMPLES (Parts A and B, the framework
policies, purge, backup re-apply, delete) are parsed from the module and run as written."""

import copy
import json

import pytest
import yaml

from conftest import REPO, msp_tenant_id
from sandbox.validation import validate

POLICY_MODULE = REPO / "plugins" / "modules" / "ca_policy.py"
MODULE = "msp.conditional_access.ca_policy"
INFO = "msp.conditional_access.ca_policy_info"
BG1, BG2 = "breakglass01@contoso-msp.onmicrosoft.com", "breakglass02@contoso-msp.onmicrosoft.com"
PART_A = "Block CIPP Access - Outside Trusted IPs"
PART_B = "CIPP Service Account Conditional Access Policy"


def examples():
    """EXAMPLES of ca_policy, keyed by task name, exactly as ansible-doc shows them."""
    namespace = {}
    source = POLICY_MODULE.read_text()
    exec(compile(source.split("from ansible_collections")[0], str(POLICY_MODULE), "exec"), namespace)
    return {task["name"]: task for task in yaml.safe_load(namespace["EXAMPLES"])}


def example(prefix):
    [task] = [t for name, t in examples().items() if name.startswith(prefix)]
    return copy.deepcopy(task)


def play(tasks):
    return json.dumps([{"hosts": "localhost", "gather_facts": False,
                        "module_defaults": {"group/msp.conditional_access.graph": {"tenant_id": "{{ tenant }}"}},
                        "tasks": tasks}], indent=1)


def by_name(sandbox, tenant, name):
    return [p for p in sandbox.client.policies(tenant) if p["displayName"] == name]


def writes(sandbox, tenant):
    return [e for e in sandbox.client.log(tenant=tenant) if e["write"] and e["api"] == "graph"]


def directory(sandbox, tenant):
    state = sandbox.client.tenant(tenant)
    ids = {u["userPrincipalName"]: u["id"] for u in state["users"]}
    ids.update({g["displayName"]: g["id"] for g in state["groups"]})
    ids.update({loc["displayName"]: loc["id"] for loc in state["namedLocations"]})
    return ids


@pytest.fixture
def tenant(sandbox_reset):
    """The MSP tenant, reset; afterwards every body the test sent must pass Graph's schema (no 1007)."""
    tid = msp_tenant_id()
    yield tid
    sent = [e for e in sandbox_reset.client.log(tenant=tid) if e["api"] == "graph" and e["method"] in ("POST", "PATCH")]
    for index, entry in enumerate(sent):
        path = "/v1.0/" + entry["path"].split("/", 2)[2]
        assert validate(entry["method"], path, entry["body"]) == [], entry
        if entry["status"] >= 400:
            # the only refusal allowed: v1.0 turning down every-time sign-in frequency, repeated on beta
            retry = sent[index + 1]
            assert (entry["version"], retry["version"], retry["body"]) == ("v1.0", "beta", entry["body"]), entry


def run(run_playbook, tenant, tasks, **kw):
    return run_playbook(play(tasks), extra_vars={"tenant": tenant}, **kw)


LOCATION = {"name": "location", "msp.conditional_access.ca_named_location": {
    "display_name": "Trusted - MSP Office", "is_trusted": True, "ip_ranges": ["203.0.113.0/24"]}}


def users_of(policy):
    return policy["conditions"]["users"]


def test_part_a_example_report_only_then_enabled(sandbox, run_playbook, tenant):
    part_a = example("Part A - block")
    result = run(run_playbook, tenant, [LOCATION, part_a])
    assert result.rc == 0, result.stdout[-3000:]
    ids = directory(sandbox, tenant)
    [stored] = by_name(sandbox, tenant, PART_A)
    assert stored["state"] == "enabledForReportingButNotEnforced"
    assert users_of(stored)["includeGroups"] == [ids["CIPP Technicians"]]
    assert users_of(stored)["excludeUsers"] == [ids[BG1]]
    assert stored["conditions"]["locations"] == {"includeLocations": ["All"],
                                                 "excludeLocations": [ids["Trusted - MSP Office"]]}
    assert stored["conditions"]["applications"]["includeApplications"] == ["All"]
    assert stored["grantControls"]["builtInControls"] == ["block"]
    task = result.task(part_a["name"])
    assert task["policy"]["id"] == stored["id"]
    assert task["diff"]["before"] == {}
    assert task["diff"]["after"]["conditions"]["users"] == {"include_groups": ["CIPP Technicians"], "exclude_users": [BG1]}
    assert task["diff"]["after"]["conditions"]["locations"]["exclude_locations"] == ["Trusted - MSP Office"]

    count = len(writes(sandbox, tenant))
    again = run(run_playbook, tenant, [LOCATION, part_a])
    assert again.rc == 0 and again.changed == 0, again.stdout[-2000:]
    assert len(writes(sandbox, tenant)) == count

    # step 7: validate in report-only, then switch to On - check mode first (names in the diff, nothing written)
    part_a[MODULE]["policy_state"] = "enabled"
    checked = run(run_playbook, tenant, [part_a], check=True)
    assert checked.rc == 0 and checked.task(part_a["name"])["changed"] is True
    diff = checked.task(part_a["name"])["diff"]
    assert (diff["before"]["policy_state"], diff["after"]["policy_state"]) == ("report_only", "enabled")
    assert diff["after"]["conditions"]["locations"]["exclude_locations"] == ["Trusted - MSP Office"]
    assert len(writes(sandbox, tenant)) == count
    applied = run(run_playbook, tenant, [part_a])
    assert applied.rc == 0, applied.stdout[-2000:]
    [stored] = by_name(sandbox, tenant, PART_A)
    assert stored["state"] == "enabled"
    [patch] = writes(sandbox, tenant)[count:]
    assert patch["method"] == "PATCH" and patch["body"] == {"state": "enabled"}
    assert applied.task(part_a["name"])["policy"]["state"] == "enabled"  # read back from Graph


def test_part_b_example_every_time_through_beta_without_a_v1_attempt(sandbox, run_playbook, tenant):
    sandbox.client.set_faults(tenant=tenant, everytime_requires_beta=True)  # the 1038 reading: never met
    part_b = example("Part B")
    result = run(run_playbook, tenant, [part_b])
    assert result.rc == 0, result.stdout[-3000:]
    [stored] = by_name(sandbox, tenant, PART_B)
    assert users_of(stored)["includeUsers"] == [directory(sandbox, tenant)["cipp-svc@contoso-msp.onmicrosoft.com"]]
    assert users_of(stored)["excludeUsers"] == [] and stored["conditions"]["locations"] is None
    assert stored["conditions"]["applications"]["includeApplications"] == ["All"]
    assert stored["grantControls"]["builtInControls"] == ["mfa"]
    assert stored["sessionControls"]["signInFrequency"] == {
        "isEnabled": True, "frequencyInterval": "everyTime", "authenticationType": "primaryAndSecondaryAuthentication"}
    assert stored["state"] == "enabled"
    posts = [e for e in sandbox.client.log(tenant=tenant) if e["api"] == "graph" and e["method"] == "POST"]
    assert [(e["version"], e["status"]) for e in posts] == [("beta", 201)]
    again = run(run_playbook, tenant, [part_b])
    assert again.rc == 0 and again.changed == 0
    assert len([e for e in writes(sandbox, tenant) if e["method"] == "POST"]) == 1


def test_lifecycle_create_unchanged_modify_check_mode_delete(sandbox, run_playbook, tenant):
    """The narrow Part A example (Azure Static Web Apps, enabled at once: the lockout guard is satisfied)."""
    narrow = example("Part A, narrower")
    name = narrow[MODULE]["display_name"]
    created = run(run_playbook, tenant, [LOCATION, narrow, dict(narrow, name="again")])
    assert created.rc == 0, created.stdout[-3000:]
    assert created.task(narrow["name"])["changed"] is True and created.task("again")["changed"] is False
    [stored] = by_name(sandbox, tenant, name)
    assert stored["state"] == "enabled"
    assert stored["conditions"]["applications"]["includeApplications"] == ["d414ee2d-73e5-4e5b-bb16-03ef55fea597"]
    assert created.task(narrow["name"])["diff"]["after"]["conditions"]["applications"] == {
        "include_applications": ["Azure Static Web Apps"]}

    # modify: a second excluded user (merged with the break-glass one) and a description
    modify = copy.deepcopy(narrow)
    modify[MODULE]["description"] = "CIPP UI from the office only"
    modify[MODULE]["conditions"]["users"]["exclude_users"] = ["alice@contoso-msp.onmicrosoft.com"]
    count = len(writes(sandbox, tenant))
    checked = run(run_playbook, tenant, [modify], check=True)
    assert checked.rc == 0, checked.stdout[-3000:]
    assert checked.task(modify["name"])["changed"] is True
    assert len(writes(sandbox, tenant)) == count
    diff = checked.task(modify["name"])["diff"]
    assert diff["before"]["conditions"]["users"]["exclude_users"] == [BG1]
    assert diff["after"]["conditions"]["users"]["exclude_users"] == [BG1, "alice@contoso-msp.onmicrosoft.com"]
    assert diff["after"]["description"] == "CIPP UI from the office only"
    assert "d414ee2d" not in json.dumps(diff)  # names, not ids

    modified = run(run_playbook, tenant, [modify, dict(modify, name="again")])
    assert modified.rc == 0 and modified.task(modify["name"])["changed"] is True
    assert modified.task("again")["changed"] is False
    [patch] = writes(sandbox, tenant)[count:]
    ids = directory(sandbox, tenant)
    assert set(patch["body"]) == {"description", "conditions"}
    assert set(patch["body"]["conditions"]) == {"users"}  # only the changed section, the users object complete
    assert set(patch["body"]["conditions"]["users"]) >= {"includeUsers", "excludeUsers", "includeGroups", "excludeGroups",
                                                         "includeRoles", "excludeRoles"}
    assert patch["body"]["conditions"]["users"]["excludeUsers"] == [ids[BG1], ids["alice@contoso-msp.onmicrosoft.com"]]

    delete = {"name": "delete", MODULE: {"display_name": name, "state": "absent"}}
    count = len(writes(sandbox, tenant))
    checked = run(run_playbook, tenant, [delete], check=True)
    assert checked.task("delete")["changed"] is True and len(writes(sandbox, tenant)) == count
    deleted = run(run_playbook, tenant, [delete, dict(delete, name="again")])
    assert deleted.rc == 0 and deleted.task("delete")["changed"] is True and deleted.task("again")["changed"] is False
    assert by_name(sandbox, tenant, name) == []
    assert [e["method"] for e in writes(sandbox, tenant)[count:]] == ["DELETE"]


def test_framework_examples_purge_and_existing_exclusions(sandbox, run_playbook, tenant):
    legacy, admins = example("Framework policy - block legacy"), example("Framework policy - admins")
    purge = example("Make the break-glass exclusions exactly")
    ca001 = purge[MODULE]["display_name"]
    ids = directory(sandbox, tenant)
    # someone excluded an extra user and a group by hand: a task that adds an exclusion keeps them
    [before] = by_name(sandbox, tenant, ca001)
    seeded = copy.deepcopy(before)
    users_of(seeded)["excludeUsers"].append(ids["bob@contoso-msp.onmicrosoft.com"])
    users_of(seeded)["excludeGroups"] = [ids["All MSP Staff"]]
    sandbox.client.put_policy(tenant, seeded)
    add = {"name": "add", MODULE: {"display_name": ca001, "conditions": {"users": {
        "exclude_users": ["cipp-svc@contoso-msp.onmicrosoft.com"]}}}}

    result = run(run_playbook, tenant, [legacy, admins, add])
    assert result.rc == 0, result.stdout[-3000:]
    [stored_legacy] = by_name(sandbox, tenant, legacy[MODULE]["display_name"])
    assert stored_legacy["conditions"]["clientAppTypes"] == ["exchangeActiveSync", "other"]
    assert stored_legacy["state"] == "enabledForReportingButNotEnforced"
    [stored_admins] = by_name(sandbox, tenant, admins[MODULE]["display_name"])
    assert users_of(stored_admins)["includeRoles"] == ["62e90394-69f5-4237-9190-012177145e10",
                                                       "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
                                                       "194ae4cb-b126-40b2-bd5b-6091b380977d"]
    assert stored_admins["grantControls"]["authenticationStrength"]["id"] == "00000000-0000-0000-0000-000000000004"
    [kept] = by_name(sandbox, tenant, ca001)
    assert users_of(kept)["excludeUsers"] == users_of(seeded)["excludeUsers"] + [ids["cipp-svc@contoso-msp.onmicrosoft.com"]]
    assert users_of(kept)["excludeGroups"] == [ids["All MSP Staff"]]

    purged = run(run_playbook, tenant, [purge])
    assert purged.rc == 0, purged.stdout[-2000:]
    [after] = by_name(sandbox, tenant, ca001)
    assert users_of(after)["excludeUsers"] == [ids[BG1], ids[BG2]]
    assert users_of(after)["excludeGroups"] == []
    assert users_of(after)["includeUsers"] == ["All"] and after["grantControls"] == kept["grantControls"]

    # the naming framework refuses a name whose parts contradict the policy, before any request
    wrong = copy.deepcopy(legacy)
    wrong[MODULE]["display_name"] = "CA002-Global-AttackSurfaceReduction-AllApps-AnyPlatform-MFA-LegacyAuthentication"
    count = len(writes(sandbox, tenant))
    refused = run(run_playbook, tenant, [wrong])
    assert refused.rc != 0 and "GrantControl part MFA" in refused.task(wrong["name"])["msg"]
    assert len(writes(sandbox, tenant)) == count


def test_lockout_guard_on_every_write_that_leaves_a_policy_enabled(sandbox, run_playbook, tenant):
    """Changing the grant, purging exclusions and widening client app types are guarded too; MFA alone is not."""
    def task(name, **options):
        options.setdefault("break_glass_accounts", [BG1, BG2])
        return {"name": name, "ignore_errors": True, MODULE: dict(display_name="Devices", **options)}
    everyone = {"users": {"include_users": ["All"], "exclude_users": [BG1, BG2]},
                "applications": {"include_applications": ["All"]}, "client_app_types": ["all"]}  # widened
    result = run(run_playbook, tenant, [
        task("mfa", policy_state="enabled", conditions={"users": {"include_users": ["All"]},
                                                         "applications": {"include_applications": ["All"]},
                                                         "client_app_types": ["browser"]},
             grant_controls={"built_in_controls": ["mfa"]}),  # no exclusion needed: MFA is not a lockout
        task("grant", grant_controls={"built_in_controls": ["compliant_device"]}),  # nobody excluded yet
        task("exclude", conditions={"users": {"exclude_users": [BG1, BG2]}}),
        task("grant again", grant_controls={"built_in_controls": ["compliant_device"]}),
        task("purge", purge_exclusions=True, conditions={"users": {"exclude_users": [BG1]}}),
        task("no list", break_glass_accounts=[], conditions=everyone),
    ])
    assert result.task("mfa")["changed"] is True
    assert "requires a compliant device" in result.task("grant")["msg"] and BG1 in result.task("grant")["msg"]
    assert result.task("exclude")["changed"] is True and result.task("grant again")["changed"] is True
    assert "breakglass02" in result.task("purge")["msg"] and result.task("purge")["invalid_option"] == \
        "break_glass_accounts"
    assert "give break_glass_accounts" in result.task("no list")["msg"]
    [stored] = by_name(sandbox, tenant, "Devices")
    assert stored["grantControls"]["builtInControls"] == ["compliantDevice"]
    assert sorted(stored["conditions"]["users"]["excludeUsers"]) == sorted(directory(sandbox, tenant)[u] for u in (BG1, BG2))
    assert stored["conditions"]["clientAppTypes"] == ["browser"]


def test_a_concurrent_writer_between_plan_and_write_keeps_its_exclusion(sandbox, run_playbook, tenant):
    """An admin adds an exclusion after the task read the policy and before its PATCH: the task reads it again
    (its plan is older than the pacing window) and merges into that, so neither exclusion is lost."""
    create = {"name": "create", MODULE: {
        "display_name": "Concurrent", "policy_state": "report_only",
        "conditions": {"users": {"include_users": ["All"], "exclude_users": [BG1]},
                       "applications": {"include_applications": ["All"]}},
        "grant_controls": {"built_in_controls": ["mfa"]}}}
    assert run(run_playbook, tenant, [create]).rc == 0
    [stored] = by_name(sandbox, tenant, "Concurrent")
    ids = directory(sandbox, tenant)
    sandbox.client.add_hook(tenant, "/identity/conditionalAccess/policies/%s" % stored["id"],
                            {"conditions": {"users": {"excludeUsers": [ids[BG1], ids[BG2]]}}})
    add = {"name": "add", MODULE: {"display_name": "Concurrent",
                                    "conditions": {"users": {"exclude_users": ["alice@contoso-msp.onmicrosoft.com"]}}}}
    sandbox.client.set_faults(tenant=tenant, latency_ms=1200)  # the lookup of alice ages the plan past 1 s
    try:
        result = run(run_playbook, tenant, [add])
    finally:
        sandbox.client.set_faults(tenant=tenant, latency_ms=0)
    assert result.rc == 0 and result.task("add")["changed"] is True
    [after] = by_name(sandbox, tenant, "Concurrent")
    assert after["conditions"]["users"]["excludeUsers"] == [ids[BG1], ids[BG2], ids["alice@contoso-msp.onmicrosoft.com"]]


def test_lockout_guard_refuses_before_writing(sandbox, run_playbook, tenant):
    risky = {"name": "risky", "ignore_errors": True, MODULE: {
        "display_name": "Block everyone", "policy_state": "enabled", "break_glass_accounts": [BG1, BG2],
        "conditions": {"users": {"include_users": ["All"], "exclude_users": [BG1]},
                       "applications": {"include_applications": ["All"]}},
        "grant_controls": {"built_in_controls": ["block"]}}}
    no_list = copy.deepcopy(risky)
    no_list.update(name="no_list")
    no_list[MODULE].pop("break_glass_accounts")
    forced = copy.deepcopy(risky)
    forced.update(name="forced")
    forced[MODULE]["allow_lockout_risk"] = True
    forced[MODULE]["policy_state"] = "report_only"
    enable_later = {"name": "enable_later", "ignore_errors": True, MODULE: {
        "display_name": "Block everyone", "policy_state": "enabled", "break_glass_accounts": [BG1, BG2]}}
    result = run(run_playbook, tenant, [risky, no_list, forced, enable_later])
    assert "breakglass02@contoso-msp.onmicrosoft.com" in result.task("risky")["msg"]
    assert result.task("risky")["invalid_option"] == "break_glass_accounts"
    assert "give break_glass_accounts" in result.task("no_list")["msg"]
    assert result.task("forced")["changed"] is True
    # enabling the report-only policy later is guarded the same way
    assert "breakglass02" in result.task("enable_later")["msg"]
    assert [e["method"] for e in writes(sandbox, tenant)] == ["POST"]
    [stored] = by_name(sandbox, tenant, "Block everyone")
    assert stored["state"] == "enabledForReportingButNotEnforced"


BAD_INPUT = [
    ("group", {"users": {"include_groups": ["No Such Group"]}, "applications": {"include_applications": ["All"]}},
     "conditions.users.include_groups='No Such Group': no group with this name"),
    ("user", {"users": {"include_users": ["ghost@contoso-msp.onmicrosoft.com"]},
              "applications": {"include_applications": ["All"]}},
     "conditions.users.include_users='ghost@contoso-msp.onmicrosoft.com': no user"),
    ("role", {"users": {"include_roles": ["Chief Wizard"]}, "applications": {"include_applications": ["All"]}},
     "conditions.users.include_roles='Chief Wizard': no directory role"),
    ("location", {"users": {"include_users": ["All"]}, "applications": {"include_applications": ["All"]},
                  "locations": {"include_locations": ["Nowhere"]}}, "conditions.locations.include_locations='Nowhere'"),
    ("app", {"users": {"include_users": ["All"]}, "applications": {"include_applications": ["No Such App"]}},
     "conditions.applications.include_applications='No Such App': no application"),
    ("empty_apps", {"users": {"include_users": ["All"]}, "applications": {"include_applications": []}},
     "conditions.applications.include_applications=[]"),
    ("guests", {"users": {"include_users": ["All"], "exclude_guests_or_external_users": {
        "external_tenants": {"members": ["11111111-1111-4111-8111-111111111111"]}}},
        "applications": {"include_applications": ["All"]}}, "external tenants need guest_or_external_user_types"),
]


def test_bad_input_fails_naming_option_and_value_and_writes_nothing(sandbox, run_playbook, tenant):
    state = sandbox.client.tenant(tenant)
    dup = {"id": "33333333-0000-4000-8000-00000000dup1", "displayName": "Duplicate name",
           "state": "disabled", "conditions": {"users": {"includeUsers": ["All"]},
                                               "applications": {"includeApplications": ["All"]}},
           "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}}
    sandbox.client.put_policy(tenant, dup)
    sandbox.client.put_policy(tenant, dict(dup, id="33333333-0000-4000-8000-00000000dup2"))
    tasks = [{"name": name, "ignore_errors": True, MODULE: {
        "display_name": "Bad (%s)" % name, "conditions": conditions,
        "grant_controls": {"operator": "OR", "built_in_controls": ["mfa"]}}} for name, conditions, _ in BAD_INPUT]
    tasks.append({"name": "every_time_period", "ignore_errors": True, MODULE: {
        "display_name": "Bad SIF", "conditions": {"users": {"include_users": ["All"]},
                                                  "applications": {"include_applications": ["All"]}},
        "grant_controls": {"built_in_controls": ["mfa"]},
        "session_controls": {"sign_in_frequency": {"frequency_interval": "every_time", "type": "hours", "value": 4}}}})
    tasks.append({"name": "duplicate", "ignore_errors": True, MODULE: {"display_name": "Duplicate name",
                                                                       "policy_state": "enabled"}})
    result = run(run_playbook, tenant, tasks)
    for name, _, expected in BAD_INPUT:
        assert expected in result.task(name)["msg"], (name, result.task(name)["msg"])
    assert "session_controls.sign_in_frequency.type='hours'" in result.task("every_time_period")["msg"]
    msg = result.task("duplicate")["msg"]
    assert "2 Conditional Access policies have this name" in msg and "00000000dup1" in msg and "00000000dup2" in msg
    assert writes(sandbox, tenant) == []
    assert len(sandbox.client.policies(tenant)) == len(state["policies"]) + 2


def test_microsoft_managed_policy_only_state_and_exclusions(sandbox, run_playbook, tenant):
    mmp = {"id": "33333333-0000-4000-8000-00000000aaaa", "displayName": "Microsoft-managed: MFA for admins",
           "state": "enabledForReportingButNotEnforced", "templateId": "mmp-template",
           "conditions": {"users": {"includeRoles": ["62e90394-69f5-4237-9190-012177145e10"]},
                          "applications": {"includeApplications": ["MicrosoftAdminPortals"]}, "clientAppTypes": ["all"]},
           "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}}
    sandbox.client.put_policy(tenant, mmp)
    name = mmp["displayName"]
    result = run(run_playbook, tenant, [
        {"name": "ok", MODULE: {"display_name": name, "policy_state": "enabled",
                                "conditions": {"users": {"exclude_users": [BG1]}}}},
        {"name": "grant", "ignore_errors": True, MODULE: {
            "display_name": name, "grant_controls": {"built_in_controls": ["compliant_device"]}}},
        {"name": "apps", "ignore_errors": True, MODULE: {
            "display_name": name, "conditions": {"applications": {"include_applications": ["All"]}}}},
        {"name": "delete", "ignore_errors": True, MODULE: {"display_name": name, "state": "absent"}},
    ])
    assert result.task("ok")["changed"] is True
    for task in ("grant", "apps"):
        assert "Clone it under a new name" in result.task(task)["msg"], result.task(task)["msg"]
    assert "cannot be deleted" in result.task("delete")["msg"]
    [stored] = [p for p in sandbox.client.policies(tenant) if p["id"] == mmp["id"]]
    assert stored["state"] == "enabled" and users_of(stored)["excludeUsers"] == [directory(sandbox, tenant)[BG1]]
    assert stored["grantControls"]["builtInControls"] == ["mfa"]
    assert [e["method"] for e in writes(sandbox, tenant)] == ["PATCH"]


TOKEN_PROTECTION = {
    "id": "33333333-0000-4000-8000-00000000b0b0", "displayName": "Technicians - token protection",
    "description": "Desktop sign-in sessions bound to the device", "state": "enabledForReportingButNotEnforced",
    "conditions": {"users": {"includeUsers": ["All"]}, "applications": {"includeApplications": ["Office365"]},
                   "clientAppTypes": ["mobileAppsAndDesktopClients"],
                   "platforms": {"includePlatforms": ["windows"], "excludePlatforms": []}},
    "grantControls": None, "sessionControls": {"secureSignInSession": {"isEnabled": True}}}
PART_A_DESCRIPTION = "CIPP technicians only from the MSP office; break-glass excluded"


def test_info_export_reapplies_as_written(sandbox, run_playbook, tenant):
    """ca_policy_info output is ca_policy input: back up, delete, re-apply with the EXAMPLES task, same Graph policy,
    description and secureSignInSession included."""
    part_a, part_b = example("Part A - block"), example("Part B")
    part_a[MODULE]["description"] = PART_A_DESCRIPTION
    sandbox.client.put_policy(tenant, TOKEN_PROTECTION)
    setup = run(run_playbook, tenant, [LOCATION, part_a, part_b])
    assert setup.rc == 0, setup.stdout[-2000:]
    assert by_name(sandbox, tenant, PART_A)[0]["description"] == PART_A_DESCRIPTION
    original = {p["displayName"]: p for p in sandbox.client.policies(tenant)}
    backup = {"name": "backup", INFO: {}, "register": "backup"}
    info = run(run_playbook, tenant, [backup])
    assert info.rc == 0, info.stdout[-2000:]
    entries = {e["display_name"]: e for e in info.task("backup")["policies"]}
    assert entries[PART_A]["conditions"]["locations"] == {"include_locations": ["All"],
                                                          "exclude_locations": ["Trusted - MSP Office"]}
    assert entries[PART_A]["conditions"]["users"]["include_groups"] == ["CIPP Technicians"]
    assert entries[PART_B]["session_controls"]["sign_in_frequency"]["frequency_interval"] == "every_time"
    assert entries[PART_B]["policy_state"] == "enabled" and entries[PART_B]["managed"] is False
    assert entries["CA001-Global-BaseProtection-AllApps-AnyPlatform-MFA"]["conditions"]["users"]["exclude_users"] == [BG1, BG2]
    assert entries[PART_A]["description"] == PART_A_DESCRIPTION
    token = entries[TOKEN_PROTECTION["displayName"]]
    assert token["session_controls"] == {"secure_sign_in_session": {"is_enabled": True}}
    assert token["description"] == TOKEN_PROTECTION["description"]

    reapply = example("Re-apply a backup")
    delete = {"name": "delete", MODULE: {"display_name": PART_A, "state": "absent"}}
    filtered = {"name": "filtered", INFO: {"policy_states": ["report_only"]}}
    count = len(writes(sandbox, tenant))
    result = run(run_playbook, tenant, [backup, delete, reapply, dict(reapply, name="again"), filtered])
    assert result.rc == 0, result.stdout[-3000:]
    assert result.task("again")["changed"] is False
    # only the deleted policy is written back: every other export (token protection too) re-applies as a no-op
    assert [(e["method"], (e["body"] or {}).get("displayName")) for e in writes(sandbox, tenant)[count:]] == \
        [("DELETE", None), ("POST", PART_A)]
    [restored] = by_name(sandbox, tenant, PART_A)
    volatile = ("id", "createdDateTime", "modifiedDateTime")
    assert restored["description"] == PART_A_DESCRIPTION
    assert {k: v for k, v in restored.items() if k not in volatile} == \
        {k: v for k, v in original[PART_A].items() if k not in volatile}
    [kept] = by_name(sandbox, tenant, TOKEN_PROTECTION["displayName"])
    assert kept == original[TOKEN_PROTECTION["displayName"]]
    assert kept["sessionControls"]["secureSignInSession"] == {"isEnabled": True}
    assert sorted(p["display_name"] for p in result.task("filtered")["policies"]) == \
        [PART_A, TOKEN_PROTECTION["displayName"]]

    # and it can be set: a session control of its own (no grant needed), on a policy that had none
    secure = {"name": "secure", MODULE: {"display_name": PART_A, "session_controls": {
        "secure_sign_in_session": {"is_enabled": True}}}}
    count = len(writes(sandbox, tenant))
    applied = run(run_playbook, tenant, [secure, dict(secure, name="again")])
    assert applied.rc == 0 and applied.task("secure")["changed"] is True, applied.stdout[-2000:]
    assert applied.task("again")["changed"] is False
    [patch] = writes(sandbox, tenant)[count:]
    assert patch["body"] == {"sessionControls": {"secureSignInSession": {"isEnabled": True}}}
    [stored] = by_name(sandbox, tenant, PART_A)
    assert stored["sessionControls"] == {"secureSignInSession": {"isEnabled": True}}
    assert stored["grantControls"] == restored["grantControls"]
    assert applied.task("secure")["diff"]["after"]["session_controls"] == {"secure_sign_in_session": {"is_enabled": True}}


def ca_requests_by_run(sandbox, tenant):
    """Conditional Access requests of the tenant, grouped per playbook run (the tasks of a run share one login)."""
    runs = []
    for entry in sandbox.client.log(tenant=tenant):
        if entry["api"] == "login":
            runs.append([])
        elif entry["api"] == "graph" and "/identity/conditionalAccess" in entry["path"]:
            assert runs, "a Graph request before any login: %s" % entry
            runs[-1].append(entry)
    return [run_ for run_ in runs if run_]


def test_part_b_full_cycle_on_plain_v1_and_pacing(sandbox, run_playbook, tenant):
    """Part B as written, Graph v1.0 accepting every-time sign-in frequency (the module still writes it through beta,
    which documents it): create, no-op, modify (check mode first), delete; every task spaces its Conditional Access
    requests to the tenant about a second apart."""
    sandbox.client.set_faults(tenant=tenant, everytime_v1_accepted=True)  # the beta docs' reading, on v1.0
    part_b = example("Part B")
    svc = "cipp-svc@contoso-msp.onmicrosoft.com"
    created = run(run_playbook, tenant, [part_b])
    assert created.rc == 0 and created.task(part_b["name"])["changed"] is True, created.stdout[-3000:]
    ids = directory(sandbox, tenant)
    [stored] = by_name(sandbox, tenant, PART_B)
    assert users_of(stored)["includeUsers"] == [ids[svc]] and users_of(stored)["excludeUsers"] == []
    assert users_of(stored)["includeGroups"] == [] and users_of(stored)["includeRoles"] == []
    assert stored["conditions"]["applications"]["includeApplications"] == ["All"]
    assert stored["conditions"]["clientAppTypes"] == ["all"] and stored["conditions"]["locations"] is None
    assert stored["grantControls"]["builtInControls"] == ["mfa"] and stored["state"] == "enabled"
    assert stored["sessionControls"]["signInFrequency"] == {
        "isEnabled": True, "frequencyInterval": "everyTime", "authenticationType": "primaryAndSecondaryAuthentication"}
    [post] = writes(sandbox, tenant)
    assert (post["method"], post["version"], post["status"]) == ("POST", "beta", 201)
    assert not [e for e in sandbox.client.log(tenant=tenant) if e.get("version") == "v1.0" and e["write"]]
    assert any("every-time sign-in frequency" in w for w in created.task(part_b["name"])["warnings"])
    assert created.task(part_b["name"])["diff"]["after"]["conditions"]["users"] == {"include_users": [svc]}

    again = run(run_playbook, tenant, [part_b])
    assert again.rc == 0 and again.changed == 0 and again.task(part_b["name"])["changed"] is False
    assert len(writes(sandbox, tenant)) == 1

    modify = copy.deepcopy(part_b)
    modify[MODULE]["description"] = "CIPP-SAM service account: MFA on every sign-in"
    modify[MODULE]["grant_controls"] = {"operator": "OR", "built_in_controls": ["mfa", "compliant_device"]}
    checked = run(run_playbook, tenant, [modify], check=True)
    assert checked.rc == 0, checked.stdout[-3000:]
    assert checked.task(modify["name"])["changed"] is True, checked.stdout[-2000:]
    assert len(writes(sandbox, tenant)) == 1
    diff = checked.task(modify["name"])["diff"]
    assert diff["before"]["conditions"]["users"] == diff["after"]["conditions"]["users"] == {"include_users": [svc]}
    assert diff["before"]["grant_controls"]["built_in_controls"] == ["mfa"]
    assert diff["after"]["grant_controls"]["built_in_controls"] == ["mfa", "compliant_device"]
    assert diff["after"]["description"] == modify[MODULE]["description"]
    assert ids[svc] not in json.dumps(diff)  # names, not ids
    assert by_name(sandbox, tenant, PART_B) == [stored]

    modified = run(run_playbook, tenant, [modify, dict(modify, name="again")])
    assert modified.rc == 0 and modified.task(modify["name"])["changed"] is True, modified.stdout[-2000:]
    assert modified.task("again")["changed"] is False
    [patch] = writes(sandbox, tenant)[1:]
    assert patch["method"] == "PATCH" and patch["version"] == "beta"
    assert set(patch["body"]) == {"description", "grantControls"}
    [after] = by_name(sandbox, tenant, PART_B)
    assert after["description"] == modify[MODULE]["description"]
    assert after["grantControls"]["builtInControls"] == ["mfa", "compliantDevice"]
    assert after["sessionControls"] == stored["sessionControls"] and after["conditions"] == stored["conditions"]

    delete = {"name": "delete", MODULE: {"display_name": PART_B, "state": "absent"}}
    checked = run(run_playbook, tenant, [delete], check=True)
    assert checked.task("delete")["changed"] is True and len(writes(sandbox, tenant)) == 2
    deleted = run(run_playbook, tenant, [delete, dict(delete, name="again")])
    assert deleted.rc == 0 and deleted.task("delete")["changed"] is True and deleted.task("again")["changed"] is False
    assert by_name(sandbox, tenant, PART_B) == []
    assert [e["method"] for e in writes(sandbox, tenant)] == ["POST", "PATCH", "DELETE"]

    # pacing: Conditional Access allows 1 request/second/tenant, so the requests of a playbook run are spaced
    # out, also from one task to the next (the tasks run in the worker processes, one right after the other)
    runs = ca_requests_by_run(sandbox, tenant)
    assert len(runs) == 6 and sum(len(r) for r in runs) == 12
    gaps = [b["time"] - a["time"] for r in runs for a, b in zip(r, r[1:])]
    assert len(gaps) == 6 and min(gaps) >= 0.9, gaps
    assert sandbox.client.counters()["throttled"].get(tenant, 0) == 0
