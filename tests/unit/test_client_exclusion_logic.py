"""Pure logic of ca_client_exclusion: flags, the four merge shapes of graph-ca.md §3, removal, scope, planning."""

import copy

import pytest

from ansible_collections.msp.conditional_access.plugins.module_utils._ca import ALL_TENANTS, ENUMERATED
from ansible_collections.msp.conditional_access.plugins.module_utils._ca import format_flags as format_types
from ansible_collections.msp.conditional_access.plugins.module_utils._ca import parse_flags as parse_types
from ansible_collections.msp.conditional_access.plugins.module_utils._exclusion import (
    Labels, Planner, add_direct_exclusion, add_gdap_exclusion, build_diff, clone_name, diff_policies, gdap_covered,
    remove_direct_exclusion, remove_gdap_exclusion, select_policies, targeting_reason, users_patch)
from ansible_collections.msp.conditional_access.plugins.module_utils._module import InvalidOption

MSP = "11111111-2222-3333-4444-555555555555"
OTHER = "99999999-8888-7777-6666-555555555555"
BREAK_GLASS = "0c1d2e3f-0000-4000-8000-00000000bb01"
ACCOUNT = "5a5a5a5a-0000-4000-8000-0000000000aa"


def users(**kw):
    base = {"includeUsers": ["All"], "excludeUsers": [BREAK_GLASS], "includeGroups": [], "excludeGroups": [],
            "includeRoles": [], "excludeRoles": [], "includeGuestsOrExternalUsers": None,
            "excludeGuestsOrExternalUsers": None}
    base.update(kw)
    return base


def policy(name="P", pid="p1", state="enabled", **users_kw):
    return {"id": pid, "displayName": name, "state": state,
            "conditions": {"users": users(**users_kw), "applications": {"includeApplications": ["All"]}},
            "grantControls": {"operator": "OR", "builtInControls": ["mfa"]},
            "createdDateTime": "2026-01-01T00:00:00Z", "templateId": None}


def enumerated(*members):
    return {"@odata.type": ENUMERATED, "membershipKind": "enumerated", "members": list(members)}


ALL = {"@odata.type": ALL_TENANTS, "membershipKind": "all"}


# -- flags --------------------------------------------------------------------------------------
def test_flags_parse_to_canonical_declaration_order():
    assert parse_types("serviceProvider, internalGuest,b2bDirectConnectUser") == [
        "internalGuest", "b2bDirectConnectUser", "serviceProvider"]
    assert format_types(["unknownFutureValue", "otherExternalUser", "b2bCollaborationMember",
                         "b2bCollaborationGuest", "none", "serviceProvider"]) == (
        "b2bCollaborationGuest,b2bCollaborationMember,otherExternalUser,serviceProvider,unknownFutureValue")
    assert format_types(["none"]) == "none"
    assert parse_types(None) == [] and parse_types("") == [] and parse_types(" , ") == []


def test_flags_case_is_normalised_and_unknown_members_are_kept_last():
    # an unknown future member must survive a round trip: dropping it would drop an exclusion
    assert parse_types("SERVICEPROVIDER,someNewKind,internalguest") == ["internalGuest", "serviceProvider",
                                                                         "someNewKind"]


# -- §3 case 1: null ----------------------------------------------------------------------------
@pytest.mark.parametrize("existing", [None, {"guestOrExternalUserTypes": None, "externalTenants": None},
                                      {"guestOrExternalUserTypes": "none"}])
def test_null_exclusion_becomes_service_provider_of_the_msp(existing):
    before = users(excludeGuestsOrExternalUsers=existing)
    after, warnings = add_gdap_exclusion(before, MSP)
    assert after["excludeGuestsOrExternalUsers"] == {"guestOrExternalUserTypes": "serviceProvider",
                                                     "externalTenants": enumerated(MSP)}
    assert warnings == []
    # nothing else of the users object moved, and the input was not mutated
    assert {k: v for k, v in after.items() if k != "excludeGuestsOrExternalUsers"} == {
        k: v for k, v in before.items() if k != "excludeGuestsOrExternalUsers"}
    assert before["excludeGuestsOrExternalUsers"] == existing
    assert gdap_covered(after, MSP)


