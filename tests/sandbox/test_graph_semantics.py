"""Graph semantics of graph-ca.md section 8: create/patch/delete, flags, evolvable enums, queries, directory reads."""

import pytest

from conftest import load_fixture, msp_tenant_id
from sandbox_testlib import EXCLUSION_FIXTURE, LOCATIONS, POLICIES, Graph, ip_location, new_policy
from sandbox_testlib import custom_fixture, graph, trust_sandbox_ca  # noqa: F401 pylint: disable=unused-import (pytest fixtures)

GUESTS = {"guestOrExternalUserTypes": "serviceProvider,internalGuest", "externalTenants": {
    "@odata.type": "#microsoft.graph.conditionalAccessEnumeratedExternalTenants", "membershipKind": "enumerated",
    "members": ["11111111-1111-4111-8111-111111111111"]}}


def test_create_answers_201_with_server_defaults(graph, sandbox_reset):
    created = graph.create(POLICIES, new_policy())
    users, apps = created["conditions"]["users"], created["conditions"]["applications"]
    assert users["excludeUsers"] == [] and users["includeRoles"] == [] and users["excludeGuestsOrExternalUsers"] is None
    assert apps["excludeApplications"] == [] and apps["applicationFilter"] is None
    assert created["conditions"]["locations"] is None and created["conditions"]["platforms"] is None
    assert created["sessionControls"] is None and created["modifiedDateTime"] is None and created["createdDateTime"]
    assert created["@odata.context"].startswith(sandbox_reset.url + "/v1.0/$metadata#identity/conditionalAccess/policies")
    stored = [p for p in sandbox_reset.client.policies(graph.tenant) if p["id"] == created["id"]]
    assert stored and stored[0]["displayName"] == "Sandbox test"

    location = graph.create(LOCATIONS, ip_location("Office", "203.0.113.0/24"))
    assert location["@odata.type"] == "#microsoft.graph.ipNamedLocation" and location["isTrusted"] is False
    assert location["modifiedDateTime"] is None and len(location["id"]) == 36
    country = graph.create(LOCATIONS, {"@odata.type": "#microsoft.graph.countryNamedLocation", "displayName": "NL",
                                       "countriesAndRegions": ["NL"]})
    assert country["countryLookupMethod"] == "clientIpAddress" and country["includeUnknownCountriesAndRegions"] is False
    assert [e["status"] for e in sandbox_reset.client.writes(graph.tenant)] == [201, 201, 201]


def test_patch_deep_merges_objects_replaces_arrays_and_null_clears(graph):
    body = new_policy(sessionControls={"persistentBrowser": {"isEnabled": True, "mode": "never"}})
    path = "%s/%s" % (POLICIES, graph.create(POLICIES, body)["id"])
    patched = graph.call("PATCH", path, {"conditions": {"users": {"excludeUsers": ["a1a1a1a1-0000-4000-8000-000000000001"],
                                                                  "excludeGuestsOrExternalUsers": GUESTS}},
                                         "grantControls": {"builtInControls": ["compliantDevice", "mfa"]},
                                         "sessionControls": None})
    assert patched.status_code == 204 and patched.content == b""
    after = graph.get(path).json()
    users = after["conditions"]["users"]
    assert users["includeUsers"] == ["All"]  # merged, not replaced
    assert users["excludeUsers"] == ["a1a1a1a1-0000-4000-8000-000000000001"]
    assert users["excludeGuestsOrExternalUsers"]["guestOrExternalUserTypes"] == "internalGuest,serviceProvider"
    assert after["grantControls"] == dict(after["grantControls"], operator="OR", builtInControls=["compliantDevice", "mfa"])
    assert after["sessionControls"] is None and after["modifiedDateTime"]
    assert after["conditions"]["applications"]["includeApplications"] == ["All"]


