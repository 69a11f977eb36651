"""Graph rules of issue 16, each with both readings of its switch: every-time sign-in frequency on v1.0, nested nulls
in sessionControls, the permission table, application keywords, compliant network locations and the collections a
policy refers to by id (authentication strengths, terms of use, authentication contexts)."""

import pytest

from conftest import msp_tenant_id
from sandbox_testlib import LOCATIONS, POLICIES, Graph, get_token, new_policy
from sandbox_testlib import custom_fixture, graph, trust_sandbox_ca  # noqa: F401 pylint: disable=unused-import (pytest fixtures)

BETA = POLICIES.replace("v1.0", "beta")
FABRIKAM = "22222222-2222-4222-8222-222222222222"
COMPLIANT = "3d46dbda-8382-466a-856d-eb00cbc6b910"
EVERY_TIME = {"signInFrequency": {"isEnabled": True, "frequencyInterval": "everyTime",
                                  "authenticationType": "primaryAndSecondaryAuthentication"}}


def test_every_time_on_v1_is_refused_naming_beta_outside_the_documented_scope(graph, sandbox_reset):
    body = new_policy(sessionControls=EVERY_TIME)
    message = graph.error("POST", POLICIES, body)
    assert "beta" in message and not message.startswith("1038")  # no number any source confirms
    [refused] = sandbox_reset.client.log(graph.tenant)[-1:]
    assert (refused["status"], refused["write"]) == (400, False) and "beta" in refused["error"]["message"]
    assert graph.create(BETA, body)["sessionControls"]["signInFrequency"]["frequencyInterval"] == "everyTime"
    # the v1.0 docs' scope: risky users, risky sign-ins, Intune enrolment
    risky = dict(body, conditions=dict(body["conditions"], signInRiskLevels=["high"]))
    graph.create(POLICIES, risky)
    enrolment = dict(body, conditions=dict(body["conditions"], applications={
        "includeApplications": ["d4ebce55-015a-49b5-a083-c84d1797ae8c"]}))
    graph.create(POLICIES, enrolment)
    sandbox_reset.client.set_faults(tenant=graph.tenant, text_everytime_v1="1038: preview features, use beta")
    assert graph.error("POST", POLICIES, body) == "1038: preview features, use beta"


def test_every_time_on_v1_accepted_with_the_switch(graph, sandbox_reset):
    sandbox_reset.client.set_faults(tenant=graph.tenant, everytime_v1_accepted=True)
    assert graph.create(POLICIES, new_policy(sessionControls=EVERY_TIME))["sessionControls"] is not None


def session_policy(graph):
    return graph.create(POLICIES, new_policy(sessionControls={
        "persistentBrowser": {"isEnabled": True, "mode": "never"},
        "signInFrequency": {"isEnabled": True, "type": "hours", "value": 4, "frequencyInterval": "timeBased",
                            "authenticationType": "primaryAndSecondaryAuthentication"}}))


def stored_session(sandbox, tenant, pid):
    return next(p for p in sandbox.client.policies(tenant) if p["id"] == pid)["sessionControls"]


def test_nested_null_in_session_controls_is_ignored_only_a_whole_null_clears(graph, sandbox_reset):
    pid = session_policy(graph)["id"]
    assert graph.call("PATCH", POLICIES + "/" + pid, {"sessionControls": {"persistentBrowser": None}}).status_code == 204
    assert stored_session(sandbox_reset, graph.tenant, pid)["persistentBrowser"] == {"isEnabled": True, "mode": "never"}
    # a sub-control's own nulls are dropped as well: type and value stay, so switching to every time is refused
    refused = graph.error("PATCH", BETA + "/" + pid, {"sessionControls": {"signInFrequency": {
        "isEnabled": True, "frequencyInterval": "everyTime", "type": None, "value": None}}})
    assert "must not set type or value" in refused
    assert graph.call("PATCH", POLICIES + "/" + pid, {"sessionControls": None}).status_code == 204
    assert stored_session(sandbox_reset, graph.tenant, pid) is None
    assert graph.call("PATCH", BETA + "/" + pid, {"sessionControls": EVERY_TIME}).status_code == 204
    assert stored_session(sandbox_reset, graph.tenant, pid) == EVERY_TIME


def test_nested_null_clears_with_the_switch(graph, sandbox_reset):
    sandbox_reset.client.set_faults(tenant=graph.tenant, session_nested_null_clears=True)
    pid = session_policy(graph)["id"]
    assert graph.call("PATCH", POLICIES + "/" + pid, {"sessionControls": {"persistentBrowser": None}}).status_code == 204
    assert stored_session(sandbox_reset, graph.tenant, pid)["persistentBrowser"] is None