# -- §3 case 2: all -----------------------------------------------------------------------------
def test_all_tenants_gets_service_provider_added_and_a_warning():
    before = users(excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "internalGuest,b2bCollaborationGuest",
                                                 "externalTenants": copy.deepcopy(ALL)})
    after, warnings = add_gdap_exclusion(before, MSP, "%s (Contoso MSP)" % MSP)
    assert after["excludeGuestsOrExternalUsers"] == {
        "guestOrExternalUserTypes": "internalGuest,b2bCollaborationGuest,serviceProvider", "externalTenants": ALL}
    assert len(warnings) == 1 and "every tenant" in warnings[0] and "Contoso MSP" in warnings[0]
    assert gdap_covered(after, MSP) and gdap_covered(after, OTHER)


def test_all_tenants_with_service_provider_is_already_covered():
    current = users(excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "serviceProvider",
                                                  "externalTenants": ALL})
    assert gdap_covered(current, MSP)
    plan = Planner(MSP).plan_one(policy(**current), [])
    assert plan.action == "already_excluded" and not plan.changes
    assert "every external tenant" in plan.warnings[0]


# -- §3 case 3: enumerated ----------------------------------------------------------------------
def test_enumerated_for_another_tenant_adds_msp_and_type_and_warns_about_widening():
    before = users(excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "b2bCollaborationGuest",
                                                 "externalTenants": enumerated(OTHER)})
    after, warnings = add_gdap_exclusion(before, MSP)
    assert after["excludeGuestsOrExternalUsers"] == {
        "guestOrExternalUserTypes": "b2bCollaborationGuest,serviceProvider",
        "externalTenants": enumerated(OTHER, MSP)}
    text = " | ".join(warnings)
    assert "b2bCollaborationGuest" in text and MSP in text  # the MSP's B2B guests are now excluded too
    assert OTHER in text  # and the other tenant's service provider users
    assert before["excludeGuestsOrExternalUsers"]["externalTenants"]["members"] == [OTHER]


def test_enumerated_service_provider_for_another_tenant_only_adds_the_member():
    before = users(excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "serviceProvider",
                                                 "externalTenants": enumerated(OTHER)})
    assert not gdap_covered(before, MSP)
    after, warnings = add_gdap_exclusion(before, MSP)
    assert after["excludeGuestsOrExternalUsers"] == {"guestOrExternalUserTypes": "serviceProvider",
                                                     "externalTenants": enumerated(OTHER, MSP)}
    assert warnings == []  # no other type is widened


def test_enumerated_already_listing_msp_but_without_the_type():
    before = users(excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "b2bCollaborationGuest",
                                                 "externalTenants": enumerated(MSP.upper())})
    assert not gdap_covered(before, MSP)
    after, _ = add_gdap_exclusion(before, MSP)
    assert after["excludeGuestsOrExternalUsers"]["externalTenants"]["members"] == [MSP.upper()]  # no duplicate
    assert after["excludeGuestsOrExternalUsers"]["guestOrExternalUserTypes"] == "b2bCollaborationGuest,serviceProvider"


def test_msp_member_matches_case_insensitively():
    current = users(excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "serviceProvider",
                                                  "externalTenants": enumerated(MSP.upper())})
    assert gdap_covered(current, MSP)


# -- §3 case 4: tenant list missing -------------------------------------------------------------
def test_missing_tenant_list_with_tenantless_types_gets_the_enumerated_object():
    before = users(excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "internalGuest"})
    after, warnings = add_gdap_exclusion(before, MSP)
    assert after["excludeGuestsOrExternalUsers"] == {"guestOrExternalUserTypes": "internalGuest,serviceProvider",
                                                     "externalTenants": enumerated(MSP)}
    assert warnings == []


def test_missing_tenant_list_with_tenant_bound_types_is_completed_with_the_msp():
    # graph-ca.md section 3 case 4 and CIPP's service exception: the list is completed with the MSP tenant,
    # and the warning says the existing types now name that tenant list
    before = users(excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "b2bCollaborationGuest",
                                                 "externalTenants": None})
    after, warnings = add_gdap_exclusion(before, MSP)
    assert after["excludeGuestsOrExternalUsers"] == {
        "guestOrExternalUserTypes": "b2bCollaborationGuest,serviceProvider", "externalTenants": enumerated(MSP)}
    assert "b2bCollaborationGuest named no tenant list" in warnings[0] and MSP in warnings[0]
    assert gdap_covered(after, MSP)


