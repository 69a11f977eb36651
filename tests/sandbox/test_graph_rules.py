"""Service rules the schema cannot express (graph-ca.md 2.3 and section 8 item 5), and Microsoft's schema corpus."""

import copy
import json
from pathlib import Path

import pytest

from sandbox_testlib import LOCATIONS, POLICIES, ip_location, new_policy
from sandbox_testlib import custom_fixture, graph, trust_sandbox_ca  # noqa: F401 pylint: disable=unused-import (pytest fixtures)

CASES = Path("/work/shared/reference/graph-openapi/cases")
TAILSPIN = "44444444-4444-4444-8444-444444444444"
MMP_NAME = "Microsoft-managed: Multifactor authentication for admins accessing Admin Portals"
EXTERNAL = {"@odata.type": "#microsoft.graph.conditionalAccessEnumeratedExternalTenants",
            "membershipKind": "enumerated", "members": ["11111111-1111-4111-8111-111111111111"]}


def conditions(users=None, apps=None, **extra):
    return dict({"users": users or {"includeUsers": ["All"]},
                 "applications": apps or {"includeApplications": ["All"]}, "clientAppTypes": ["all"]}, **extra)


def test_misspelt_property_is_1007_with_the_explained_path(graph, sandbox_reset):
    misspelt = conditions(users={"includeUsers": ["All"], "excludeUserz": []})
    message = graph.error("POST", POLICIES, new_policy(conditions=misspelt))
    assert message.startswith("1007: Incoming ConditionalAccessPolicy object is null or does not match the schema of "
                              "ConditionalAccessPolicy type.")
    assert "$.conditions.users: unknown property 'excludeUserz' for conditionalAccessUsers" in message
    location = graph.error("POST", LOCATIONS, dict(ip_location(), isTrustd=True))
    assert location.startswith("1007: Incoming NamedLocation object") and "'isTrustd'" in location
    assert sandbox_reset.client.writes(graph.tenant) == []