@pytest.mark.parametrize("where, sent, stored", [
    (("conditions", "users", "excludeGuestsOrExternalUsers", "guestOrExternalUserTypes"),
     "serviceProvider,b2bCollaborationGuest,internalGuest", "internalGuest,b2bCollaborationGuest,serviceProvider"),
    (("conditions", "authenticationFlows", "transferMethods"), "authenticationTransfer,deviceCodeFlow",
     "deviceCodeFlow,authenticationTransfer"),
    (("conditions", "insiderRiskLevels"), "elevated,minor", "minor,elevated"),
])
def test_flags_enums_are_stored_in_declaration_order(graph, sandbox_reset, where, sent, stored):
    body = new_policy()
    cursor = body
    for key in where[:-1]:
        cursor = cursor.setdefault(key, {})
    cursor[where[-1]] = sent
    if where[-1] == "guestOrExternalUserTypes":
        cursor["externalTenants"] = GUESTS["externalTenants"]
    created = graph.create(POLICIES, body)
    for source in (created, sandbox_reset.client.policies(graph.tenant)[-1]):
        value = source
        for key in where:
            value = value[key]
        assert value == stored


def test_evolvable_enums_hidden_without_prefer(graph, sandbox_reset):
    body = new_policy(conditions={"users": {"includeUsers": ["All"]}, "applications": {"includeApplications": ["All"]},
                                  "platforms": {"includePlatforms": ["linux", "android"]}},
                      grantControls={"operator": "AND", "builtInControls": ["mfa", "riskRemediation"]})
    pid = graph.create(POLICIES, body)["id"]
    plain = Graph(sandbox_reset, graph.tenant, prefer=False).get(POLICIES + "/" + pid).json()
    assert plain["conditions"]["platforms"]["includePlatforms"] == ["unknownFutureValue", "android"]
    assert plain["grantControls"]["builtInControls"] == ["mfa", "unknownFutureValue"]
    full = graph.get(POLICIES + "/" + pid).json()
    assert full["conditions"]["platforms"]["includePlatforms"] == ["linux", "android"]
    assert full["grantControls"]["builtInControls"] == ["mfa", "riskRemediation"]


def test_ineffectual_session_controls_are_condensed_to_null(graph):
    created = graph.create(POLICIES, new_policy(sessionControls={"persistentBrowser": {"isEnabled": False},
                                                                 "signInFrequency": {"isEnabled": False}}))
    assert created["sessionControls"] is None


def test_delete_soft_deletes_and_restore_brings_back(graph, sandbox_reset):
    pid = graph.create(POLICIES, new_policy(displayName="to delete"))["id"]
    assert graph.call("DELETE", POLICIES + "/" + pid).status_code == 204
    assert graph.get(POLICIES + "/" + pid).status_code == 404
    deleted = graph.get("/v1.0/identity/conditionalAccess/deletedItems/policies").json()["value"]
    assert [(d["id"], bool(d["deletedDateTime"])) for d in deleted] == [(pid, True)]
    assert sandbox_reset.client.tenant(graph.tenant)["deleted"]["policies"][0]["id"] == pid
    restored = graph.call("POST", "/v1.0/identity/conditionalAccess/deletedItems/policies/%s/restore" % pid)
    assert restored.status_code == 200 and restored.json()["deletedDateTime"] is None
    assert graph.get(POLICIES + "/" + pid).json()["displayName"] == "to delete"
    lid = graph.create(LOCATIONS, ip_location("gone"))["id"]
    assert graph.call("DELETE", LOCATIONS + "/" + lid).status_code == 204
    purge = graph.call("DELETE", "/v1.0/identity/conditionalAccess/deletedItems/namedLocations/" + lid)
    assert purge.status_code == 204
    assert graph.get("/v1.0/identity/conditionalAccess/deletedItems/namedLocations").json()["value"] == []


