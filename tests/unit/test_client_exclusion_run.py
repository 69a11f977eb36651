"""ClientExclusion.run against a recording stand-in of GraphClient/GraphModule: requests, check mode, failures.

The stand-in keeps policies in memory and applies PATCHes like Graph (nested merge, arrays replaced), so the
assertions are about the state it ends in and the requests it saw. The sandbox tests repeat this end to end.
"""

import copy

import pytest

from ansible_collections.msp.conditional_access.plugins.module_utils._exclusion import (
    ARGUMENT_SPEC, ClientExclusion, diff_policies)
from ansible_collections.msp.conditional_access.plugins.module_utils._ca import ENUMERATED
from ansible_collections.msp.conditional_access.plugins.module_utils._graph import GraphError
from ansible_collections.msp.conditional_access.plugins.module_utils._module import InvalidOption
from fake_transport import Exit, FakeTransport
from sandbox.graph import GraphFailure

MSP = "11111111-2222-3333-4444-555555555555"
ACCOUNT = "5a5a5a5a-0000-4000-8000-0000000000aa"
POLICIES = "/identity/conditionalAccess/policies"


def FakeGraph(policies, users=(), fail_patch=None, everytime_requires_beta=False, **faults):
    """The one fake transport, with PATCHes of some policies refused (``fail_patch``: id -> GraphError)."""
    graph = FakeTransport(policies, users=users, faults=dict(faults, everytime_requires_beta=everytime_requires_beta))

    def refuse(_graph, method, path, _body):
        error = (fail_patch or {}).get(path.rsplit("/", 1)[1])
        if method == "PATCH" and error is not None:
            raise GraphFailure(error.status, error.code, error.message)
    graph.hooks.append(refuse)
    return graph


def FakeModule(graph, check_mode=False, **params):
    defaults = dict(msp_tenant_id=MSP, msp_tenant_name="Contoso MSP")
    return graph.module(ARGUMENT_SPEC, check_mode=check_mode, **dict(defaults, **params))


def failure(module):
    """Run the task expecting fail_json; its result."""
    with pytest.raises(Exit) as exited:
        ClientExclusion(module).run()
    assert exited.value.failed
    return exited.value.result