@pytest.fixture
def app_with(sandbox, custom_fixture):  # noqa: F811
    """app_with(roles) -> a Graph session for an extra app holding only ``roles`` (on the demo MSP tenant)."""
    def make(roles):
        def change(fixture):
            fixture["apps"].append({"client_id": "0d0d0d0d-0000-4000-8000-00000000beef", "client_secret": "other",
                                    "display_name": "limited", "roles": list(roles)})
        custom_fixture(change)
        token = get_token(sandbox, msp_tenant_id(), client_id="0d0d0d0d-0000-4000-8000-00000000beef", secret="other")
        return Graph(sandbox, msp_tenant_id(), token=token)
    return make


def test_write_role_without_policy_read_all_can_neither_read_nor_write(app_with):
    limited = app_with(["Policy.ReadWrite.ConditionalAccess"])
    for method, path, body in (("GET", POLICIES, None), ("GET", LOCATIONS, None), ("POST", POLICIES, new_policy())):
        response = limited.call(method, path, body)
        assert response.status_code == 403 and response.json()["error"]["code"] == "Authorization_RequestDenied"


def test_read_role_alone_reads_but_does_not_write(app_with):
    reader = app_with(["Policy.Read.All"])
    assert reader.get(POLICIES).status_code == 200 and reader.get(LOCATIONS).status_code == 200
    assert reader.call("POST", POLICIES, new_policy()).status_code == 403
    both = app_with(["Policy.Read.All", "Policy.ReadWrite.ConditionalAccess"])
    assert both.call("POST", POLICIES, new_policy()).status_code == 201


def test_write_role_reads_with_the_switch(app_with, sandbox):
    limited = app_with(["Policy.ReadWrite.ConditionalAccess"])
    sandbox.client.set_faults(ca_write_role_reads=True)
    assert limited.get(POLICIES).status_code == 200
    assert limited.call("POST", POLICIES, new_policy()).status_code == 403  # writes still need Policy.Read.All too


@pytest.mark.parametrize("keyword", ["All", "None", "Office365", "MicrosoftAdminPortals", "AllAgentIdResources"])
def test_reserved_application_keywords(graph, keyword):
    graph.create(POLICIES, new_policy(conditions={"users": {"includeUsers": ["All"]}, "clientAppTypes": ["all"],
                                                  "applications": {"includeApplications": [keyword]}}))


def test_unknown_application_keyword_refused_unless_listed(graph, sandbox_reset):
    body = new_policy(conditions={"users": {"includeUsers": ["All"]}, "clientAppTypes": ["all"],
                                  "applications": {"includeApplications": ["All"], "excludeApplications": ["Teams"]}})
    assert "'Teams' in excludeApplications" in graph.error("POST", POLICIES, body)
    sandbox_reset.client.set_faults(tenant=graph.tenant, extra_app_keywords=["Teams"])
    graph.create(POLICIES, body)


def test_compliant_network_location_on_beta_only_by_default_and_referable(sandbox_reset):
    fabrikam = Graph(sandbox_reset, FABRIKAM)
    assert COMPLIANT not in [loc["id"] for loc in fabrikam.get(LOCATIONS).json()["value"]]
    assert fabrikam.get(LOCATIONS + "/" + COMPLIANT).status_code == 404
    beta = LOCATIONS.replace("v1.0", "beta")
    [listed] = [loc for loc in fabrikam.get(beta).json()["value"] if loc["id"] == COMPLIANT]
    assert listed["@odata.type"] == "#microsoft.graph.compliantNetworkNamedLocation"
    assert listed["displayName"] == "All Compliant Network locations"
    created = fabrikam.create(POLICIES, new_policy(conditions={
        "users": {"includeUsers": ["All"]}, "applications": {"includeApplications": ["All"]}, "clientAppTypes": ["all"],
        "locations": {"includeLocations": ["All"], "excludeLocations": [COMPLIANT]}}))
    assert created["conditions"]["locations"]["excludeLocations"] == [COMPLIANT]
    assert "Global Secure Access" in fabrikam.error("DELETE", beta + "/" + COMPLIANT)
    sandbox_reset.client.set_faults(tenant=FABRIKAM, compliant_network_on_v1=True)
    assert fabrikam.get(LOCATIONS + "/" + COMPLIANT).json()["compliantNetworkType"] == "allTenantCompliantNetworks"