def test_service_provider_without_a_tenant_list_is_not_counted_as_excluded():
    """Issue 10 Part D: a serviceProvider exclusion without externalTenants is completed with the MSP tenant."""
    before = users(excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "serviceProvider"})
    assert not gdap_covered(before, MSP)
    plan = Planner(MSP).plan_one(policy(**before), [])
    assert plan.action == "excluded"
    assert plan.users["excludeGuestsOrExternalUsers"] == {"guestOrExternalUserTypes": "serviceProvider",
                                                          "externalTenants": enumerated(MSP)}


# -- never drop an existing exclusion -----------------------------------------------------------
@pytest.mark.parametrize("existing", [
    None,
    {"guestOrExternalUserTypes": "internalGuest,b2bCollaborationGuest", "externalTenants": ALL},
    {"guestOrExternalUserTypes": "b2bDirectConnectUser,otherExternalUser", "externalTenants": enumerated(OTHER)},
    {"guestOrExternalUserTypes": "internalGuest"},
])
def test_every_existing_exclusion_survives(existing):
    before = users(excludeUsers=[BREAK_GLASS, "GuestsOrExternalUsers"], excludeGroups=["g1"], excludeRoles=["r1"],
                   excludeGuestsOrExternalUsers=copy.deepcopy(existing))
    after, _ = add_gdap_exclusion(before, MSP)
    for key in ("excludeUsers", "excludeGroups", "excludeRoles", "includeUsers"):
        assert after[key] == before[key]
    if existing:
        old_types = set(parse_types(existing["guestOrExternalUserTypes"]))
        assert old_types <= set(parse_types(after["excludeGuestsOrExternalUsers"]["guestOrExternalUserTypes"]))
        old_members = set((existing.get("externalTenants") or {}).get("members") or [])
        new_tenants = after["excludeGuestsOrExternalUsers"]["externalTenants"]
        assert old_members <= set(new_tenants.get("members") or [])


# -- removal ------------------------------------------------------------------------------------
@pytest.mark.parametrize("original", [
    None,
    {"guestOrExternalUserTypes": "internalGuest"},
    {"guestOrExternalUserTypes": "serviceProvider", "externalTenants": enumerated(OTHER)},
])
def test_add_then_remove_restores_the_original(original):
    before = users(excludeGuestsOrExternalUsers=copy.deepcopy(original))
    added, _ = add_gdap_exclusion(before, MSP)
    removed, warnings = remove_gdap_exclusion(added, MSP)
    got = removed["excludeGuestsOrExternalUsers"]
    if original and "externalTenants" not in original:
        assert got == dict(original, externalTenants=None)  # null is how the key disappears on PATCH
    else:
        assert got == original
    assert warnings == []


def test_remove_keeps_service_provider_when_graph_cannot_say_who_added_it():
    added, _ = add_gdap_exclusion(users(excludeGuestsOrExternalUsers={
        "guestOrExternalUserTypes": "b2bCollaborationGuest", "externalTenants": enumerated(OTHER)}), MSP)
    removed, warnings = remove_gdap_exclusion(added, MSP)
    assert removed["excludeGuestsOrExternalUsers"] == {
        "guestOrExternalUserTypes": "b2bCollaborationGuest,serviceProvider", "externalTenants": enumerated(OTHER)}
    assert "remove it by hand" in warnings[0]


def test_remove_keeps_the_msp_as_tenant_of_the_customers_own_guest_exclusion():
    current = users(excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "b2bCollaborationGuest,serviceProvider",
                                                  "externalTenants": enumerated(MSP)})
    removed, warnings = remove_gdap_exclusion(current, MSP)
    assert removed["excludeGuestsOrExternalUsers"] == {"guestOrExternalUserTypes": "b2bCollaborationGuest",
                                                       "externalTenants": enumerated(MSP)}
    assert not gdap_covered(removed, MSP) and "b2bCollaborationGuest" in warnings[0]


def test_remove_leaves_an_all_tenants_exclusion_alone():
    current = users(excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "internalGuest,serviceProvider",
                                                  "externalTenants": ALL})
    removed, warnings = remove_gdap_exclusion(current, MSP)
    assert removed == current and "every external tenant" in warnings[0]


