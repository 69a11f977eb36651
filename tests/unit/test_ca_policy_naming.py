"""naming_convention: microsoft - Microsoft's Conditional Access framework (seed 002)."""

import pytest

from ansible_collections.msp.conditional_access.plugins.module_utils._module import InvalidOption
from ansible_collections.msp.conditional_access.plugins.module_utils._naming import check_policy, parse_name


@pytest.mark.parametrize("name", [
    "CA001-Global-BaseProtection-AllApps-AnyPlatform-MFA",
    "CA002-Global-AttackSurfaceReduction-AllApps-AnyPlatform-Block-LegacyAuthentication",
    "CA104-Internals-AppProtection-EXO-iOSAndroid-MFAorCompliant",
    "CA600-Microsoft365ServiceAccounts-BaseProtection-AllApps-AnyPlatform-MFA-CIPP service account",
    "CA650-M365ServiceAccounts-IdentityProtection-O365-AnyPlatform-Block",
    "CA1000-Developers-Compliance-AllApps-AnyPlatform-CompliantandAADHJ",
    "CA300-externals-dataprotection-SPO-Unknown-block",
])
def test_names_that_follow_the_framework(name):
    parts = parse_name(name)
    assert parts["number"] >= 1


@pytest.mark.parametrize("name, reason", [
    ("Block CIPP Access - Outside Trusted IPs", "does not have the framework's parts"),
    ("CA100-Admins-BaseProtection-AllApps-AnyPlatform-MFA", "outside the Admins range CA200-CA299"),
    ("CA200-Wizards-BaseProtection-AllApps-AnyPlatform-MFA", "persona 'Wizards'"),
    ("CA200-Admins-Protection-AllApps-AnyPlatform-MFA", "policy type 'Protection'"),
    ("CA200-Admins-BaseProtection-AllApps-Symbian-MFA", "platform 'Symbian'"),
    ("CA200-Admins-BaseProtection-AllApps-AnyPlatform-Pray", "grant control 'Pray'"),
    ("CA200-Admins-BaseProtection-AllApps-AnyPlatform-MFAxorCompliant", "grant control"),
])
def test_names_that_do_not(name, reason):
    with pytest.raises(InvalidOption, match=reason) as err:
        parse_name(name)
    assert err.value.option == "display_name"


def policy(apps=("All",), controls=("mfa",), operator="OR", platforms=None, strength=None):
    return {"conditions": {"applications": {"includeApplications": list(apps)}, "platforms": platforms},
            "grantControls": {"operator": operator, "builtInControls": list(controls),
                              "authenticationStrength": strength}}


@pytest.mark.parametrize("name, body", [
    ("CA001-Global-BaseProtection-AllApps-AnyPlatform-MFA", policy()),
    ("CA201-Admins-IdentityProtection-AllApps-AnyPlatform-MFA", policy(controls=(), strength={"id": "x"})),
    ("CA002-Global-AttackSurfaceReduction-AllApps-AnyPlatform-Block", policy(controls=("block",))),
    ("CA101-Internals-AppProtection-O365-AnyPlatform-MFAandCompliant",
     policy(apps=("Office365",), controls=("mfa", "compliantDevice"), operator="AND")),
    ("CA102-Internals-AppProtection-EXO-iOSAndroid-Compliant",
     policy(apps=("00000002-0000-0ff1-ce00-000000000000",), controls=("compliantDevice",),
            platforms={"includePlatforms": ["android", "iOS"], "excludePlatforms": []})),
    ("CA003-Global-AttackSurfaceReduction-AllApps-Unknown-Block",
     policy(controls=("block",), platforms={"includePlatforms": ["all"], "excludePlatforms": ["iOS", "android"]})),
])
def test_parts_describe_the_policy(name, body):
    check_policy(name, body)


@pytest.mark.parametrize("name, body, reason", [
    ("CA001-Global-BaseProtection-AllApps-AnyPlatform-MFA", policy(apps=("Office365",)), "App part AllApps"),
    ("CA001-Global-BaseProtection-O365-AnyPlatform-MFA", policy(), "must be AllApps"),
    ("CA002-Global-AttackSurfaceReduction-AllApps-AnyPlatform-Block", policy(), "GrantControl part Block"),
    ("CA101-Internals-AppProtection-O365-AnyPlatform-MFAandCompliant",
     policy(apps=("Office365",), controls=("mfa", "compliantDevice"), operator="OR"), "GrantControl part MFAandCompliant"),
    ("CA102-Internals-AppProtection-EXO-iOS-Compliant", policy(apps=("x",), controls=("compliantDevice",)),
     "Platform part iOS"),
    ("CA001-Global-BaseProtection-AllApps-AnyPlatform-MFA",
     policy(platforms={"includePlatforms": ["iOS"], "excludePlatforms": []}), "AnyPlatform"),
])
def test_parts_that_contradict_the_policy(name, body, reason):
    with pytest.raises(InvalidOption, match=reason):
        check_policy(name, body)