def test_strengths_terms_and_contexts_listed_and_checked(graph):
    strengths = graph.get("/v1.0/policies/authenticationStrengthPolicies").json()["value"]
    assert [s["policyType"] for s in strengths] == ["builtIn"] * 3 + ["custom"]
    custom = strengths[-1]
    assert custom["displayName"] == "Technicians: FIDO2 or Windows Hello"
    assert graph.get("/v1.0/policies/authenticationStrengthPolicies/" + custom["id"]).json() == custom
    [terms] = graph.get("/v1.0/identityGovernance/termsOfUse/agreements").json()["value"]
    contexts = graph.get("/v1.0/identity/conditionalAccess/authenticationContextClassReferences").json()["value"]
    assert terms["displayName"] == "MSP acceptable use" and [c["id"] for c in contexts] == ["c1", "c2"]
    graph.create(POLICIES, new_policy(grantControls={"operator": "AND", "builtInControls": [],
                                                     "authenticationStrength": {"id": custom["id"]},
                                                     "termsOfUse": [terms["id"]]}))
    graph.create(POLICIES, new_policy(conditions={"users": {"includeUsers": ["All"]}, "clientAppTypes": ["all"],
                                                  "applications": {"includeAuthenticationContextClassReferences": ["c1"]}}))
    missing = "aaaaaaaa-0000-4000-8000-000000000000"
    assert "AuthenticationStrengthPolicy with id %s" % missing in graph.error("POST", POLICIES, new_policy(
        grantControls={"operator": "OR", "builtInControls": [], "authenticationStrength": {"id": missing}}))
    assert "TermsOfUse agreement" in graph.error("POST", POLICIES, new_policy(
        grantControls={"operator": "OR", "builtInControls": ["mfa"], "termsOfUse": [missing]}))
    assert "AuthenticationContextClassReference with id c9" in graph.error("POST", POLICIES, new_policy(conditions={
        "users": {"includeUsers": ["All"]}, "clientAppTypes": ["all"],
        "applications": {"includeAuthenticationContextClassReferences": ["c9"]}}))
    assert graph.call("POST", "/v1.0/policies/authenticationStrengthPolicies", {}).status_code in (400, 405)


def token_response(sandbox, scope):
    import requests
    from conftest import load_fixture
    app = load_fixture()["apps"][0]
    return requests.post("%s/%s/oauth2/v2.0/token" % (sandbox.url, msp_tenant_id()), verify=sandbox.ca_bundle, data={
        "client_id": app["client_id"], "client_secret": app["client_secret"], "grant_type": "client_credentials",
        "scope": scope})


def test_no_api_identifier_uri_no_token_until_add_update_repairs_it(sandbox, custom_fixture):  # noqa: F811
    import requests
    custom_fixture(lambda fixture: fixture["apps"][0].update(identifier_uris=[]))
    me = sandbox.env["AZURE_CLIENT_ID"]
    refused = token_response(sandbox, "api://%s/.default" % me)
    assert refused.status_code == 400 and refused.json()["error_codes"] == [500011]
    # the bare app id still names the app; EasyAuth takes it for its registration client (the first saved one)
    bare = token_response(sandbox, "%s/.default" % me).json()["access_token"]
    session = requests.Session()
    session.verify = sandbox.ca_bundle
    session.headers["Authorization"] = "Bearer " + bare
    [row] = [r for r in session.get(sandbox.url + "/api/ExecApiClient", params={"Action": "List"}).json()["Results"]
             if r["ClientId"] == me]
    answer = session.post(sandbox.url + "/api/ExecApiClient", json={
        "Action": "AddUpdate", "ClientId": me, "Role": {"value": row["Role"]}, "Enabled": True,
        "IPRange": [{"value": r} for r in row["IPRange"]]}).json()
    assert answer == ["API client updated"]
    assert sandbox.client.cipp_state()["setup_runs"][-1] == {"ClientId": me, "identifier_uri_repaired": True,
                                                             "service_principal_created": True}
    assert token_response(sandbox, "api://%s/.default" % me).status_code == 200
    sps = sandbox.client.tenant(msp_tenant_id())["servicePrincipals"]
    assert [sp["displayName"] for sp in sps if sp["appId"] == me] == ["Ansible controller"]


def test_preview_refusal_and_silent_noop_switches(graph, sandbox_reset):
    created = graph.create(POLICIES, new_policy())
    sandbox_reset.client.set_faults(tenant=graph.tenant, v1_preview_refusal="Use the beta endpoint for this policy.")
    assert graph.error("POST", POLICIES, new_policy()) == "Use the beta endpoint for this policy."
    graph.create(BETA, new_policy())
    sandbox_reset.client.set_faults(tenant=graph.tenant, v1_preview_refusal=None, patch_noop=True)
    assert graph.call("PATCH", POLICIES + "/" + created["id"], {"state": "enabled"}).status_code == 204
    assert graph.get(POLICIES + "/" + created["id"]).json()["state"] == "disabled"
