"""ca_policy pure logic: option tree <-> Graph JSON, Graph rules, exclusion merge, PATCH bodies, guards."""

import copy

import pytest

from ansible_collections.msp.conditional_access.plugins.module_utils._module import InvalidOption
from ansible_collections.msp.conditional_access.plugins.module_utils._policy import (
    ARGUMENT_SPEC, CONDITIONS, SESSION, Policies, PolicyBuilder, check_graph_rules, comparable, is_managed, merge_policy,
    policy_options, writable)

ENUMERATED = "#microsoft.graph.conditionalAccessEnumeratedExternalTenants"


T1 = "71717171-0000-4000-8000-000000000001"
PARTNER = "71717171-0000-4000-8000-0000000000a2"


class NameBook:
    """Resolver stand-in: 'name:<x>' <-> 'id-<x>' for every kind, literals unchanged."""

    LITERALS = {"All", "None", "AllTrusted", "Office365", "MicrosoftAdminPortals", "GuestsOrExternalUsers"}

    def ids(self, kind, values, option):
        return [v if v in self.LITERALS else "id-%s-%s" % (kind, v) for v in values]

    def resolve(self, kind, value, option):
        return {"phishing_resistant_mfa": "00000000-0000-0000-0000-000000000004"}.get(value) or self.ids(
            kind, [value], option)[0]

    def name(self, kind, oid):
        prefix = "id-%s-" % kind
        return oid[len(prefix):] if oid.startswith(prefix) else oid


builder = PolicyBuilder(NameBook())

FULL = {
    "conditions": {
        "users": {"include_users": ["All"], "exclude_users": ["bg1@x"], "include_groups": ["Techs"],
                  "exclude_groups": ["Svc"], "include_roles": ["Global Administrator"], "exclude_roles": ["Global Reader"],
                  "exclude_guests_or_external_users": {
                      "guest_or_external_user_types": ["internal_guest", "service_provider"],
                      "external_tenants": {"membership_kind": "enumerated", "members": [T1]}},
                  "include_guests_or_external_users": {"guest_or_external_user_types": ["b2b_collaboration_guest"],
                                                       "external_tenants": {"membership_kind": "all"}}},
        "applications": {"include_applications": ["All"], "exclude_applications": ["Microsoft Graph"],
                         "application_filter": {"mode": "exclude", "rule": "CustomSecurityAttribute.x -eq \"y\""}},
        "client_app_types": ["browser", "mobile_apps_and_desktop_clients"],
        "locations": {"include_locations": ["All"], "exclude_locations": ["Trusted - MSP Office"]},
        "platforms": {"include_platforms": ["all"], "exclude_platforms": ["ios", "macos", "windows_phone"]},
        "user_risk_levels": ["high"], "sign_in_risk_levels": ["medium", "high"], "service_principal_risk_levels": ["low"],
        "insider_risk_levels": ["moderate", "elevated"],
        "devices": {"device_filter": {"mode": "include", "rule": "device.isCompliant -eq True"}},
        "client_applications": {"include_service_principals": ["ServicePrincipalsInMyTenant"]},
        "authentication_flows": {"transfer_methods": ["device_code_flow"]},
    },
    "grant_controls": {"operator": "AND", "built_in_controls": ["mfa", "compliant_device"],
                       "authentication_strength": "phishing_resistant_mfa", "terms_of_use": ["tou-1"]},
    "session_controls": {"sign_in_frequency": {"is_enabled": True, "frequency_interval": "time_based", "type": "hours",
                                               "value": 4},
                         "persistent_browser": {"is_enabled": True, "mode": "never"},
                         "cloud_app_security": {"is_enabled": True, "cloud_app_security_type": "monitor_only"},
                         "application_enforced_restrictions": {"is_enabled": True},
                         "secure_sign_in_session": {"is_enabled": True}},
}


def graph_policy(options, name="P", state="enabled"):
    return {"displayName": name, "state": state, "conditions": builder.conditions(options.get("conditions")),
            "grantControls": builder.grant(options["grant_controls"]) if options.get("grant_controls") else None,
            "sessionControls": builder.session(options["session_controls"]) if options.get("session_controls") else None}


