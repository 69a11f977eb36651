"""The partner MFA audit, case by case: what counts as covered, and every kind of hole by name."""

import copy

from ansible_collections.msp.conditional_access.plugins.module_utils._mfa import (
    PHISHING_RESISTANT, Names, analyse, maester_fragment, scubagear_snippet)

MSP = "11111111-1111-4111-8111-111111111111"
BG1, BG2, ALICE, GROUP, ROLE, LOC = "bg-1", "bg-2", "alice-id", "grp-1", "role-1", "loc-1"
NAMES = Names(trusted=[LOC], fixed={("user", BG1): "breakglass01@msp", ("user", BG2): "breakglass02@msp",
                                    ("user", ALICE): "alice@msp", ("group", GROUP): "Finance",
                                    ("role", ROLE): "Global Administrator", ("location", LOC): "Trusted - MSP Office",
                                    ("tenant", MSP): "Contoso MSP (%s)" % MSP})


def policy(name, state="enabled", grant=None, locations=None, apps=("All",), **users):
    block = {"includeUsers": ["All"], "excludeUsers": [], "includeGroups": [], "excludeGroups": [], "includeRoles": [],
             "excludeRoles": [], "includeGuestsOrExternalUsers": None, "excludeGuestsOrExternalUsers": None}
    block.update(users)
    return {"id": name, "displayName": name, "state": state,
            "conditions": {"users": block, "applications": {"includeApplications": list(apps), "excludeApplications": []},
                           "clientAppTypes": ["all"], "locations": locations},
            "grantControls": grant or {"operator": "OR", "builtInControls": ["mfa"]}}


def pr_policy(name, *accounts):
    return policy(name, includeUsers=list(accounts),
                  grant={"operator": "OR", "builtInControls": [], "authenticationStrength": {"id": PHISHING_RESISTANT}})


def kinds(report):
    return sorted((h["kind"], h["name"]) for h in report["holes"])


def test_all_users_all_apps_mfa_without_exclusions_is_covered():
    report = analyse([policy("MFA all")], False, names=NAMES)
    assert report["status"] == "covered" and report["covered"] and report["holes"] == []
    assert report["baseline_policy"] == "MFA all"
    assert any("trusted IPs" in n for n in report["not_visible"])


def test_break_glass_exclusion_and_trusted_location_are_holes_by_name():
    baseline = policy("MFA all", excludeUsers=[BG1, ALICE],
                      locations={"includeLocations": ["All"], "excludeLocations": [LOC]})
    report = analyse([baseline], False, {BG1: "breakglass01@msp"}, NAMES)
    assert report["status"] == "holes" and not report["covered"]
    assert kinds(report) == [("break_glass", "breakglass01@msp"), ("excluded_user", "alice@msp"),
                             ("trusted_location", "Trusted - MSP Office")]
    bg = report["break_glass"][0]
    assert bg["protected"] is False and "'MFA all'" in bg["detail"]


def test_break_glass_with_its_own_phishing_resistant_policy_is_not_a_hole():
    report = analyse([policy("MFA all", excludeUsers=[BG1, BG2]), pr_policy("BG phishing-resistant", BG1, BG2)],
                     False, {BG1: "breakglass01@msp", BG2: "breakglass02@msp"}, NAMES)
    assert report["status"] == "covered", report["holes"]
    assert all(a["protected"] and a["policy"] == "BG phishing-resistant" for a in report["break_glass"])


def test_break_glass_covered_by_plain_mfa_only_is_still_a_hole():
    report = analyse([policy("MFA all")], False, {BG1: "breakglass01@msp"}, NAMES)
    assert kinds(report) == [("break_glass", "breakglass01@msp")]
    assert "does not require phishing-resistant" in report["holes"][0]["detail"]


def test_report_only_policy_does_not_cover():
    report = analyse([policy("MFA all", state="enabledForReportingButNotEnforced")], False, names=NAMES)
    assert report["status"] == "report_only" and not report["covered"]
    assert kinds(report) == [("no_policy", "All users, all applications"), ("report_only", "MFA all")]