def pol(pid, name, **users_kw):
    users = {"includeUsers": ["All"], "excludeUsers": [], "includeGroups": [], "excludeGroups": [],
             "includeRoles": [], "excludeRoles": [], "includeGuestsOrExternalUsers": None,
             "excludeGuestsOrExternalUsers": None}
    users.update(users_kw)
    return {"id": pid, "displayName": name, "state": "enabled",
            "conditions": {"users": users, "applications": {"includeApplications": ["All"]}},
            "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}}


def writes(graph):
    return [entry for entry in graph.calls() if entry[0] != "GET"]


def sent(graph):
    """(method, path, version, body) of every write sent, refused ones included."""
    return [(m, "/" + path.split("/", 2)[2], path.split("/")[1], body) for m, path, body, _ in graph.writes()]


def test_first_run_patches_each_policy_once_second_run_writes_nothing():
    graph = FakeGraph([pol("a", "A"), pol("b", "B"), pol("c", "C", includeUsers=[], includeGroups=["g"])])
    result = ClientExclusion(FakeModule(graph)).run()
    assert result["changed"] is True
    assert [p["action"] for p in result["policies"]] == ["excluded", "excluded", "skipped"]
    assert writes(graph) == [("PATCH", POLICIES + "/a"), ("PATCH", POLICIES + "/b")]
    assert graph.policies["a"]["conditions"]["users"]["excludeGuestsOrExternalUsers"] == {
        "guestOrExternalUserTypes": "serviceProvider",
        "externalTenants": {"@odata.type": ENUMERATED, "membershipKind": "enumerated", "members": [MSP]}}
    assert "excludeGuestsOrExternalUsers" not in graph.policies["c"]["conditions"]["users"] or \
        graph.policies["c"]["conditions"]["users"]["excludeGuestsOrExternalUsers"] is None

    graph.log.clear()
    again = ClientExclusion(FakeModule(graph)).run()
    # nothing to change: the one list, no MSP lookup (the drift run's cost)
    assert again["changed"] is False and graph.calls() == [("GET", POLICIES)]
    assert "diff" in again and again["diff"] == []


def test_check_mode_reports_everything_and_writes_nothing():
    graph = FakeGraph([pol("a", "A")])
    before = copy.deepcopy(graph.policies)
    result = ClientExclusion(FakeModule(graph, check_mode=True)).run()
    assert result["changed"] is True and result["policies"][0]["action"] == "excluded"
    assert diff_policies(result["diff"])["A"]["exclude_guests_or_external_users"]["external_tenants"] == [
        "%s (Contoso MSP)" % MSP]
    assert writes(graph) == [] and graph.policies == before


def test_partial_failure_names_changed_failed_and_not_attempted():
    bad = GraphError(400, "BadRequest", "1007: schema", "PATCH", POLICIES + "/b")
    graph = FakeGraph([pol("a", "A"), pol("b", "B"), pol("c", "C")], fail_patch={"b": bad})
    module = FakeModule(graph)
    module.failed = failure(module)
    # a 400 on one policy does not stop the others
    assert [p["action"] for p in module.failed["policies"]] == ["excluded", "failed", "excluded"]
    assert "Changed: 'A', 'C'. Not changed: 'B'" in module.failed["msg"]
    assert module.failed["changed"] is True
    assert list(diff_policies(module.failed["diff"])) == ["A", "C"]

    throttled = GraphError(429, "TooManyRequests", "throttled", "PATCH", POLICIES + "/b")
    graph = FakeGraph([pol("a", "A"), pol("b", "B"), pol("c", "C")], fail_patch={"b": throttled})
    module = FakeModule(graph)
    module.failed = failure(module)
    # throttling exhausted: the rest is not tried
    assert [p["action"] for p in module.failed["policies"]] == ["excluded", "failed", "not_attempted"]
    assert writes(graph) == [("PATCH", POLICIES + "/a"), ("PATCH", POLICIES + "/b")]


def test_direct_mode_looks_the_upn_up_once_and_a_missing_upn_fails_before_writing():
    graph = FakeGraph([pol("a", "A", excludeUsers=["bg"])],
                      users=[{"id": ACCOUNT, "userPrincipalName": "svc@client.example"}])
    result = ClientExclusion(FakeModule(graph, mode="direct", service_account="svc@client.example")).run()
    assert graph.calls()[0] == ("GET", "/users/svc@client.example")
    assert graph.policies["a"]["conditions"]["users"]["excludeUsers"] == ["bg", ACCOUNT]
    assert diff_policies(result["diff"])["A"]["exclude_users"] == ["bg", "svc@client.example (%s)" % ACCOUNT]

    graph = FakeGraph([pol("a", "A")], users=[{"id": ACCOUNT, "userPrincipalName": "svc@client.example"}])
    result = ClientExclusion(FakeModule(graph, mode="direct", service_account=ACCOUNT)).run()
    assert graph.calls()[:2] == [("GET", "/users/%s" % ACCOUNT), ("GET", POLICIES)]  # an object id is checked too
    assert diff_policies(result["diff"])["A"]["exclude_users"] == ["svc@client.example (%s)" % ACCOUNT]

    graph = FakeGraph([pol("a", "A")])
    with pytest.raises(InvalidOption) as err:
        ClientExclusion(FakeModule(graph, mode="direct", service_account="nobody@client.example")).run()
    assert err.value.option == "service_account" and "nobody@client.example" in str(err.value)
    assert writes(graph) == []


@pytest.mark.parametrize("params, option", [
    ({"msp_tenant_id": "contoso"}, "msp_tenant_id"),
    ({"tenant_id": MSP}, "tenant_id"),
    ({"managed_policies": "clone_and_disable", "clone_prefix": "Microsoft-managed: "}, "clone_prefix"),
    ({"managed_policies": "clone_and_disable", "clone_prefix": ""}, "clone_prefix"),
    ({"policies": ["does not exist"]}, "policies"),
])
def test_bad_input_names_the_option_and_writes_nothing(params, option):
    graph = FakeGraph([pol("a", "A")])
    with pytest.raises((InvalidOption, Exit)) as err:  # the shared input checks refuse before the module runs
        ClientExclusion(FakeModule(graph, **params)).run()
    named = err.value.option if isinstance(err.value, InvalidOption) else err.value.result["invalid_option"]
    assert named == option
    assert writes(graph) == []


def test_direct_mode_a_mistyped_object_id_fails_naming_the_option_and_writes_nothing():
    typo = ACCOUNT[:-1] + "b"
    graph = FakeGraph([pol("a", "A")], users=[{"id": ACCOUNT, "userPrincipalName": "svc@client.example"}])
    with pytest.raises(InvalidOption) as err:
        ClientExclusion(FakeModule(graph, mode="direct", service_account=typo)).run()
    assert err.value.option == "service_account" and typo in str(err.value) and "object id" in str(err.value)
    assert graph.calls() == [("GET", "/users/%s" % typo)]
    assert graph.policies["a"]["conditions"]["users"]["excludeUsers"] == []


def test_direct_mode_may_run_in_the_msp_tenant_itself():
    # the service_account_mfa role (Part B) excludes the service account from the MSP tenant's other policies
    graph = FakeGraph([pol("a", "A")], users=[{"id": ACCOUNT, "userPrincipalName": "svc@msp.example"}])
    result = ClientExclusion(FakeModule(graph, tenant_id=MSP, mode="direct", service_account=ACCOUNT)).run()
    assert result["policies"][0]["action"] == "excluded"


def test_clone_and_disable_posts_the_clone_then_disables_and_second_run_is_quiet():
    mmp = pol("m", "Microsoft-managed: MFA for admins", includeUsers=[], includeRoles=["r"])
    mmp["state"] = "enabledForReportingButNotEnforced"
    mmp["templateId"] = "t-1"
    graph = FakeGraph([mmp])
    result = ClientExclusion(FakeModule(graph, managed_policies="clone_and_disable")).run()
    assert result["policies"][0]["action"] == "cloned"
    assert writes(graph) == [("POST", POLICIES), ("PATCH", POLICIES + "/m")]
    [clone] = [p for p in graph.policies.values() if p["id"] != "m"]
    assert clone["displayName"] == "Clone - MFA for admins" and clone.get("templateId") is None
    assert clone["state"] == "enabledForReportingButNotEnforced"
    assert graph.policies["m"]["state"] == "disabled"
    assert graph.policies["m"]["conditions"]["users"]["excludeGuestsOrExternalUsers"] is None
    assert diff_policies(result["diff"])["Clone - MFA for admins"]["cloned_from"] == mmp["displayName"]

    graph.log.clear()
    again = ClientExclusion(FakeModule(graph, managed_policies="clone_and_disable")).run()
    assert again["changed"] is False and writes(graph) == []
    assert sorted(p["action"] for p in again["policies"]) == ["already_cloned", "already_excluded"]


STRENGTH = "00000000-0000-0000-0000-000000000004"


def managed(pid, name, **extra):
    policy = pol(pid, name, includeUsers=[], includeRoles=["r"])
    policy.update(state="enabled", templateId="t-" + pid, createdDateTime="2026-01-01T00:00:00Z",
                  modifiedDateTime=None, **extra)
    return policy


def test_clone_keeps_the_authentication_strength_id_and_drops_only_server_keys():
    mmp = managed("m", "Microsoft-managed: Phishing-resistant MFA for admins", grantControls={
        "operator": "OR", "builtInControls": [], "termsOfUse": [], "customAuthenticationFactors": [],
        "authenticationStrength@odata.context": "https://graph.microsoft.com/v1.0/$metadata#...",
        "authenticationStrength": {"id": STRENGTH, "createdDateTime": "2021-01-01T00:00:00Z",
                                   "modifiedDateTime": "2021-01-01T00:00:00Z",
                                   "displayName": "Phishing-resistant MFA", "description": "built in",
                                   "policyType": "builtIn", "requirementsSatisfied": "mfa",
                                   "allowedCombinations": ["windowsHelloForBusiness", "fido2"]}})
    graph = FakeGraph([mmp])
    result = ClientExclusion(FakeModule(graph, managed_policies="clone_and_disable")).run()
    assert result["policies"][0]["action"] == "cloned"
    [(method, path, version, body)] = [s for s in sent(graph) if s[0] == "POST"]
    assert (method, path, version) == ("POST", POLICIES, "beta")  # a copy of the /beta read goes through /beta
    assert ("GET", "/beta%s/m" % POLICIES) in [(e[0], e[1]) for e in graph.log]  # the source read from /beta
    assert body["grantControls"] == {"operator": "OR", "builtInControls": [], "termsOfUse": [],
                                     "customAuthenticationFactors": [], "authenticationStrength": {"id": STRENGTH}}
    assert not {"id", "templateId", "createdDateTime", "modifiedDateTime"} & set(body)
    assert body["displayName"] == "Clone - Phishing-resistant MFA for admins" and body["state"] == "enabled"
    assert body["conditions"]["users"]["excludeGuestsOrExternalUsers"]["externalTenants"]["members"] == [MSP]
    [clone] = [p for p in graph.policies.values() if p["id"] != "m"]
    assert clone["grantControls"]["authenticationStrength"] == {"id": STRENGTH}


def test_every_time_clones_go_to_beta_and_a_v1_refusal_naming_beta_is_retried_there():
    risky = managed("r", "Microsoft-managed: Require reauthentication for risky sign-ins",
                    grantControls={"operator": "OR", "builtInControls": ["mfa"]},
                    sessionControls={"signInFrequency": {"isEnabled": True, "frequencyInterval": "everyTime",
                                                         "authenticationType": "primaryAndSecondaryAuthentication",
                                                         "type": None, "value": None}})
    plain = pol("p", "P")
    graph = FakeGraph([risky, plain], v1_preview_refusal="Use the beta endpoint for this tenant's policies.")
    module = FakeModule(graph, managed_policies="clone_and_disable", clone_state="report_only")
    result = ClientExclusion(module).run()
    assert [p["action"] for p in result["policies"]] == ["cloned", "excluded"]
    # the clone and the original's writes go to beta (a copy of a /beta read); the other policy tries v1.0 first
    assert [(m, p, v) for m, p, v, _ in sent(graph)] == [
        ("POST", POLICIES, "beta"), ("PATCH", POLICIES + "/r", "beta"), ("PATCH", POLICIES + "/p", "v1.0"),
        ("PATCH", POLICIES + "/p", "beta")]
    [clone] = [p for p in graph.policies.values() if p["id"] not in ("r", "p")]
    assert clone["sessionControls"]["signInFrequency"] == {
        "isEnabled": True, "frequencyInterval": "everyTime", "authenticationType": "primaryAndSecondaryAuthentication"}
    assert clone["state"] == "enabledForReportingButNotEnforced"  # clone_state
    assert graph.policies["r"]["state"] == "disabled"
    assert any("Microsoft's updates" in w and "45 days" in w for w in result["policies"][0]["warnings"])
    assert any("Use the beta endpoint for this tenant's policies." in w for w in result["policies"][1]["warnings"])

    # another error is not retried
    bad = GraphError(400, "BadRequest", "1007: schema", "PATCH", POLICIES + "/p")
    graph = FakeGraph([pol("p", "P")], fail_patch={"p": bad})
    failure(FakeModule(graph))
    assert [(m, v) for m, _, v, _ in sent(graph)] == [("PATCH", "v1.0")]


def test_a_warned_policy_without_change_is_in_the_diff_with_its_warning():
    all_tenants = {"guestOrExternalUserTypes": "b2bCollaborationGuest,serviceProvider",
                   "externalTenants": {"@odata.type": "#microsoft.graph.conditionalAccessAllExternalTenants",
                                       "membershipKind": "all"}}
    graph = FakeGraph([pol("a", "Everyone", excludeGuestsOrExternalUsers=all_tenants), pol("b", "Quiet")])
    graph.policies["b"]["conditions"]["users"]["excludeGuestsOrExternalUsers"] = {
        "guestOrExternalUserTypes": "serviceProvider",
        "externalTenants": {"@odata.type": ENUMERATED, "membershipKind": "enumerated", "members": [MSP]}}
    result = ClientExclusion(FakeModule(graph)).run()
    assert result["changed"] is False and writes(graph) == []
    [entry, quiet] = result["policies"]
    assert entry["action"] == "already_excluded" and "every external tenant" in entry["warnings"][0]
    before, after = diff_policies(result["diff"], "before"), diff_policies(result["diff"])
    assert list(after) == ["Everyone"] and list(before) == ["Everyone"]  # the quiet one stays out
    assert after["Everyone"].pop("warnings") == entry["warnings"]
    assert after["Everyone"] == before["Everyone"]
    assert graph.calls().count(("GET", "/organization")) == 1  # the tenant's name, for the diff header
    assert result["diff"][0]["before_header"].startswith("tenant ")
    assert before["Everyone"]["exclude_guests_or_external_users"]["external_tenants"] == "all"


def test_absent_warning_says_graph_cannot_tell_who_added_service_provider():
    all_tenants = {"guestOrExternalUserTypes": "internalGuest,serviceProvider",
                   "externalTenants": {"@odata.type": "#microsoft.graph.conditionalAccessAllExternalTenants",
                                       "membershipKind": "all"}}
    shared = {"guestOrExternalUserTypes": "b2bCollaborationGuest,serviceProvider",
              "externalTenants": {"@odata.type": ENUMERATED, "membershipKind": "enumerated",
                                  "members": ["99999999-8888-4777-8666-555555555555", MSP]}}
    graph = FakeGraph([pol("a", "All", excludeGuestsOrExternalUsers=all_tenants),
                       pol("b", "Shared", excludeGuestsOrExternalUsers=shared)])
    result = ClientExclusion(FakeModule(graph, state="absent")).run()
    assert [p["action"] for p in result["policies"]] == ["already_absent", "removed"]
    for entry in result["policies"]:
        [warning] = entry["warnings"]
        assert "Graph does not record who added serviceProvider" in warning
        assert "cannot restore" in warning and "remove it by hand" in warning
    assert graph.policies["a"]["conditions"]["users"]["excludeGuestsOrExternalUsers"] == all_tenants
    assert graph.policies["b"]["conditions"]["users"]["excludeGuestsOrExternalUsers"]["guestOrExternalUserTypes"] == (
        "b2bCollaborationGuest,serviceProvider")
    assert graph.policies["b"]["conditions"]["users"]["excludeGuestsOrExternalUsers"]["externalTenants"][
        "members"] == ["99999999-8888-4777-8666-555555555555"]
    assert set(diff_policies(result["diff"])) == {"All", "Shared"}


def test_one_definition_of_microsoft_managed():
    from ansible_collections.msp.conditional_access.plugins.module_utils import _exclusion, _policy
    assert _exclusion.is_managed is _policy.is_managed