def test_snake_case_tree_maps_to_graph_names_ids_and_enums():
    policy = graph_policy(FULL)
    cond = policy["conditions"]
    guests = cond["users"]["excludeGuestsOrExternalUsers"]
    assert guests == {"guestOrExternalUserTypes": "internalGuest,serviceProvider",
                      "externalTenants": {"@odata.type": ENUMERATED, "membershipKind": "enumerated", "members": [T1]}}
    assert cond["users"]["includeGuestsOrExternalUsers"]["externalTenants"]["@odata.type"] == \
        "#microsoft.graph.conditionalAccessAllExternalTenants"
    assert cond["users"]["includeGroups"] == ["id-group-Techs"]
    assert cond["users"]["excludeRoles"] == ["id-role-Global Reader"]
    assert cond["clientAppTypes"] == ["browser", "mobileAppsAndDesktopClients"]
    assert cond["platforms"] == {"includePlatforms": ["all"], "excludePlatforms": ["iOS", "macOS", "windowsPhone"]}
    assert cond["insiderRiskLevels"] == "moderate,elevated"
    assert cond["authenticationFlows"] == {"transferMethods": "deviceCodeFlow"}
    assert cond["locations"]["excludeLocations"] == ["id-location-Trusted - MSP Office"]
    assert policy["grantControls"]["authenticationStrength"] == {"id": "00000000-0000-0000-0000-000000000004"}
    assert policy["sessionControls"]["signInFrequency"] == {"isEnabled": True, "frequencyInterval": "timeBased",
                                                            "type": "hours", "value": 4}
    assert policy["sessionControls"]["cloudAppSecurity"] == {"isEnabled": True, "cloudAppSecurityType": "monitorOnly"}
    assert policy["sessionControls"]["secureSignInSession"] == {"isEnabled": True}


def test_graph_to_options_is_the_inverse_with_names():
    """The export of ca_policy_info is what ca_policy takes: options -> Graph -> options is the identity."""
    options = policy_options(graph_policy(FULL), NameBook())
    assert options.pop("display_name") == "P" and options.pop("policy_state") == "enabled"
    assert options == FULL


def test_every_key_of_the_tree_is_in_the_argument_spec():
    def keys(tree, spec, path=""):
        for key, leaf in tree.items():
            assert key in spec, path + key
            if isinstance(leaf, dict):
                keys(leaf, spec[key]["options"], path + key + ".")
    keys(CONDITIONS, ARGUMENT_SPEC["conditions"]["options"])
    keys(SESSION, ARGUMENT_SPEC["session_controls"]["options"])
    assert ARGUMENT_SPEC["session_controls"]["options"]["secure_sign_in_session"] == dict(
        type="dict", options={"is_enabled": {"type": "bool"}})
    assert ARGUMENT_SPEC["conditions"]["options"]["platforms"]["options"]["include_platforms"]["choices"][:2] == \
        ["android", "ios"]


def test_every_time_sign_in_frequency():
    session = builder.session({"sign_in_frequency": {"frequency_interval": "every_time"}})
    assert session == {"signInFrequency": {"isEnabled": True, "frequencyInterval": "everyTime",
                                           "authenticationType": "primaryAndSecondaryAuthentication"}}