def test_beta_is_an_alias_on_the_same_state(graph, sandbox_reset):
    created = graph.create(POLICIES.replace("v1.0", "beta"), new_policy(displayName="via beta"))
    assert created["@odata.context"].startswith(sandbox_reset.url + "/beta/")
    assert graph.get(POLICIES + "/" + created["id"]).json()["displayName"] == "via beta"
    assert [(e["version"], e["path"]) for e in sandbox_reset.client.writes(graph.tenant)] == [
        ("beta", "/beta/identity/conditionalAccess/policies")]
    assert graph.call("PATCH", POLICIES.replace("v1.0", "beta") + "/" + created["id"], {"bogus": 1}).status_code == 400


def test_paging_of_120_policies_with_absolute_next_link(sandbox):
    sandbox.client.reset(fixture=str(EXCLUSION_FIXTURE))
    try:
        tenant = "66666666-6666-4666-8666-666666666666"
        graph = Graph(sandbox, tenant)
        first = graph.get(POLICIES).json()
        link = first["@odata.nextLink"]
        assert len(first["value"]) == 100 and link.startswith(sandbox.url + "/v1.0/") and "%24skiptoken=" in link
        second = graph.get(link).json()
        assert len(second["value"]) == 20 and "@odata.nextLink" not in second
        names = [p["displayName"] for p in first["value"] + second["value"]]
        assert len(set(names)) == 120 and len(sandbox.client.policies(tenant)) == 120
        small = graph.get(POLICIES + "?$top=50&$select=id,displayName").json()
        assert len(small["value"]) == 50 and set(small["value"][0]) == {"id", "displayName"}
        pages, link = 1, small["@odata.nextLink"]
        while link:
            pages += 1
            link = graph.get(link).json().get("@odata.nextLink")
        assert pages == 3
    finally:
        sandbox.client.reset()


def test_filters_on_policies_and_locations(graph):
    graph.create(LOCATIONS, ip_location("Office"))
    graph.create(LOCATIONS, {"@odata.type": "#microsoft.graph.countryNamedLocation", "displayName": "Home countries",
                             "countriesAndRegions": ["NL", "BE"]})
    ip_only = graph.get(LOCATIONS + "?$filter=isof('microsoft.graph.ipNamedLocation')").json()["value"]
    assert [loc["displayName"] for loc in ip_only] == ["Office"]
    named = graph.get(POLICIES + "?$filter=displayName eq 'CA001-Global-BaseProtection-AllApps-AnyPlatform-MFA'").json()
    assert len(named["value"]) == 1
    assert graph.get(POLICIES + "?$filter=displayName eq 'nope'").json()["value"] == []
    item = graph.get("%s/%s?$select=displayName" % (POLICIES, named["value"][0]["id"])).json()
    assert set(item) == {"id", "displayName"}


def test_directory_reads(graph):
    fixture = load_fixture()
    msp = fixture["tenants"][msp_tenant_id()]
    upn = "cipp-svc@" + msp["default_domain"]
    found = graph.get("/v1.0/users?$filter=userPrincipalName eq '%s'" % upn).json()["value"]
    assert [u["userPrincipalName"] for u in found] == [upn]
    assert graph.get("/v1.0/users/" + upn).json()["id"] == found[0]["id"]
    assert graph.get("/v1.0/users/" + found[0]["id"]).json()["userPrincipalName"] == upn
    assert graph.get("/v1.0/users/nobody@example.com").status_code == 404
    group = graph.get("/v1.0/groups?$filter=displayName eq 'CIPP Technicians'").json()["value"][0]
    assert graph.get("/v1.0/groups/" + group["id"]).json()["displayName"] == "CIPP Technicians"
    swa = graph.get("/v1.0/servicePrincipals?$filter=appId eq 'd414ee2d-73e5-4e5b-bb16-03ef55fea597'").json()["value"]
    assert [s["displayName"] for s in swa] == ["Azure Static Web Apps"]
    by_name = graph.get("/v1.0/servicePrincipals?$filter=displayName eq 'CIPP-SAM'").json()["value"]
    assert len(by_name) == 1
    definitions = {d["id"]: d["displayName"] for d in
                   graph.get("/v1.0/roleManagement/directory/roleDefinitions").json()["value"]}
    assert len(definitions) >= 12 and definitions["62e90394-69f5-4237-9190-012177145e10"] == "Global Administrator"
    assert definitions["b1be1c3e-b65d-4f19-8427-f6fa0d97feb9"] == "Conditional Access Administrator"
    assert definitions["194ae4cb-b126-40b2-bd5b-6091b380977d"] == "Security Administrator"
    assert definitions["f2ef992c-3afb-46b9-b7cf-a126ee74c451"] == "Global Reader"
    roles = graph.get("/v1.0/directoryRoles").json()["value"]
    assert {r["roleTemplateId"] for r in roles} == set(definitions)
    assert graph.get("/v1.0/organization").json()["value"][0]["displayName"] == msp["display_name"]
    skus = graph.get("/v1.0/subscribedSkus").json()["value"]
    assert {p["servicePlanName"] for s in skus for p in s["servicePlans"]} >= {"AAD_PREMIUM", "AAD_PREMIUM_P2"}


