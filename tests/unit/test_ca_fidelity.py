"""The CA model's fidelity rules (module_utils/_ca.py, issue 16): which policies v1.0 does not document, the
Microsoft-managed and SharePoint-made names, and the read-back comparison every write goes through."""

import pytest

from ansible_collections.msp.conditional_access.plugins.module_utils._ca import (
    INTUNE_ENROLLMENT, is_managed, is_sharepoint_made, needs_beta, read_back_differences, without_managed_prefix)

EVERY_TIME = {"signInFrequency": {"isEnabled": True, "frequencyInterval": "everyTime"}}


def policy(session=None, **conditions):
    return {"conditions": dict({"applications": {"includeApplications": ["All"]}}, **conditions),
            "sessionControls": session}


def test_needs_beta_outside_v1s_every_time_scope():
    assert needs_beta(policy(EVERY_TIME))
    assert not needs_beta(policy(EVERY_TIME, signInRiskLevels=["high"]))
    assert not needs_beta(policy(EVERY_TIME, userRiskLevels=["high"]))
    assert not needs_beta(policy(EVERY_TIME, applications={"includeApplications": [INTUNE_ENROLLMENT]}))
    assert not needs_beta(policy({"signInFrequency": {"isEnabled": True, "type": "hours", "value": 4}}))
    assert not needs_beta(policy(None)) and not needs_beta({})


@pytest.mark.parametrize("name, managed", [
    ("Microsoft-managed: MFA for admins", True), ("microsoft-managed:MFA", True), ("  Microsoft-managed MFA", True),
    ("Microsoft-managedX", False), ("Clone - Microsoft-managed: MFA", False), ("", False)])
def test_managed_prefix_with_or_without_the_colon(name, managed):
    assert is_managed({"displayName": name}) is managed


def test_prefix_stripped_for_the_clone_name():
    assert without_managed_prefix("Microsoft-managed: MFA for admins") == "MFA for admins"
    assert without_managed_prefix("microsoft-managed MFA") == "MFA"


def test_sharepoint_admin_center_policies():
    assert is_sharepoint_made({"displayName": "[SharePoint admin center]Use app-enforced Restrictions"})
    assert is_sharepoint_made({"displayName": " [sharepoint admin center] x"})
    assert not is_sharepoint_made({"displayName": "SharePoint admin center"})


def test_read_back_differences_ignore_order_annotations_and_server_fields():
    asked = {"state": "enabled", "conditions": {"users": {"includeUsers": ["a", "b"], "excludeGroups": None,
                                                          "excludeGuestsOrExternalUsers": {
                                                              "guestOrExternalUserTypes": "serviceProvider,internalGuest"}}},
             "grantControls": {"authenticationStrength": {"id": "s"}}}
    got = {"state": "enabled", "modifiedDateTime": "now", "@odata.context": "x",
           "conditions": {"users": {"includeUsers": ["b", "a"], "excludeGroups": [],
                                    "excludeGuestsOrExternalUsers": {
                                        "guestOrExternalUserTypes": "internalGuest,serviceProvider"}}},
           "grantControls": {"authenticationStrength": {"id": "s", "displayName": "S"},
                             "authenticationStrength@odata.context": "y"}}
    assert read_back_differences(asked, got) == []
    assert read_back_differences(asked, dict(got, state="disabled")) == ["state"]


def test_read_back_differences_of_session_controls_and_ranges():
    kept = {"sessionControls": {"persistentBrowser": {"isEnabled": True, "mode": "never"},
                                "signInFrequency": {"isEnabled": True, "type": "hours", "value": 4}}}
    removal = {"sessionControls": {"persistentBrowser": None, "signInFrequency": {"isEnabled": True, "type": "hours",
                                                                                  "value": 4}}}
    assert read_back_differences(removal, kept) == ["sessionControls.persistentBrowser"]
    # an ineffectual object is condensed to null by Graph: not a difference
    assert read_back_differences({"sessionControls": {"persistentBrowser": {"isEnabled": False}}},
                                 {"sessionControls": None}) == []
    ranges = [{"@odata.type": "#microsoft.graph.iPv6CidrRange", "cidrAddress": "2001:0db8:0000::/48"}]
    assert read_back_differences({"ipRanges": ranges}, {"ipRanges": [{"cidrAddress": "2001:db8::/48"}]}) == []
    assert read_back_differences({"ipRanges": ranges}, {"ipRanges": []}) == ["ipRanges"]