def test_direct_mode_add_and_remove_keep_other_users():
    before = users()
    added, _ = add_direct_exclusion(before, ACCOUNT)
    assert added["excludeUsers"] == [BREAK_GLASS, ACCOUNT]
    assert add_direct_exclusion(added, ACCOUNT.upper())[0]["excludeUsers"] == [BREAK_GLASS, ACCOUNT]
    assert remove_direct_exclusion(added, ACCOUNT)[0] == before


# -- PATCH body ---------------------------------------------------------------------------------
def test_patch_body_is_the_complete_users_object_with_explicit_nulls():
    current = users(excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "internalGuest",
                                                  "externalTenants": None})
    current["excludeGuestsOrExternalUsers@odata.context"] = "x"
    new, _ = remove_gdap_exclusion(*[add_gdap_exclusion(current, MSP)[0], MSP])
    body = users_patch(current, new)
    assert set(body) == {k for k in current if not k.endswith("@odata.context")}
    assert body["excludeGuestsOrExternalUsers"] == {"guestOrExternalUserTypes": "internalGuest",
                                                    "externalTenants": None}


# -- scope --------------------------------------------------------------------------------------
@pytest.mark.parametrize("users_kw, expected", [
    ({"includeUsers": ["All"]}, "all users"),
    ({"includeUsers": ["GuestsOrExternalUsers"]}, "guest and external"),
    ({"includeUsers": [], "includeRoles": ["62e90394-69f5-4237-9190-012177145e10"]}, "roles"),
    ({"includeUsers": [], "includeGuestsOrExternalUsers": {"guestOrExternalUserTypes": "b2bCollaborationGuest",
                                                           "externalTenants": ALL}}, "all tenants"),
    ({"includeUsers": [], "includeGuestsOrExternalUsers": {"guestOrExternalUserTypes": "serviceProvider",
                                                           "externalTenants": enumerated(MSP)}}, "service provider"),
    ({"includeUsers": [], "includeGroups": ["g1"]}, None),
    ({"includeUsers": ["someone"]}, None),
    ({"includeUsers": [], "includeGuestsOrExternalUsers": {"guestOrExternalUserTypes": "serviceProvider",
                                                           "externalTenants": enumerated(OTHER)}}, None),
    ({"includeUsers": [], "includeGuestsOrExternalUsers": {"guestOrExternalUserTypes": "internalGuest"}}, None),
])
def test_targeting_scope_in_gdap_mode(users_kw, expected):
    reason = targeting_reason(policy(**users_kw), "gdap", MSP)
    assert (reason is None) if expected is None else (expected in reason)


def test_direct_mode_targets_the_account_and_groups():
    assert "service account" in targeting_reason(policy(includeUsers=[ACCOUNT]), "direct", MSP, ACCOUNT)
    assert "groups" in targeting_reason(policy(includeUsers=[], includeGroups=["g"]), "direct", MSP, ACCOUNT)


# -- selection ----------------------------------------------------------------------------------
def test_policy_selection_by_id_or_name_and_fail_closed_on_ambiguity():
    ids = ["00000000-0000-4000-8000-00000000000%d" % n for n in range(4)]
    pols = [policy("A", ids[0]), policy("B", ids[1]), policy("B", ids[2]), policy(ids[0], ids[3])]
    assert [p["id"] for p in select_policies(pols, ["A", ids[2].upper()])] == [ids[0], ids[2]]
    # a GUID is an id first; a policy whose *name* is that GUID is not picked instead
    assert [p["id"] for p in select_policies(pols, [ids[0]])] == [ids[0]]
    with pytest.raises(InvalidOption) as err:
        select_policies(pols, ["B"])
    assert err.value.option == "policies" and "%s, %s" % (ids[1], ids[2]) in str(err.value)
    with pytest.raises(InvalidOption, match="no Conditional Access policy"):
        select_policies(pols, ["Nope"])


# -- planning -----------------------------------------------------------------------------------
def test_plan_actions_per_policy():
    pols = [
        policy("all users", "1"),
        policy("already", "2", excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "serviceProvider",
                                                             "externalTenants": enumerated(MSP)}),
        policy("group only", "3", includeUsers=[], includeGroups=["g"]),
        policy("off", "4", state="disabled"),
        policy("Microsoft-managed: MFA for admins", "5", state="enabledForReportingButNotEnforced",
               includeUsers=[], includeRoles=["62e90394-69f5-4237-9190-012177145e10"]),
    ]
    plans = Planner(MSP).plan(pols, pols)
    assert [p.action for p in plans] == ["excluded", "already_excluded", "skipped", "excluded", "excluded"]
    assert "out of scope" in plans[2].reason

    plans = Planner(MSP, scope="all", include_disabled=False, managed_policies="skip").plan(pols, pols)
    assert [p.action for p in plans] == ["excluded", "already_excluded", "excluded", "skipped", "skipped"]
    assert "disabled" in plans[3].reason and "Microsoft-managed" in plans[4].reason