def test_disabled_coverage_and_security_defaults():
    report = analyse([policy("MFA all", state="disabled")], True, names=NAMES)
    assert report["status"] == "report_only" and kinds(report) == [("disabled", "MFA all")]
    assert report["not_visible"][0].startswith("Security defaults are on")
    assert analyse([], True, names=NAMES)["status"] == "security_defaults"
    assert analyse([], False, names=NAMES)["status"] == "none"


def test_group_role_guest_and_application_exclusions_are_named():
    baseline = policy("MFA all", excludeGroups=[GROUP], excludeRoles=[ROLE], excludeGuestsOrExternalUsers={
        "guestOrExternalUserTypes": "internalGuest,b2bCollaborationGuest",
        "externalTenants": {"membershipKind": "all"}})
    baseline["conditions"]["applications"]["excludeApplications"] = ["app-1"]
    report = analyse([baseline], False, names=Names(fixed={**NAMES.fixed, ("application", "app-1"): "Payroll"}))
    assert kinds(report) == [("excluded_application", "Payroll"), ("excluded_group", "Finance"),
                             ("excluded_guests", "internalGuest, b2bCollaborationGuest of all external tenants"),
                             ("excluded_role", "Global Administrator")]


def test_a_hole_closed_by_another_enabled_policy_is_not_listed():
    finance = policy("Finance MFA", includeUsers=[], includeGroups=[GROUP])
    report = analyse([policy("MFA all", excludeGroups=[GROUP]), finance], False, names=NAMES)
    assert report["status"] == "covered"
    # the same policy in report-only closes nothing
    finance["state"] = "enabledForReportingButNotEnforced"
    assert kinds(analyse([policy("MFA all", excludeGroups=[GROUP]), finance], False, names=NAMES)) == \
        [("excluded_group", "Finance")]


def test_or_grant_with_another_control_is_a_hole_and_block_is_not_mfa():
    either = policy("MFA or compliant", grant={"operator": "OR", "builtInControls": ["mfa", "compliantDevice"]})
    assert kinds(analyse([either], False, names=NAMES)) == [("grant", "MFA or compliantDevice")]
    both = policy("MFA and compliant", grant={"operator": "AND", "builtInControls": ["mfa", "compliantDevice"]})
    assert analyse([both], False, names=NAMES)["status"] == "covered"
    block = policy("Block all", grant={"operator": "OR", "builtInControls": ["block"]})
    assert analyse([block], False, names=NAMES)["status"] == "none"


def test_the_msp_gdap_exclusion_in_a_client_tenant_is_sanctioned():
    baseline = policy("MFA all", excludeGuestsOrExternalUsers={
        "guestOrExternalUserTypes": "serviceProvider",
        "externalTenants": {"membershipKind": "enumerated", "members": [MSP]}})
    report = analyse([baseline], False, names=NAMES, msp_tenant_id=MSP)
    assert report["status"] == "sanctioned_only" and report["covered"] and report["open_holes"] == 0
    assert report["holes"][0]["name"] == "serviceProvider of Contoso MSP (%s)" % MSP
    # the same exclusion for a second provider is not the MSP's: an open hole
    other = copy.deepcopy(baseline)
    other["conditions"]["users"]["excludeGuestsOrExternalUsers"]["externalTenants"]["members"].append("other-tenant")
    assert analyse([other], False, names=NAMES, msp_tenant_id=MSP)["status"] == "holes"


def test_exports_declare_the_sanctioned_exclusion():
    text = scubagear_snippet("gdap", label="Fabrikam")
    assert "Aad:\n  MS.AAD.1.1v1:\n    CapExclusions:\n      GuestUserTypes:" in text
    assert "        - serviceProvider" in text and "MS.AAD.3.2v1" in text
    direct = scubagear_snippet("direct", "svc-id")
    assert "      Users:" in direct and "        - svc-id" in direct
    assert scubagear_snippet(None) is None
    fragment, note = maester_fragment({BG1: "breakglass01@msp"}, "gdap")
    assert fragment == {"GlobalSettings": {"EmergencyAccessAccounts": [
        {"Type": "User", "Id": BG1, "UserPrincipalName": "breakglass01@msp"}]}}
    assert "MT.1016" in note
