"""Issue 16, module side, against the sandbox with both readings of each switch: every-time sign-in frequency
through /beta, removing one session control, the read-back after every write, application keywords Graph returns,
names for authentication strengths / terms of use / authentication contexts / the compliant network location,
and Microsoft-managed and SharePoint-made policies in Part D."""

import json

import pytest

from conftest import msp_tenant_id

POLICY = "msp.conditional_access.ca_policy"
INFO = "msp.conditional_access.ca_policy_info"
EXCLUSION = "msp.conditional_access.ca_client_exclusion"
PATH = "/identity/conditionalAccess/policies"
FABRIKAM = "22222222-2222-4222-8222-222222222222"
TAILSPIN = "44444444-4444-4444-8444-444444444444"
SVC = "cipp-svc@contoso-msp.onmicrosoft.com"
EVERY_TIME = {"sign_in_frequency": {"frequency_interval": "every_time"}}


def play(*tasks):
    return json.dumps([{"hosts": "localhost", "gather_facts": False,
                        "module_defaults": {"group/msp.conditional_access.graph": {"tenant_id": "{{ tenant }}"}},
                        "tasks": [dict({"name": name, "ignore_errors": True}, **{module: args})
                                  for name, module, args in tasks]}], indent=1)


@pytest.fixture
def run(sandbox_reset, run_playbook):
    def go(*tasks, tenant=None, check=False):
        return run_playbook(play(*tasks), extra_vars={"tenant": tenant or msp_tenant_id()}, check=check)
    return go


def policy_args(name, **extra):
    args = {"display_name": name, "policy_state": "report_only",
            "conditions": {"users": {"include_users": [SVC]}, "applications": {"include_applications": ["All"]},
                           "client_app_types": ["all"]},
            "grant_controls": {"operator": "OR", "built_in_controls": ["mfa"]}}
    args.update(extra)
    return args


def graph_log(sandbox, tenant=None, method=None):
    return [e for e in sandbox.client.log(tenant=tenant or msp_tenant_id()) if e["api"] == "graph"
            and PATH in e["path"] and (method is None or e["method"] == method)]


def stored(sandbox, name, tenant=None):
    [found] = [p for p in sandbox.client.policies(tenant or msp_tenant_id()) if p["displayName"] == name]
    return found


def ok(result, name):
    out = result.task(name)
    assert not out.get("failed"), (out.get("msg"), result.stdout[-2000:])
    return out


# -- every-time sign-in frequency ------------------------------------------------------------------------------
@pytest.mark.parametrize("switch", [{}, {"everytime_v1_accepted": True}])
def test_every_time_goes_to_beta_without_a_failed_v1_attempt(sandbox, run, switch):
    sandbox.client.set_faults(tenant=msp_tenant_id(), **switch)
    result = run(("b", POLICY, policy_args("Every time", session_controls=EVERY_TIME)),
                 ("again", POLICY, policy_args("Every time", session_controls=EVERY_TIME, policy_state="disabled")))
    assert ok(result, "b")["changed"] is True and ok(result, "again")["changed"] is True
    writes = [(e["method"], e["version"], e["status"]) for e in graph_log(sandbox) if e["method"] != "GET"]
    assert writes == [("POST", "beta", 201), ("PATCH", "beta", 204)]
    assert any("/beta" in w for w in result.task("b")["warnings"])
    assert stored(sandbox, "Every time")["sessionControls"]["signInFrequency"]["frequencyInterval"] == "everyTime"


def test_any_400_naming_beta_falls_back_and_says_what_it_saw(sandbox, run):
    sandbox.client.set_faults(tenant=msp_tenant_id(), v1_preview_refusal="This feature needs the beta endpoint.")
    result = run(("p", POLICY, policy_args("Preview")))
    out = ok(result, "p")
    assert [(e["version"], e["status"]) for e in graph_log(sandbox, method="POST")] == [("v1.0", 400), ("beta", 201)]
    assert any("This feature needs the beta endpoint." in w for w in out["warnings"])
    sandbox.client.set_faults(tenant=msp_tenant_id(), v1_preview_refusal="1007: something else entirely")
    other = run(("q", POLICY, policy_args("Other"))).task("q")
    assert other["failed"] is True and "something else entirely" in other["msg"]
    assert [e["version"] for e in graph_log(sandbox, method="POST")][-1] == "v1.0"  # no beta retry for that


# -- removing one session control -----------------------------------------------------------------------------
TWO_CONTROLS = {"persistent_browser": {"mode": "never"}, "sign_in_frequency": {"type": "hours", "value": 4}}