def test_clone_and_disable_plan_and_second_run():
    mmp = policy("Microsoft-managed: MFA for admins", "m", state="enabledForReportingButNotEnforced",
                 includeUsers=[], includeRoles=["62e90394-69f5-4237-9190-012177145e10"])
    planner = Planner(MSP, managed_policies="clone_and_disable", clone_prefix="Clone - ")
    [plan] = planner.plan([mmp], [mmp])
    assert plan.action == "cloned" and plan.disable and plan.users is None
    assert plan.clone["displayName"] == "Clone - MFA for admins"
    assert "id" not in plan.clone and "createdDateTime" not in plan.clone and "templateId" not in plan.clone
    assert plan.clone["state"] == "enabledForReportingButNotEnforced"
    assert gdap_covered(plan.clone["conditions"]["users"], MSP)
    assert plan.clone["grantControls"] == mmp["grantControls"]

    # second run: the clone exists (and is an ordinary policy), the original is disabled
    clone = dict(copy.deepcopy(plan.clone), id="c")
    disabled = dict(mmp, state="disabled")
    pols = [disabled, clone]
    plans = planner.plan(pols, pols)
    assert [p.action for p in plans] == ["already_cloned", "already_excluded"]
    assert not any(p.changes for p in plans)

    # the original came back on: disable it again, no second clone
    [again] = planner.plan([mmp, clone], [mmp])
    assert again.action == "cloned" and again.disable and again.clone is None


def test_clone_name_never_keeps_the_managed_prefix():
    assert clone_name({"displayName": "Microsoft-managed: Block legacy authentication"}, "MSP copy - ") == (
        "MSP copy - Block legacy authentication")
    # blanks around it and another case are still Microsoft's prefix
    assert clone_name({"displayName": "  microsoft-MANAGED: Block legacy authentication"}, "MSP copy - ") == (
        "MSP copy - Block legacy authentication")
    assert clone_name({"displayName": "Block legacy authentication"}, "MSP copy - ") == (
        "MSP copy - Block legacy authentication")


def test_absent_plan_removes_only_the_msp():
    pols = [policy("mine", "1", excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "serviceProvider",
                                                              "externalTenants": enumerated(MSP)}),
            policy("untouched", "2")]
    plans = Planner(MSP, state="absent").plan(pols, pols)
    assert [p.action for p in plans] == ["removed", "already_absent"]
    assert plans[0].users == users()


def test_diff_names_the_msp_tenant_and_service_account():
    labels = Labels(MSP, "Contoso MSP", ACCOUNT, "svc-cipp@client.example")
    pols = [policy("Require MFA", "1"), policy("Require MFA", "2", excludeUsers=[ACCOUNT])]
    gdap = build_diff(Planner(MSP).plan(pols, pols[:1]), labels, "tenant Fabrikam (client)")
    after = diff_policies(gdap)["Require MFA"]
    assert after["exclude_guests_or_external_users"] == {"types": ["serviceProvider"],
                                                          "external_tenants": ["%s (Contoso MSP)" % MSP]}
    assert diff_policies(gdap, "before")["Require MFA"]["exclude_guests_or_external_users"] is None
    # every hunk says whose it is: the tenant and the policy in each header and the policy in each side
    assert gdap[0]["before_header"] == "tenant Fabrikam (client): policy 'Require MFA' (Graph)"
    assert gdap[0]["after"]["policy"] == "Require MFA"
    direct = build_diff(Planner(MSP, mode="direct", account_id=ACCOUNT).plan(pols, pols), labels, "client")
    # two policies share a name: the id disambiguates the key; the compliant one is not in the diff
    assert list(diff_policies(direct)) == ["Require MFA [1]"]
    assert diff_policies(direct)["Require MFA [1]"]["exclude_users"] == [
        BREAK_GLASS, "svc-cipp@client.example (%s)" % ACCOUNT]