def base(**extra):
    policy = {"displayName": "P", "state": "enabled",
              "conditions": {"users": {"includeUsers": ["All"]}, "applications": {"includeApplications": ["All"]}},
              "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}}
    policy.update(extra)
    return policy


@pytest.mark.parametrize("session, option", [
    ({"signInFrequency": {"isEnabled": True, "frequencyInterval": "everyTime", "type": "hours", "value": 1}},
     "session_controls.sign_in_frequency.type"),
    ({"signInFrequency": {"isEnabled": True, "frequencyInterval": "everyTime"}, "disableResilienceDefaults": False},
     "session_controls.disable_resilience_defaults"),
    ({"signInFrequency": {"isEnabled": True, "frequencyInterval": "everyTime"},
      "applicationEnforcedRestrictions": {"isEnabled": True}}, "session_controls.application_enforced_restrictions"),
    ({"signInFrequency": {"isEnabled": True, "frequencyInterval": "timeBased"}}, "session_controls.sign_in_frequency"),
    ({"signInFrequency": {"isEnabled": True, "frequencyInterval": "timeBased", "type": "hours", "value": 24}},
     "session_controls.sign_in_frequency.value"),
])
def test_session_rules_name_the_option(session, option):
    with pytest.raises(InvalidOption) as err:
        check_graph_rules(base(sessionControls=session))
    assert err.value.option == option


@pytest.mark.parametrize("change, option", [
    ({"conditions": {"users": {"includeUsers": ["All"]}, "applications": {"includeApplications": []}}},
     "conditions.applications.include_applications"),
    ({"conditions": {"users": {"includeUsers": ["All"]},
                     "applications": {"includeApplications": ["All"], "includeUserActions": ["urn:user:registerdevice"]}}},
     "conditions.applications"),
    ({"conditions": {"users": {"excludeUsers": ["x"]}, "applications": {"includeApplications": ["All"]}}},
     "conditions.users"),
    ({"grantControls": {"operator": "OR", "builtInControls": []}}, "grant_controls"),
    ({"grantControls": {"operator": "OR", "builtInControls": ["passwordChange", "mfa"]}}, "grant_controls.built_in_controls"),
    ({"grantControls": {"operator": "OR", "builtInControls": ["block", "mfa"]}}, "grant_controls.built_in_controls"),
    ({"conditions": {"users": {"includeUsers": ["All"], "excludeGuestsOrExternalUsers": {
        "guestOrExternalUserTypes": "", "externalTenants": {"membershipKind": "all"}}},
        "applications": {"includeApplications": ["All"]}}},
     "conditions.users.exclude_guests_or_external_users.external_tenants"),
    ({"conditions": {"users": {"includeUsers": ["All"], "includeGuestsOrExternalUsers": {
        "guestOrExternalUserTypes": "serviceProvider", "externalTenants": {"membershipKind": "all", "members": ["t"]}}},
        "applications": {"includeApplications": ["All"]}}},
     "conditions.users.include_guests_or_external_users.external_tenants.members"),
])
def test_graph_rules_name_the_option(change, option):
    with pytest.raises(InvalidOption) as err:
        check_graph_rules(base(**change))
    assert err.value.option == option


def test_graph_rules_accept_valid_policies():
    check_graph_rules(base(conditions={"users": {"includeUsers": ["All"]}, "applications": {"includeApplications": ["All"]},
                                       "userRiskLevels": ["high"]},
                           grantControls={"operator": "AND", "builtInControls": ["mfa", "passwordChange"]},
                           sessionControls={"signInFrequency": {"isEnabled": True, "frequencyInterval": "everyTime"}}))
    check_graph_rules(base(grantControls=None, sessionControls={"persistentBrowser": {"isEnabled": True, "mode": "never"}}))
    # secureSignInSession on its own is a session control (Graph keeps it; the sandbox does not condense it away)
    check_graph_rules(base(grantControls=None, sessionControls={"secureSignInSession": {"isEnabled": True}}))
    with pytest.raises(InvalidOption):
        check_graph_rules(base(grantControls=None, sessionControls={"secureSignInSession": {"isEnabled": False}}))


def test_secure_sign_in_session_is_exported_and_kept_when_the_export_is_reapplied():
    current = dict(copy.deepcopy(CURRENT), sessionControls=dict(CURRENT["sessionControls"],
                                                                  secureSignInSession={"isEnabled": True}))
    exported = policy_options(current, NameBook())["session_controls"]
    assert exported["secure_sign_in_session"] == {"is_enabled": True}
    desired = {"sessionControls": builder.session(exported)}
    after = merge_policy(current, desired)
    assert comparable(after["sessionControls"]) == comparable(current["sessionControls"])
    assert writable(current["sessionControls"], after["sessionControls"])["secureSignInSession"] == {"isEnabled": True}


@pytest.mark.parametrize("guests, option", [
    ({"external_tenants": {"members": [T1]}}, "conditions.users.exclude_guests_or_external_users.external_tenants"),
    ({"guest_or_external_user_types": ["service_provider"], "external_tenants": {"members": ["contoso.com"]}},
     "conditions.users.exclude_guests_or_external_users.external_tenants.members"),
    ({"guest_or_external_user_types": ["service_provider"], "external_tenants": {"membership_kind": "all", "members": ["t"]}},
     "conditions.users.exclude_guests_or_external_users.external_tenants.members"),
    ({"guest_or_external_user_types": ["service_provider"], "external_tenants": {"membership_kind": "enumerated"}},
     "conditions.users.exclude_guests_or_external_users.external_tenants.members"),
])
def test_guest_options_are_checked_while_building(guests, option):
    with pytest.raises(InvalidOption) as err:
        builder.conditions({"users": {"exclude_guests_or_external_users": guests}})
    assert err.value.option == option


def test_a_condition_given_empty_is_cleared():
    cond = builder.conditions({"locations": {"include_locations": None, "exclude_locations": None}, "users": {}})
    assert cond == {"locations": None, "users": {}}


CURRENT = {
    "id": "p1", "displayName": "P", "state": "enabled", "modifiedDateTime": None,
    "conditions": {
        "users": {"includeUsers": ["All"], "excludeUsers": ["bg1"], "includeGroups": [], "excludeGroups": ["g0"],
                  "includeRoles": [], "excludeRoles": [], "includeGuestsOrExternalUsers": None,
                  "excludeGuestsOrExternalUsers": {"guestOrExternalUserTypes": "serviceProvider", "externalTenants": {
                      "@odata.type": ENUMERATED, "membershipKind": "enumerated", "members": ["msp"]}}},
        "applications": {"includeApplications": ["All"], "excludeApplications": [], "includeUserActions": [],
                         "includeAuthenticationContextClassReferences": [], "applicationFilter": None},
        "locations": {"includeLocations": ["All"], "excludeLocations": ["loc0"]},
        "clientAppTypes": ["all"], "platforms": None, "userRiskLevels": []},
    "grantControls": {"operator": "OR", "builtInControls": ["mfa"], "termsOfUse": [], "customAuthenticationFactors": [],
                      "authenticationStrength@odata.context": "x", "authenticationStrength": None},
    "sessionControls": {"signInFrequency": {"isEnabled": True, "frequencyInterval": "timeBased", "type": "hours",
                                            "value": 4, "authenticationType": "primaryAndSecondaryAuthentication"},
                        "persistentBrowser": {"isEnabled": True, "mode": "never"}},
}


def test_exclusions_are_merged_by_default():
    desired = {"conditions": builder.conditions({
        "users": {"exclude_users": ["svc"], "exclude_guests_or_external_users": {
            "guest_or_external_user_types": ["b2b_collaboration_guest"],
            "external_tenants": {"members": [PARTNER]}}},
        "locations": {"exclude_locations": ["loc1"]}})}
    after = merge_policy(CURRENT, desired)
    users = after["conditions"]["users"]
    assert users["excludeUsers"] == ["bg1", "id-user-svc"]
    assert users["excludeGroups"] == ["g0"]
    assert users["excludeGuestsOrExternalUsers"]["guestOrExternalUserTypes"] == "b2bCollaborationGuest,serviceProvider"
    assert users["excludeGuestsOrExternalUsers"]["externalTenants"]["members"] == ["msp", PARTNER]
    assert after["conditions"]["locations"] == {"includeLocations": ["All"], "excludeLocations": ["loc0", "id-location-loc1"]}
    assert CURRENT["conditions"]["users"]["excludeUsers"] == ["bg1"]  # not mutated


def test_purge_makes_the_exclusions_exactly_the_tasks():
    desired = {"conditions": builder.conditions({"users": {"exclude_users": ["bg2"]}})}
    users = merge_policy(CURRENT, desired, purge=True)["conditions"]["users"]
    assert users["excludeUsers"] == ["id-user-bg2"]
    assert users["excludeGroups"] == [] and users["excludeGuestsOrExternalUsers"] is None
    assert users["includeUsers"] == ["All"]


def test_all_tenants_exclusion_wins_over_a_tenant_list():
    desired = {"conditions": builder.conditions({"users": {"exclude_guests_or_external_users": {
        "guest_or_external_user_types": ["service_provider"], "external_tenants": {"membership_kind": "all"}}}})}
    guests = merge_policy(CURRENT, desired)["conditions"]["users"]["excludeGuestsOrExternalUsers"]
    assert guests["externalTenants"] == {"@odata.type": "#microsoft.graph.conditionalAccessAllExternalTenants",
                                         "membershipKind": "all"}


def test_unchanged_task_compares_equal_despite_order_flags_and_annotations():
    desired = {"state": "enabled", "conditions": {"users": {"excludeUsers": ["bg1"], "includeUsers": ["All"]},
                                                  "clientAppTypes": ["all"]},
               "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}}
    after = merge_policy(CURRENT, desired)
    for key in ("state", "conditions", "grantControls"):
        assert comparable(CURRENT[key], key) == comparable(after[key], key), key
    reordered = copy.deepcopy(CURRENT)
    reordered["conditions"]["users"]["excludeGuestsOrExternalUsers"]["guestOrExternalUserTypes"] = "serviceProvider,none"
    assert comparable(reordered["conditions"]) == comparable(CURRENT["conditions"])


def test_replacing_session_controls_clears_what_the_task_no_longer_sets():
    new = builder.session({"sign_in_frequency": {"frequency_interval": "every_time"}})
    body = writable(CURRENT["sessionControls"], new)
    assert body == {"signInFrequency": {"isEnabled": True, "frequencyInterval": "everyTime",
                                        "authenticationType": "primaryAndSecondaryAuthentication",
                                        "type": None, "value": None},
                    "persistentBrowser": None}
    check_graph_rules(base(sessionControls=body))  # nulls are not settings


def test_authentication_strength_is_sent_by_id_only():
    current = {"operator": "OR", "builtInControls": [], "authenticationStrength": {
        "id": "00000000-0000-0000-0000-000000000004", "displayName": "Phishing-resistant MFA", "allowedCombinations": ["x"]}}
    after = dict(current, builtInControls=["compliantDevice"])
    assert writable(current, after)["authenticationStrength"] == {"id": "00000000-0000-0000-0000-000000000004"}
    assert writable(current, {"operator": "OR", "builtInControls": ["mfa"]})["authenticationStrength"] is None


class FakeModule:
    def __init__(self, **params):
        defaults = dict(break_glass_accounts=[], allow_lockout_risk=False, purge_exclusions=False,
                        naming_convention="none", state="present")
        defaults.update(params)
        self.params = defaults
        self.graph = None
        self.check_mode = False


def guard(**params):
    policies = Policies(FakeModule(**params))
    policies.resolver = NameBook()
    return policies


def test_lockout_guard():
    blocking = base(grantControls={"operator": "OR", "builtInControls": ["block"]})
    blocking["conditions"]["users"]["excludeUsers"] = ["id-user-bg1"]
    guard(break_glass_accounts=["bg1"]).lockout_guard(blocking)
    with pytest.raises(InvalidOption, match="bg2") as err:
        guard(break_glass_accounts=["bg1", "bg2"]).lockout_guard(blocking)
    assert err.value.option == "break_glass_accounts" and "exclude_users" in str(err.value)
    with pytest.raises(InvalidOption, match="give break_glass_accounts"):
        guard().lockout_guard(blocking)
    with pytest.raises(InvalidOption, match="give break_glass_accounts"):  # also when it was enabled already
        guard().lockout_guard(blocking, current=blocking)
    guard(allow_lockout_risk=True).lockout_guard(blocking)
    guard().lockout_guard(dict(blocking, state="enabledForReportingButNotEnforced"))
    # MFA alone is not a lockout: All users + All apps + MFA passes without any exclusion
    guard(break_glass_accounts=["bg2"]).lockout_guard(base())
    guard().lockout_guard(base())


@pytest.mark.parametrize("grant, locked", [
    ({"operator": "OR", "builtInControls": ["compliantDevice"]}, True),
    ({"operator": "OR", "builtInControls": ["domainJoinedDevice", "compliantDevice"]}, True),
    ({"operator": "AND", "builtInControls": ["mfa", "compliantApplication"]}, True),
    ({"operator": "OR", "builtInControls": ["mfa", "compliantDevice"]}, False),  # MFA is an alternative
    ({"operator": "OR", "builtInControls": ["approvedApplication"]}, True),
    ({"operator": "OR", "builtInControls": [], "authenticationStrength": {"id": "x"}}, False),
])
def test_any_grant_an_emergency_account_cannot_satisfy_needs_it_excluded(grant, locked):
    policy = base(grantControls=grant)
    if locked:
        with pytest.raises(InvalidOption, match="bg1"):
            guard(break_glass_accounts=["bg1"]).lockout_guard(policy)
    else:
        guard(break_glass_accounts=["bg1"]).lockout_guard(policy)


def test_lockout_reach_admin_roles_and_groups():
    blocking = base(grantControls={"operator": "OR", "builtInControls": ["block"]})
    users = blocking["conditions"]["users"]
    users.update(includeUsers=[], includeRoles=["r1"])
    with pytest.raises(InvalidOption, match="admin roles"):
        guard().lockout_guard(blocking)
    users.update(includeRoles=[], includeGroups=["g1"])
    guard().lockout_guard(blocking)  # a group, accounts unknown: not refused
    with pytest.raises(InvalidOption, match="bg1"):  # accounts known: the group may hold them
        guard(break_glass_accounts=["bg1"]).lockout_guard(blocking)
    users.update(includeGroups=[], includeUsers=["id-user-tech"])
    guard(break_glass_accounts=["bg1"]).lockout_guard(blocking)  # cannot reach the account


def test_a_location_condition_is_named_in_the_refusal():
    policy = base(grantControls={"operator": "OR", "builtInControls": ["block"]})
    policy["conditions"]["locations"] = {"includeLocations": ["All"], "excludeLocations": ["loc"]}
    with pytest.raises(InvalidOption, match="excluded locations"):
        guard(break_glass_accounts=["bg1"]).lockout_guard(policy)


@pytest.mark.parametrize("name, managed", [
    ("Microsoft-managed: MFA for admins", True),
    ("microsoft-managed: MFA for admins", True),
    ("MICROSOFT-MANAGED: Block legacy authentication", True),
    ("  Microsoft-managed: leading blanks", True),
    ("Microsoft-managed:", True),
    ("Clone - Microsoft-managed: MFA for admins", False),
    ("Microsoft managed MFA", False),
    ("", False),
    (None, False),
])
def test_managed_detection_ignores_case_and_surrounding_blanks(name, managed):
    assert is_managed({"displayName": name}) is managed
    assert is_managed({}) is False


def test_microsoft_managed_policies_accept_state_and_exclusions_only():
    mmp = dict(copy.deepcopy(CURRENT), displayName="Microsoft-managed: MFA for admins")
    allowed = merge_policy(mmp, {"state": "disabled", "conditions": {"users": {"excludeUsers": ["bg2"]}}})
    Policies.managed_guard(mmp, allowed)
    for change in ({"grantControls": {"operator": "OR", "builtInControls": ["block"]}},
                   {"displayName": "Renamed"},
                   {"conditions": {"users": {"includeUsers": ["x"]}}}):
        with pytest.raises(InvalidOption, match="Clone it") as err:
            Policies.managed_guard(mmp, merge_policy(mmp, change))
        assert err.value.option == "display_name"
