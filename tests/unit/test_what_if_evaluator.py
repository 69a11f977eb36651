"""The sandbox's What If evaluator (sandbox/evaluator.py) against Microsoft's documented examples.

The four examples of learn.microsoft.com/graph/api/conditionalaccessroot-evaluate (v1.0): a user reaching SharePoint
through an Office365 policy, an authentication context, a user action, and a service principal. Their policies are
copied (shortened) from the documented answers; each documented policy must come back with policyApplies true and
analysisReasons notSet, and changing one detail of the sign-in must turn it off with the matching reason.
"""

import copy

import pytest

from sandbox.evaluator import EvaluationError, evaluate
from sandbox.graph import fill_policy_defaults

USER = "15dc174b-f34c-4588-ac45-61d6e05dce93"
EXCLUDED = "f7ca74b0-8562-4083-b66c-0476f942cfd0"
SP = "c65b94a5-0049-439a-a6fd-bce307077730"
SHAREPOINT = "00000003-0000-0ff1-ce00-000000000000"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
REPORT_ONLY = "enabledForReportingButNotEnforced"


def policy(pid, name, users, apps=None, grant=None, state=REPORT_ONLY, **conditions):
    cond = {"users": users, "applications": apps or {"includeApplications": ["All"]}, "clientAppTypes": ["all"]}
    cond.update(conditions)
    return fill_policy_defaults({"id": pid, "displayName": name, "state": state, "conditions": cond,
                                 "grantControls": grant or {"operator": "OR", "builtInControls": ["mfa"]}})


def tenant(*policies, **extra):
    base = {"users": [{"id": USER, "userPrincipalName": "user@contoso.com"},
                      {"id": EXCLUDED, "userPrincipalName": "excluded@contoso.com"}],
            "groups": [], "servicePrincipals": [{"id": SP, "appId": "a1", "displayName": "ST SP"}],
            "namedLocations": [], "roleAssignments": [{"principalId": USER, "roleDefinitionId": GLOBAL_ADMIN}],
            "policies": list(policies)}
    base.update(extra)
    return base


def user_body(context, conditions=None, user=USER, only=True):
    return {"signInIdentity": {"@odata.type": "#microsoft.graph.userSignIn", "userId": user},
            "signInContext": context, "signInConditions": conditions or {}, "appliedPoliciesOnly": only}


def app(*ids):
    return {"@odata.type": "#microsoft.graph.applicationContext", "includeApplications": list(ids)}


def verdicts(results):
    return {r["displayName"]: (r["policyApplies"], r["analysisReasons"]) for r in results}


OFFICE = policy("df9e6f15-2b60-4e78-b990-b2da33a10886",
                "All users except au1_Office 365_No conditions_Session control application enforced restrictions",
                {"includeUsers": ["All"], "excludeUsers": [EXCLUDED]}, apps={"includeApplications": ["Office365"]},
                grant=None)
OFFICE["grantControls"] = None
OFFICE["sessionControls"] = {"applicationEnforcedRestrictions": {"isEnabled": True}}
PASSWORD_CHANGE = policy("37d51c45-8c60-4f82-98e0-6e1451cecf7c", "All Users except au1_All resources_user risk H_Password change",
                         {"includeUsers": ["All"], "excludeUsers": [EXCLUDED]},
                         grant={"operator": "AND", "builtInControls": ["mfa", "passwordChange"]}, userRiskLevels=["high"])
EXAMPLE_1 = {"devicePlatform": "android", "clientAppType": "browser", "signInRiskLevel": "high", "userRiskLevel": "high",
             "country": "US", "ipAddress": "40.77.182.32", "insiderRiskLevel": "elevated",
             "authenticationFlow": {"transferMethod": "deviceCodeFlow"}, "deviceInfo": {"isCompliant": True}}


def test_example_1_office365_group_and_user_risk_apply():
    results = evaluate(tenant(OFFICE, PASSWORD_CHANGE), user_body(app(SHAREPOINT), EXAMPLE_1))
    assert verdicts(results) == {OFFICE["displayName"]: (True, "notSet"), PASSWORD_CHANGE["displayName"]: (True, "notSet")}
    # the answer is the policy itself plus the two What If properties
    first = results[0]
    assert first["id"] == OFFICE["id"] and first["state"] == REPORT_ONLY and first["conditions"] == OFFICE["conditions"]
    # the excluded user: neither applies, because of the users condition
    everything = evaluate(tenant(OFFICE, PASSWORD_CHANGE), user_body(app(SHAREPOINT), EXAMPLE_1, user=EXCLUDED, only=False))
    assert set(verdicts(everything).values()) == {(False, "users")}
    # low user risk: the password-change policy does not apply (userRisk); an app outside Office365: application
    low = dict(EXAMPLE_1, userRiskLevel="low")
    assert verdicts(evaluate(tenant(PASSWORD_CHANGE), user_body(app(SHAREPOINT), low, only=False)))[
        PASSWORD_CHANGE["displayName"]] == (False, "userRisk")
    graph_app = verdicts(evaluate(tenant(OFFICE), user_body(app("00000003-0000-0000-c000-000000000000"), EXAMPLE_1,
                                                            only=False)))
    assert graph_app[OFFICE["displayName"]] == (False, "application")


