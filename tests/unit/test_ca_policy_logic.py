"""ca_policy pure logic: option tree -> Graph JSON, Graph rules, exclusion merge, naming framework."""

import pytest

from ansible_collections.msp.conditional_access.plugins.module_utils._module import InvalidOption
from ansible_collections.msp.conditional_access.plugins.module_utils._policy import (
    PolicyBuilder, check_graph_rules, check_naming, merge_exclusions, subset_differs)


class NoLookups:
    """Resolver stand-in for options that hold ids and literals only."""

    def ids(self, kind, values, option):
        return list(values)


builder = PolicyBuilder(NoLookups())


def test_snake_case_tree_maps_to_graph_names_and_enums():
    cond = builder.conditions({
        "users": {"include_users": ["All"], "exclude_guests_or_external_users": {
            "guest_or_external_user_types": ["service_provider", "internal_guest"],
            "external_tenants": {"membership_kind": "enumerated", "members": ["t1"]}}},
        "applications": {"include_applications": ["All"]},
        "client_app_types": ["mobile_apps_and_desktop_clients", "browser"],
        "platforms": {"include_platforms": ["ios", "macos", "windows_phone"]}})
    guests = cond["users"]["excludeGuestsOrExternalUsers"]
    assert guests["guestOrExternalUserTypes"] == "internalGuest,serviceProvider"
    assert guests["externalTenants"]["@odata.type"] == "#microsoft.graph.conditionalAccessEnumeratedExternalTenants"
    assert cond["clientAppTypes"] == ["mobileAppsAndDesktopClients", "browser"]
    assert cond["platforms"]["includePlatforms"] == ["iOS", "macOS", "windowsPhone"]


def test_every_time_sign_in_frequency_rules():
    session = builder.session({"sign_in_frequency": {"frequency_interval": "every_time"}})
    assert session == {"signInFrequency": {"isEnabled": True, "frequencyInterval": "everyTime",
                                           "authenticationType": "primaryAndSecondaryAuthentication"}}
    with pytest.raises(InvalidOption, match="session_controls.sign_in_frequency.type"):
        builder.session({"sign_in_frequency": {"frequency_interval": "every_time", "type": "hours", "value": 1}})
    with pytest.raises(InvalidOption, match="disable_resilience_defaults"):
        builder.session({"sign_in_frequency": {"frequency_interval": "every_time"}, "disable_resilience_defaults": False})
    with pytest.raises(InvalidOption, match="time_based needs type"):
        builder.session({"sign_in_frequency": {"frequency_interval": "time_based"}})


def test_guest_rules():
    with pytest.raises(InvalidOption, match="need guest_or_external_user_types"):
        builder.guests("exclude_guests_or_external_users", {"external_tenants": {"members": ["t"]}})
    with pytest.raises(InvalidOption, match="members only go with"):
        builder.guests("exclude", {"guest_or_external_user_types": ["service_provider"],
                                   "external_tenants": {"membership_kind": "all", "members": ["t"]}})


@pytest.mark.parametrize("policy, option", [
    ({"conditions": {"applications": {"includeApplications": []}}, "grantControls": {"builtInControls": ["mfa"]}},
     "conditions.applications.include_applications"),
    ({"conditions": {"applications": {"includeApplications": ["All"]}}, "grantControls": {"builtInControls": []}},
     "grant_controls"),
    ({"conditions": {"applications": {"includeApplications": ["All"]}},
      "grantControls": {"operator": "OR", "builtInControls": ["passwordChange"]}}, "grant_controls.built_in_controls"),
    ({"conditions": {"applications": {"includeApplications": ["All"]}},
      "grantControls": {"operator": "OR", "builtInControls": ["block", "mfa"]}}, "grant_controls.built_in_controls"),
])
def test_graph_rules_name_the_option(policy, option):
    with pytest.raises(InvalidOption) as err:
        check_graph_rules(policy)
    assert err.value.option == option


def test_password_change_accepted_when_complete():
    check_graph_rules({"conditions": {"applications": {"includeApplications": ["All"]}, "userRiskLevels": ["high"]},
                       "grantControls": {"operator": "AND", "builtInControls": ["mfa", "passwordChange"]}})


def test_exclusions_are_kept_and_guest_exclusions_merged():
    current = {"excludeUsers": ["bg1"], "excludeGuestsOrExternalUsers": {
        "guestOrExternalUserTypes": "serviceProvider", "externalTenants": {
            "@odata.type": "#microsoft.graph.conditionalAccessEnumeratedExternalTenants", "membershipKind": "enumerated",
            "members": ["msp"]}}}
    desired = {"excludeUsers": ["svc"], "excludeGuestsOrExternalUsers": {
        "guestOrExternalUserTypes": "b2bCollaborationGuest", "externalTenants": {
            "@odata.type": "#microsoft.graph.conditionalAccessEnumeratedExternalTenants", "membershipKind": "enumerated",
            "members": ["partner"]}}}
    merged = merge_exclusions(current, desired)
    assert merged["excludeUsers"] == ["bg1", "svc"]
    assert merged["excludeGuestsOrExternalUsers"]["guestOrExternalUserTypes"] == "b2bCollaborationGuest,serviceProvider"
    assert merged["excludeGuestsOrExternalUsers"]["externalTenants"]["members"] == ["msp", "partner"]


def test_subset_compare_ignores_order_and_omitted_keys():
    current = {"users": {"includeUsers": ["a", "b"], "excludeUsers": ["x"]}, "locations": None}
    assert not subset_differs(current, {"users": {"includeUsers": ["b", "a"]}})
    assert subset_differs(current, {"users": {"includeUsers": ["a"]}})


@pytest.mark.parametrize("name, ok", [
    ("CA600-Microsoft365ServiceAccounts-BaseProtection-AllApps-AnyPlatform-MFA-CIPPServiceAccount", True),
    ("CA001-Global-BaseProtection-AllApps-AnyPlatform-MFA", True),
    ("CA100-Admins-BaseProtection-AllApps-AnyPlatform-MFA", False),   # Admins use CA200-CA299
    ("CA200-Wizards-BaseProtection-AllApps-AnyPlatform-MFA", False),  # unknown persona
    ("Block CIPP Access - Outside Trusted IPs", False),
])
def test_microsoft_naming_framework(name, ok):
    if ok:
        check_naming(name)
    else:
        with pytest.raises(InvalidOption):
            check_naming(name)
