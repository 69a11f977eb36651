# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Microsoft's Conditional Access framework naming convention (``naming_convention: microsoft``).

PRIVATE to the msp.conditional_access collection: the API may change without notice.

``<CANumber>-<Persona>-<PolicyType>-<App>-<Platform>-<GrantControl>[-<OptionalDescription>]``, numbered per
persona (Global CA001-CA099, Internals CA100-CA199, ...). ``parse_name(name)`` checks the name on its own;
``check_policy(name, policy)`` also checks that the App, Platform and GrantControl parts describe the Graph
policy (a policy called ``...-AllApps-...-Block`` must target All apps and block). Both raise InvalidOption
on ``display_name`` with the part that is wrong.
"""

from __future__ import annotations

import re

from ._module import InvalidOption

# Number allocation per persona group; Microsoft365ServiceAccounts is the persona table's spelling,
# M365ServiceAccounts the numbering table's.
PERSONA_RANGES = {
    "Global": (1, 99), "Internals": (100, 199), "Admins": (200, 299), "Externals": (300, 399),
    "GuestUsers": (400, 499), "GuestAdmins": (500, 599), "M365ServiceAccounts": (600, 699),
    "Microsoft365ServiceAccounts": (600, 699), "AzureServiceAccounts": (700, 799), "CorpServiceAccounts": (800, 899),
    "WorkloadIdentities": (900, 999), "Developers": (1000, 1099),
}
POLICY_TYPES = ("BaseProtection", "AppProtection", "DataProtection", "IdentityProtection", "AttackSurfaceReduction",
                "Compliance")
# Platform part -> the Graph platforms it stands for (None: no platform condition, or include all)
PLATFORMS = {
    "AnyPlatform": None, "Unknown": "unknown", "WindowsPhone": {"windowsPhone"}, "macOS": {"macOS"}, "iOS": {"iOS"},
    "Android": {"android"}, "iOSAndroid": {"iOS", "android"},
}
# Grant part tokens -> Graph built-in controls (MFA is also met by an authentication strength)
GRANT_TOKENS = {"MFA": "mfa", "Compliant": "compliantDevice", "AADHJ": "domainJoinedDevice", "ADHJ": "domainJoinedDevice"}
GRANT_PATTERN = re.compile(r"^(?P<left>MFA|Compliant|AADHJ|ADHJ)(?:(?P<op>or|and)(?P<right>MFA|Compliant|AADHJ|ADHJ))?$",
                           re.IGNORECASE)
NAME = re.compile(r"^CA(?P<number>\d{3,4})-(?P<persona>[^-]+)-(?P<type>[^-]+)-(?P<app>[^-]+)-(?P<platform>[^-]+)-"
                  r"(?P<grant>[^-]+)(?:-(?P<description>.+))?$")
FORMAT = "<CANumber>-<Persona>-<PolicyType>-<App>-<Platform>-<GrantControl>[-<OptionalDescription>]"


def _fail(name, reason):
    raise InvalidOption("display_name", name, "%s (naming_convention=microsoft: %s)" % (reason, FORMAT))


def _pick(name, part, value, allowed):
    """Match case-insensitively; return the framework's spelling."""
    for candidate in allowed:
        if candidate.lower() == value.lower():
            return candidate
    _fail(name, "%s %r is not one of %s" % (part, value, ", ".join(allowed)))
    return None  # pragma: no cover - _fail raises


def parse_name(name):
    """Check a display name against the framework; return its parts as a dict."""
    match = NAME.match(name or "")
    if not match:
        _fail(name, "the name does not have the framework's parts")
    parts = match.groupdict()
    number = int(parts["number"])
    persona = _pick(name, "persona", parts["persona"], list(PERSONA_RANGES))
    low, high = PERSONA_RANGES[persona]
    if not low <= number <= high:
        _fail(name, "CA%03d is outside the %s range CA%03d-CA%03d" % (number, persona, low, high))
    parts.update(number=number, persona=persona,
                 type=_pick(name, "policy type", parts["type"], POLICY_TYPES),
                 platform=_pick(name, "platform", parts["platform"], list(PLATFORMS)))
    grant = parts["grant"]
    if grant.lower() in ("block", "unmanaged"):
        parts["grant"] = grant.capitalize()
    elif not GRANT_PATTERN.match(grant):
        _fail(name, "grant control %r is not Block, Unmanaged, MFA, Compliant, AADHJ or two of the last three joined "
                    "by 'or'/'and' (e.g. MFAorCompliant)" % grant)
    return parts


def _grant_matches(grant, controls, operator, strength):
    """Does the GrantControl part describe the policy's grant controls?"""
    if grant == "Block":
        return set(controls) == {"block"}
    if grant == "Unmanaged":
        return True  # describes the device condition, not a grant
    match = GRANT_PATTERN.match(grant)
    wanted = {GRANT_TOKENS[_canon_token(match.group("left"))]}
    if match.group("right"):
        wanted.add(GRANT_TOKENS[_canon_token(match.group("right"))])
    have = set(controls)
    if strength:
        have.add("mfa")  # an authentication strength is the modern form of "require MFA"
    if not wanted <= have or "block" in have:
        return False
    if len(wanted) > 1:
        return (operator or "OR").upper() == match.group("op").upper()
    return True


def _canon_token(token):
    return next(t for t in GRANT_TOKENS if t.lower() == token.lower())


def check_policy(name, policy):
    """Check the name and that its App, Platform and GrantControl parts describe ``policy`` (Graph JSON)."""
    parts = parse_name(name)
    cond = policy.get("conditions") or {}
    apps = set((cond.get("applications") or {}).get("includeApplications") or [])
    if parts["app"].lower() == "allapps" and apps != {"All"}:
        _fail(name, "App part AllApps but conditions.applications.include_applications is %s" % sorted(apps))
    if parts["app"].lower() != "allapps" and apps == {"All"}:
        _fail(name, "the policy targets All applications, so its App part must be AllApps, not %r" % parts["app"])
    if parts["app"].lower() == "o365" and "Office365" not in apps:
        _fail(name, "App part O365 but conditions.applications.include_applications does not hold Office365")
    platforms = cond.get("platforms") or {}
    include = set(platforms.get("includePlatforms") or [])
    exclude = set(platforms.get("excludePlatforms") or [])
    expected = PLATFORMS[parts["platform"]]
    if expected is None and not (include in (set(), {"all"}) and not exclude):
        _fail(name, "Platform part AnyPlatform but conditions.platforms narrows it (%s)" % platforms)
    if expected == "unknown" and not (include == {"all"} and exclude):
        _fail(name, "Platform part Unknown needs include_platforms [all] with the known platforms excluded")
    if isinstance(expected, set) and include != expected:
        _fail(name, "Platform part %s but conditions.platforms.include_platforms is %s"
              % (parts["platform"], sorted(include)))
    grant = policy.get("grantControls") or {}
    if not _grant_matches(parts["grant"], grant.get("builtInControls") or [], grant.get("operator"),
                          grant.get("authenticationStrength")):
        _fail(name, "GrantControl part %s does not describe grant_controls (%s %s)"
              % (parts["grant"], grant.get("operator"), grant.get("builtInControls") or []))
    return parts