def test_example_2_authentication_context():
    ctx = policy("e897c693-c0e6-4386-abc3-f46dee5940fb", "All users_auth context_No conditions_Auth strength MFA",
                 {"includeUsers": ["All"]}, apps={"includeApplications": [],
                                                  "includeAuthenticationContextClassReferences": ["c1", "c37"]},
                 grant={"operator": "OR", "builtInControls": [],
                        "authenticationStrength": {"id": "00000000-0000-0000-0000-000000000002"}})
    body = user_body({"@odata.type": "#microsoft.graph.authContext", "authenticationContextValue": "c37"},
                     {"devicePlatform": "windows", "clientAppType": "mobileAppsAndDesktopClients"})
    assert verdicts(evaluate(tenant(ctx), body)) == {ctx["displayName"]: (True, "notSet")}
    body["signInContext"]["authenticationContextValue"] = "c2"
    body["appliedPoliciesOnly"] = False
    assert verdicts(evaluate(tenant(ctx), body))[ctx["displayName"]] == (False, "authenticationContext")


def test_example_3_user_action_with_all_resources_and_role_policies():
    admins = policy("4aa7d105-d92b-4c07-9834-0e810ddb89ac", "All admin roles except au1_All resources_No conditions_MFA",
                    {"includeRoles": [GLOBAL_ADMIN], "excludeUsers": [EXCLUDED]})
    action = policy("11083471-5a50-43ad-90c0-23f1af0869e1", "All users except au1_User action RS info_No conditions",
                    {"includeUsers": ["All"], "excludeUsers": [EXCLUDED]},
                    apps={"includeApplications": [], "includeUserActions": ["urn:user:registersecurityinfo"]})
    body = user_body({"@odata.type": "#microsoft.graph.userActionContext", "userAction": "registerSecurityInformation"},
                     {"devicePlatform": "macOS", "clientAppType": "browser", "signInRiskLevel": "low",
                      "userRiskLevel": "high", "country": "CA", "ipAddress": "40.77.182.32"})
    assert verdicts(evaluate(tenant(PASSWORD_CHANGE, admins, action), body)) == {
        PASSWORD_CHANGE["displayName"]: (True, "notSet"), admins["displayName"]: (True, "notSet"),
        action["displayName"]: (True, "notSet")}
    # without the role assignment the admin policy does not reach the user
    body["appliedPoliciesOnly"] = False
    no_role = verdicts(evaluate(tenant(admins, roleAssignments=[]), body))
    assert no_role[admins["displayName"]] == (False, "users")


def test_example_4_service_principal():
    block_sp = policy("461478d2-5896-4761-84ba-4d241c396a29", "All ST SPs_All resources_Any location_Block",
                      {"includeUsers": ["None"]}, grant={"operator": "OR", "builtInControls": ["block"]},
                      locations={"includeLocations": ["All"], "excludeLocations": []},
                      clientApplications={"includeServicePrincipals": ["ServicePrincipalsInMyTenant"],
                                          "excludeServicePrincipals": []})
    body = {"signInIdentity": {"@odata.type": "#microsoft.graph.servicePrincipalSignIn", "servicePrincipalId": SP},
            "signInContext": app(SHAREPOINT), "appliedPoliciesOnly": True,
            "signInConditions": {"servicePrincipalRiskLevel": "high", "country": "CA", "ipAddress": "40.77.182.32"}}
    assert verdicts(evaluate(tenant(block_sp, PASSWORD_CHANGE), body)) == {block_sp["displayName"]: (True, "notSet")}
    body["appliedPoliciesOnly"] = False
    # a user policy does not reach a workload identity; a workload policy does not reach a user
    assert verdicts(evaluate(tenant(PASSWORD_CHANGE), body))[PASSWORD_CHANGE["displayName"]] == (False, "workloadIdentities")
    assert verdicts(evaluate(tenant(block_sp), user_body(app(SHAREPOINT), EXAMPLE_1, only=False)))[
        block_sp["displayName"]] == (False, "users")


OFFICE_IP = {"@odata.type": "#microsoft.graph.ipNamedLocation", "id": "aaaaaaaa-0000-4000-8000-00000000000a",
             "displayName": "Office", "isTrusted": True, "ipRanges": [{"cidrAddress": "203.0.113.0/24"}]}