@pytest.mark.parametrize("body, code", [
    ({"state": "disabled", "conditions": conditions(), "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}},
     "1007"),
    (new_policy(state=None), "1007"),
    ({"displayName": "x", "state": "disabled", "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}}, "1007"),
    (new_policy(conditions=conditions(users={"excludeUsers": ["GuestsOrExternalUsers"]})), "1005"),
    (new_policy(conditions=conditions(apps={"includeApplications": []})), "1011"),
    (new_policy(conditions=conditions(apps={"includeApplications": ["All"],
                                            "includeUserActions": ["urn:user:registersecurityinfo"]})), "1011"),
    (new_policy(grantControls={"operator": "XOR", "builtInControls": ["mfa"]}), "1007"),
    (new_policy(grantControls={"operator": "OR", "builtInControls": []}), "1007"),
    (new_policy(grantControls={"operator": "OR", "builtInControls": ["passwordChange"]}), "1032"),
    (new_policy(sessionControls={"signInFrequency": {"isEnabled": True, "frequencyInterval": "everyTime",
                                                     "type": "hours", "value": 1}}), "1007"),
    (new_policy(sessionControls={"signInFrequency": {"isEnabled": True, "frequencyInterval": "everyTime"},
                                 "applicationEnforcedRestrictions": {"isEnabled": False}}), "1007"),
    (new_policy(sessionControls={"signInFrequency": {"isEnabled": True, "frequencyInterval": "everyTime"},
                                 "disableResilienceDefaults": False}), "1007"),
    (new_policy(conditions=conditions(users={"includeUsers": ["All"], "excludeGuestsOrExternalUsers": {
        "externalTenants": EXTERNAL}})), "1007"),
    (new_policy(conditions=conditions(users={"includeUsers": ["All"], "excludeGuestsOrExternalUsers": {
        "guestOrExternalUserTypes": "serviceProvider", "externalTenants": dict(
            EXTERNAL, **{"@odata.type": "#microsoft.graph.conditionalAccessAllExternalTenants", "membershipKind": "all"})}})),
     "1007"),
    (new_policy(conditions=conditions(locations={"includeLocations": ["All"],
                                                 "excludeLocations": ["aaaaaaaa-0000-4000-8000-000000000000"]})), "1040"),
], ids=["no-name", "no-state", "no-conditions", "users-empty", "1011-empty-apps", "apps-and-actions", "operator",
        "no-controls", "1032", "everytime-with-value", "everytime-with-restrictions", "everytime-with-resilience",
        "tenants-without-types", "members-with-all", "1040"])
def test_policy_rules(graph, sandbox_reset, body, code):
    assert graph.error("POST", POLICIES, body).startswith(code + ":")
    assert sandbox_reset.client.writes(graph.tenant) == []


def test_valid_edge_cases_are_accepted(graph):
    graph.create(POLICIES, new_policy(conditions=conditions(users={"includeUsers": ["None"]})))
    graph.create(POLICIES, new_policy(conditions=conditions(locations={
        "includeLocations": ["All"], "excludeLocations": ["AllTrusted", "00000000-0000-0000-0000-000000000000"]})))
    graph.create(POLICIES, new_policy(
        conditions=conditions(userRiskLevels=["high"]),
        grantControls={"operator": "AND", "builtInControls": ["mfa", "passwordChange"]}))
    every_time = graph.create(POLICIES.replace("v1.0", "beta"), new_policy(sessionControls={"signInFrequency": {
        "isEnabled": True, "frequencyInterval": "everyTime", "authenticationType": "primaryAndSecondaryAuthentication"}}))
    assert every_time["sessionControls"]["signInFrequency"]["frequencyInterval"] == "everyTime"


def test_everytime_requires_beta_switch_gives_1038(graph, sandbox_reset):
    sandbox_reset.client.set_faults(tenant=graph.tenant, everytime_requires_beta=True)
    body = new_policy(sessionControls={"signInFrequency": {"isEnabled": True, "frequencyInterval": "everyTime"}})
    assert graph.error("POST", POLICIES, body).startswith("1038:")
    graph.create(POLICIES.replace("v1.0", "beta"), body)
    refused, accepted = sandbox_reset.client.log(graph.tenant)[-2:]
    assert (refused["status"], refused["error"]["code"], refused["write"]) == (400, "BadRequest", False)
    assert refused["error"]["message"].startswith("1038:") and refused["path"].startswith("/v1.0/")
    assert (accepted["status"], accepted["write"], accepted["path"].startswith("/beta/")) == (201, True, True)
    assert "error" not in accepted


def test_location_rules(graph, sandbox_reset):
    assert graph.error("POST", LOCATIONS, {"displayName": "untyped", "ipRanges": [
        {"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "203.0.113.0/24"}]}).startswith("1042:")
    assert graph.call("POST", LOCATIONS, ip_location("bare", "203.0.113.7")).status_code == 400
    assert graph.error("POST", LOCATIONS, ip_location("wide", "10.0.0.0/8")).startswith("1007:")
    graph.create(LOCATIONS, ip_location("narrow enough", "10.0.0.0/9", "2001:db8::/48"))
    too_many = ["10.%d.%d.0/24" % (n // 256, n % 256) for n in range(2001)]
    assert "2000" in graph.error("POST", LOCATIONS, ip_location("many", *too_many))
    assert sandbox_reset.client.writes(graph.tenant)[-1]["status"] == 201  # only "narrow enough" was written


def test_at_most_195_named_locations(sandbox, custom_fixture):
    from conftest import msp_tenant_id
    from sandbox_testlib import Graph

    def crowded(fixture):
        fixture["tenants"][msp_tenant_id()]["namedLocations"] = [
            dict(ip_location("L%d" % number), id="%08d-0000-4000-8000-000000000000" % number) for number in range(194)]
    custom_fixture(crowded)
    graph = Graph(sandbox, msp_tenant_id())
    graph.create(LOCATIONS, ip_location("the 195th"))
    assert "195" in graph.error("POST", LOCATIONS, ip_location("the 196th"))
    assert len(sandbox.client.locations(msp_tenant_id())) == 195


def test_named_location_patch_needs_type_and_keeps_it(graph):
    path = "%s/%s" % (LOCATIONS, graph.create(LOCATIONS, ip_location("Office", "203.0.113.0/24"))["id"])
    assert graph.error("PATCH", path, {"displayName": "renamed"}).startswith("1042:")
    assert graph.error("PATCH", path, {"@odata.type": "#microsoft.graph.countryNamedLocation",
                                       "countriesAndRegions": ["NL"]}).startswith("1007:")
    replaced = ip_location("Office", "198.51.100.0/24")
    assert graph.call("PATCH", path, replaced).status_code == 204
    assert [r["cidrAddress"] for r in graph.get(path).json()["ipRanges"]] == ["198.51.100.0/24"]


def test_trusted_and_referenced_locations_cannot_be_deleted(graph, sandbox_reset):
    trusted = "%s/%s" % (LOCATIONS, graph.create(LOCATIONS, ip_location("HQ", trusted=True))["id"])
    assert "trusted" in graph.error("DELETE", trusted)
    assert graph.call("PATCH", trusted, {"@odata.type": "#microsoft.graph.ipNamedLocation", "isTrusted": False}).status_code == 204
    assert graph.call("DELETE", trusted).status_code == 204
    lid = graph.create(LOCATIONS, ip_location("Branch"))["id"]
    graph.create(POLICIES, new_policy(displayName="uses Branch", conditions=conditions(
        locations={"includeLocations": ["All"], "excludeLocations": [lid]})))
    assert "uses Branch" in graph.error("DELETE", LOCATIONS + "/" + lid)
    sandbox_reset.client.set_faults(text_location_in_use="Location in use (configured text)")
    assert graph.error("DELETE", LOCATIONS + "/" + lid) == "Location in use (configured text)"
    assert [loc["id"] for loc in sandbox_reset.client.locations(graph.tenant)] == [lid]


def test_microsoft_managed_policy_rules(sandbox_reset):
    from sandbox_testlib import Graph

    graph = Graph(sandbox_reset, TAILSPIN)
    mmp = next(p for p in sandbox_reset.client.policies(TAILSPIN) if p["displayName"] == MMP_NAME)
    path = "%s/%s" % (POLICIES, mmp["id"])
    users = copy.deepcopy(mmp["conditions"]["users"])
    users["excludeGuestsOrExternalUsers"] = {"guestOrExternalUserTypes": "serviceProvider", "externalTenants": EXTERNAL}
    users["excludeUsers"] = ["b1b1b1b1-0000-4000-8000-000000000001"]
    assert graph.call("PATCH", path, {"conditions": {"users": users}}).status_code == 204
    assert graph.call("PATCH", path, {"state": "disabled"}).status_code == 204
    block = {"grantControls": {"operator": "OR", "builtInControls": ["block"]}}
    assert "Microsoft-managed" in graph.error("PATCH", path, block)
    assert "Microsoft-managed" in graph.error("PATCH", path, {"displayName": "renamed"})
    assert "Microsoft-managed" in graph.error("PATCH", path, {"conditions": {"users": {"includeUsers": ["All"]}}})
    assert "Microsoft-managed" in graph.error("DELETE", path)
    stored = next(p for p in sandbox_reset.client.policies(TAILSPIN) if p["id"] == mmp["id"])
    assert stored["state"] == "disabled" and stored["conditions"]["users"] == users
    assert [e["method"] for e in sandbox_reset.client.writes(TAILSPIN)] == ["PATCH", "PATCH"]
    sandbox_reset.client.set_faults(tenant=TAILSPIN, mmp_locked=False)
    assert graph.call("PATCH", path, {"displayName": "renamed"}).status_code == 204


def test_security_defaults_block_turning_a_policy_on(graph, sandbox_reset):
    sandbox_reset.client.set_security_defaults(graph.tenant, True)
    message = graph.error("POST", POLICIES, new_policy(state="enabled"))
    assert "Security defaults" in message
    pid = graph.create(POLICIES, new_policy(state="enabledForReportingButNotEnforced"))["id"]
    assert "Security defaults" in graph.error("PATCH", POLICIES + "/" + pid, {"state": "enabled"})
    enabled = sandbox_reset.client.policies(graph.tenant)[0]  # CA001, already on: other edits still work
    assert enabled["state"] == "enabled"
    assert graph.call("PATCH", POLICIES + "/" + enabled["id"], {"description": "kept on"}).status_code == 204


def test_unknown_paths_methods_and_query_options(graph):
    bogus = graph.get("/v1.0/identity/conditionalAccess/bogus")
    assert bogus.status_code == 400 and "bogus" in bogus.json()["error"]["message"]
    assert graph.call("PUT", POLICIES + "/00000000-0000-4000-8000-000000000001", new_policy()).status_code == 405
    assert graph.get(POLICIES + "?$top=abc").status_code == 400
    assert graph.get(POLICIES + "?$select=displayName").status_code == 200
    unknown = graph.get(POLICIES + "?$select=displayNam")  # same shape as the valid one: not answered from cache
    assert unknown.status_code == 400 and "displayNam" in unknown.json()["error"]["message"]
    assert graph.get("/v1.0/users/nobody@example.com?$select=id").status_code == 404


@pytest.mark.parametrize("case", sorted(CASES.glob("*/*.json")), ids=lambda p: "%s/%s" % (p.parent.name, p.stem))
def test_microsoft_schema_cases(case):
    """The sandbox's validator agrees with the shared corpus: valid cases pass, invalid ones are rejected."""
    from sandbox.validation import validate

    data = json.loads(case.read_text())
    errors = validate(data["method"], data["path"], data.get("body"))
    assert (not errors) == (case.parent.name == "valid"), errors