def test_security_defaults_get_and_patch(graph, sandbox_reset):
    path = "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy"
    current = graph.get(path).json()
    assert current["id"] == "00000000-0000-0000-0000-000000000005" and current["isEnabled"] is False
    assert graph.call("PATCH", path, {"isEnabled": True}).status_code == 204
    assert graph.get(path).json()["isEnabled"] is True
    assert sandbox_reset.client.tenant(graph.tenant)["securityDefaults"]["isEnabled"] is True


def test_sign_ins_filter_and_report_only_results(graph, sandbox_reset):
    policy_id = sandbox_reset.client.policies(graph.tenant)[0]["id"]
    query = ("/v1.0/auditLogs/signIns?$filter=createdDateTime ge 2026-11-19T00:00:00Z and "
             "appliedConditionalAccessPolicies/any(p:p/id eq '%s')&$top=1" % policy_id)
    first = graph.get(query).json()
    assert len(first["value"]) == 1 and first["@odata.nextLink"]
    rest = graph.get(first["@odata.nextLink"]).json()["value"]
    every = first["value"] + rest
    assert every and all(s["createdDateTime"] >= "2026-11-19" for s in every)
    assert {p["result"] for s in every for p in s["appliedConditionalAccessPolicies"]} == {"failure", "reportOnlyFailure"}
    masked = Graph(sandbox_reset, graph.tenant, prefer=False).get(query.replace("&$top=1", "")).json()["value"]
    masked_results = {p["result"] for s in masked for p in s["appliedConditionalAccessPolicies"]}
    assert masked_results == {"failure", "unknownFutureValue"}
    assert graph.get("/v1.0/auditLogs/signIns?$filter=appliedConditionalAccessPolicies/any(p:p/id eq 'x')").json()[
        "value"] == []


def test_sign_ins_need_a_premium_licence(graph, custom_fixture):
    def unlicensed(fixture):
        fixture["tenants"][msp_tenant_id()]["subscribedSkus"] = []
    custom_fixture(unlicensed)
    response = graph.get("/v1.0/auditLogs/signIns")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"


def test_app_permissions_are_checked_per_route(sandbox, custom_fixture):
    reader = {"client_id": "a0a0a0a0-0000-4000-8000-0000000000a0", "client_secret": "reader-secret",
              "display_name": "reader", "roles": ["Policy.Read.All"]}
    custom_fixture(lambda fixture: fixture["apps"].append(reader))
    from sandbox_testlib import get_token
    token = get_token(sandbox, msp_tenant_id(), reader["client_id"], reader["client_secret"])
    graph = Graph(sandbox, msp_tenant_id(), token=token)
    assert graph.get(POLICIES).status_code == 200
    for response in (graph.call("POST", POLICIES, new_policy()), graph.get("/v1.0/users"), graph.get("/v1.0/groups")):
        assert response.status_code == 403
        assert response.json()["error"] == dict(response.json()["error"], code="Authorization_RequestDenied",
                                                message="Insufficient privileges to complete the operation.")
    assert sandbox.client.writes(msp_tenant_id()) == []