@pytest.mark.parametrize("switch", [{}, {"session_nested_null_clears": True}])
def test_removing_one_session_control(sandbox, run, switch):
    sandbox.client.set_faults(tenant=msp_tenant_id(), **switch)
    created = run(("two", POLICY, policy_args("Sessions", session_controls=TWO_CONTROLS)))
    ok(created, "two")
    result = run(("one", POLICY, policy_args("Sessions", session_controls={
        "sign_in_frequency": {"type": "hours", "value": 4}})))
    out = ok(result, "one")
    assert out["changed"] is True
    session = stored(sandbox, "Sessions")["sessionControls"]
    assert session.get("persistentBrowser") is None and session["signInFrequency"]["value"] == 4
    again = run(("one", POLICY, policy_args("Sessions", session_controls={
        "sign_in_frequency": {"type": "hours", "value": 4}})))
    assert ok(again, "one")["changed"] is False


def test_session_removal_that_cannot_be_nulled_fails_when_graph_keeps_it(sandbox, run):
    only_session = policy_args("Only sessions", session_controls=TWO_CONTROLS)
    only_session.pop("grant_controls")
    ok(run(("two", POLICY, only_session)), "two")
    one = dict(only_session, session_controls={"sign_in_frequency": {"type": "hours", "value": 4}})
    out = run(("one", POLICY, one)).task("one")
    assert out["failed"] is True and "persistent" in out["msg"].lower()
    assert stored(sandbox, "Only sessions")["sessionControls"]["persistentBrowser"] is not None


# -- read-back after every write ------------------------------------------------------------------------------
def test_a_silent_no_op_is_an_error_not_changed(sandbox, run):
    ok(run(("make", POLICY, policy_args("Noop"))), "make")
    sandbox.client.set_faults(tenant=msp_tenant_id(), patch_noop=True)
    out = run(("on", POLICY, policy_args("Noop", policy_state="disabled"))).task("on")
    assert out["failed"] is True and "read" in out["msg"].lower() and out.get("changed") is not True
    assert stored(sandbox, "Noop")["state"] == "enabledForReportingButNotEnforced"


def test_a_silent_no_op_on_a_named_location_is_an_error(sandbox, run):
    location = "msp.conditional_access.ca_named_location"
    ok(run(("make", location, {"display_name": "Office", "ip_ranges": ["203.0.113.0/24"]})), "make")
    sandbox.client.set_faults(tenant=msp_tenant_id(), patch_noop=True)
    out = run(("grow", location, {"display_name": "Office", "ip_ranges": ["203.0.113.0/24", "198.51.100.0/24"]})
              ).task("grow")
    assert out.get("failed") is True and "ipRanges" in out["msg"], out
    [stored_location] = [loc for loc in sandbox.client.locations(msp_tenant_id()) if loc["displayName"] == "Office"]
    assert len(stored_location["ipRanges"]) == 1


def test_a_silent_no_op_on_a_client_exclusion_is_an_error(sandbox, run):
    sandbox.client.set_faults(tenant=FABRIKAM, patch_noop=True)
    out = run(("x", EXCLUSION, {"mode": "gdap", "msp_tenant_id": msp_tenant_id()}), tenant=FABRIKAM).task("x")
    assert out["failed"] is True and "reads back otherwise" in out["msg"] and out.get("changed") is not True
    assert {p["action"] for p in out["policies"]} >= {"failed"}
    verify = [e for e in sandbox.client.log(tenant=FABRIKAM) if e["method"] == "GET" and e["path"].endswith(PATH)]
    assert len(verify) == 2  # the plan's listing and one listing that reads every write back


# -- keywords and names ---------------------------------------------------------------------------------------
def test_keywords_graph_returned_pass_through_an_export(sandbox, run):
    sandbox.client.set_faults(tenant=msp_tenant_id(), extra_app_keywords=["SomeFutureKeyword"])
    base = stored(sandbox, "CA001-Global-BaseProtection-AllApps-AnyPlatform-MFA")
    for name, apps in (("Agents", ["AllAgentIdResources"]), ("Future", ["SomeFutureKeyword"])):
        policy = json.loads(json.dumps(base))
        policy.update(id=None, displayName=name, state="disabled")
        policy["conditions"]["applications"]["includeApplications"] = apps
        policy["id"] = {"Agents": "aa000000-0000-4000-8000-000000000001",
                        "Future": "aa000000-0000-4000-8000-000000000002"}[name]
        sandbox.client.put_policy(msp_tenant_id(), policy)
    exported = ok(run(("info", INFO, {})), "info")["policies"]
    tasks = [(e["display_name"], POLICY, {k: v for k, v in e.items() if k in (
        "display_name", "policy_state", "conditions", "grant_controls", "session_controls")})
        for e in exported if e["display_name"] in ("Agents", "Future")]
    result = run(*tasks)
    for name, _module, _args in tasks:
        assert ok(result, name)["changed"] is False