COUNTRY = {"@odata.type": "#microsoft.graph.countryNamedLocation", "id": "bbbbbbbb-0000-4000-8000-00000000000b",
           "displayName": "Netherlands", "countriesAndRegions": ["NL"], "includeUnknownCountriesAndRegions": False}
PART_A = policy("cccccccc-0000-4000-8000-00000000000c", "Part A", {"includeGroups": ["group-techs"],
                                                                   "excludeUsers": [EXCLUDED]},
                grant={"operator": "OR", "builtInControls": ["block"]},
                locations={"includeLocations": ["All"], "excludeLocations": [OFFICE_IP["id"]]})


@pytest.mark.parametrize("conditions, expected", [
    ({"ipAddress": "203.0.113.10"}, (False, "location")),
    ({"ipAddress": "198.51.100.7"}, (True, "notSet")),
    ({}, (False, "notEnoughInformation")),
])
def test_location_by_ip_and_group_membership(conditions, expected):
    groups = [{"id": "group-outer", "members": ["group-techs"]}, {"id": "group-techs", "members": [USER]}]
    state = tenant(PART_A, namedLocations=[OFFICE_IP], groups=groups)
    assert verdicts(evaluate(state, user_body(app(SHAREPOINT), conditions, only=False)))["Part A"] == expected
    # nested: a policy on the outer group reaches the member of the inner one
    outer = copy.deepcopy(PART_A)
    outer["conditions"]["users"]["includeGroups"] = ["group-outer"]
    outer["displayName"] = "outer"
    assert verdicts(evaluate(tenant(outer, namedLocations=[OFFICE_IP], groups=groups),
                             user_body(app(SHAREPOINT), conditions, only=False)))["outer"] == expected


def test_all_trusted_country_platform_client_app_and_disabled():
    trusted = policy("t", "trusted only", {"includeUsers": ["All"]}, locations={"includeLocations": ["AllTrusted"]})
    country = policy("c", "from NL", {"includeUsers": ["All"]}, locations={"includeLocations": [COUNTRY["id"]]})
    ios = policy("p", "iOS", {"includeUsers": ["All"]}, platforms={"includePlatforms": ["iOS", "android"],
                                                                   "excludePlatforms": []})
    legacy = policy("l", "legacy", {"includeUsers": ["All"]}, clientAppTypes=["exchangeActiveSync", "other"])
    off = policy("d", "off", {"includeUsers": ["All"]}, state="disabled")
    state = tenant(trusted, country, ios, legacy, off, namedLocations=[OFFICE_IP, COUNTRY])
    got = verdicts(evaluate(state, user_body(app(SHAREPOINT), {"ipAddress": "203.0.113.5", "country": "NL",
                                                               "devicePlatform": "windows", "clientAppType": "browser"},
                                             only=False)))
    assert got == {"trusted only": (True, "notSet"), "from NL": (True, "notSet"), "iOS": (False, "devicePlatform"),
                   "legacy": (False, "clientApps"), "off": (False, "policyNotEnabled")}
    got = verdicts(evaluate(state, user_body(app(SHAREPOINT), {"ipAddress": "198.51.100.7", "country": "DE",
                                                               "devicePlatform": "iOS", "clientAppType": "other"},
                                             only=False)))
    assert got["trusted only"] == (False, "location") and got["from NL"] == (False, "location")
    assert got["iOS"] == (True, "notSet") and got["legacy"] == (True, "notSet")


def test_service_provider_guests_and_their_exclusion():
    msp = "11111111-1111-4111-8111-111111111111"
    excluded = policy("x", "excludes the MSP", {"includeUsers": ["All"], "excludeGuestsOrExternalUsers": {
        "guestOrExternalUserTypes": "serviceProvider", "externalTenants": {
            "@odata.type": "#microsoft.graph.conditionalAccessEnumeratedExternalTenants", "membershipKind": "enumerated",
            "members": [msp]}}}, grant={"operator": "OR", "builtInControls": ["block"]})
    body = {"signInIdentity": {"@odata.type": "#microsoft.graph.userSignIn", "externalUserType": "serviceProvider",
                               "externalTenantId": msp}, "signInContext": app(SHAREPOINT), "signInConditions": {},
            "appliedPoliciesOnly": False}
    assert verdicts(evaluate(tenant(excluded), body))["excludes the MSP"] == (False, "users")
    body["signInIdentity"]["externalTenantId"] = "99999999-9999-4999-8999-999999999999"
    assert verdicts(evaluate(tenant(excluded), body))["excludes the MSP"] == (True, "notSet")


def test_unknown_user_is_not_found():
    with pytest.raises(EvaluationError) as caught:
        evaluate(tenant(), user_body(app(SHAREPOINT), user="00000000-1111-4111-8111-000000000000"))
    assert caught.value.status == 404 and caught.value.code == "Request_ResourceNotFound"