def test_names_for_strengths_terms_contexts_and_the_compliant_network(sandbox, run):
    args = policy_args("Named", grant_controls={"operator": "AND", "authentication_strength":
                                                "Technicians: FIDO2 or Windows Hello",
                                                "terms_of_use": ["MSP acceptable use"]})
    context = policy_args("Context", conditions={"users": {"include_users": [SVC]}, "client_app_types": ["all"],
                                                 "applications": {"include_authentication_context_class_references":
                                                                  ["Privileged actions"]}})
    result = run(("named", POLICY, args), ("context", POLICY, context), ("info", INFO, {"display_name": "Named"}))
    ok(result, "named"), ok(result, "context")
    tenant = sandbox.client.tenant(msp_tenant_id())
    strength = tenant["authenticationStrengthPolicies"][0]["id"]
    agreement = tenant["agreements"][0]["id"]
    grant = stored(sandbox, "Named")["grantControls"]
    assert grant["authenticationStrength"]["id"] == strength and grant["termsOfUse"] == [agreement]
    assert stored(sandbox, "Context")["conditions"]["applications"]["includeAuthenticationContextClassReferences"] == ["c1"]
    [entry] = ok(result, "info")["policies"]
    assert entry["grant_controls"]["authentication_strength"] == "Technicians: FIDO2 or Windows Hello"
    assert entry["grant_controls"]["terms_of_use"] == ["MSP acceptable use"]
    compliant = policy_args("Compliant", conditions={
        "users": {"include_users": ["All"]}, "applications": {"include_applications": ["All"]},
        "client_app_types": ["all"], "locations": {"include_locations": ["All"],
                                                   "exclude_locations": ["All Compliant Network locations"]}},
        grant_controls={"operator": "OR", "built_in_controls": ["block"]})
    fab = run(("compliant", POLICY, compliant), ("info", INFO, {"display_name": "Compliant"}), tenant=FABRIKAM)
    ok(fab, "compliant")
    assert stored(sandbox, "Compliant", FABRIKAM)["conditions"]["locations"]["excludeLocations"] == [
        "3d46dbda-8382-466a-856d-eb00cbc6b910"]
    [entry] = ok(fab, "info")["policies"]
    assert entry["conditions"]["locations"]["exclude_locations"] == ["All Compliant Network locations"]


# -- Microsoft-managed and SharePoint-made policies in Part D ------------------------------------------------
def test_clone_and_disable_reads_beta_lets_the_user_choose_the_state_and_says_what_it_costs(sandbox, run):
    out = ok(run(("x", EXCLUSION, {"mode": "gdap", "msp_tenant_id": msp_tenant_id(),
                                   "managed_policies": "clone_and_disable", "clone_state": "disabled"}),
                 tenant=TAILSPIN), "x")
    source = [e for e in sandbox.client.log(tenant=TAILSPIN) if e["api"] == "graph" and e["method"] == "GET"
              and e["path"].startswith("/beta" + PATH + "/")]
    assert source, "the Microsoft-managed source was not read from /beta"
    clones = [p for p in sandbox.client.policies(TAILSPIN) if p["displayName"].startswith("Clone - ")]
    assert [c["state"] for c in clones] == ["disabled"]
    text = json.dumps(out)
    assert "Microsoft's updates" in text and "45 days" in text


@pytest.mark.parametrize("name", ["Microsoft-managed Multifactor authentication for admins",
                                  "  microsoft-managed:MFA for per-user MFA users"])
def test_managed_prefix_with_or_without_colon(sandbox, run, name):
    policy = stored(sandbox, "MFA for all", TAILSPIN)
    policy = dict(policy, id="bb000000-0000-4000-8000-000000000001", displayName=name)
    sandbox.client.put_policy(TAILSPIN, policy)
    out = ok(run(("x", EXCLUSION, {"mode": "gdap", "msp_tenant_id": msp_tenant_id(), "managed_policies": "skip"}),
                 tenant=TAILSPIN), "x")
    [entry] = [p for p in out["policies"] if p.get("id") == policy["id"] or p.get("policy") == name]
    assert entry["action"] == "skipped"


def test_sharepoint_admin_center_policies_are_recognised_and_warned_about(sandbox, run):
    policy = stored(sandbox, "MFA for all", TAILSPIN)
    name = "[SharePoint admin center]Use app-enforced Restrictions for browser access - 2026-01-01"
    sandbox.client.put_policy(TAILSPIN, dict(policy, id="cc000000-0000-4000-8000-000000000001", displayName=name))
    out = ok(run(("x", EXCLUSION, {"mode": "gdap", "msp_tenant_id": msp_tenant_id()}), tenant=TAILSPIN), "x")
    assert any("SharePoint admin center" in w for w in out.get("warnings", [])), out
