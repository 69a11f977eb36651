# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Conditional Access model every module shares: Graph constants, the flags parser, the Microsoft-managed
test, the display-name rule and the guest/external-user exclusion with its one merge rule.

PRIVATE to the msp.conditional_access collection: the API may change without notice.

Nothing here sends a request; ``_objects`` holds the endpoints that do.
"""

from __future__ import annotations

import copy
import re

from ._inputs import InvalidOption, is_guid  # noqa: F401 (is_guid: the collection's one GUID test, re-exported)

POLICIES = "/identity/conditionalAccess/policies"
LOCATIONS = "/identity/conditionalAccess/namedLocations"
STATES = {"enabled": "enabled", "disabled": "disabled", "report_only": "enabledForReportingButNotEnforced"}
STATE_NAMES = {v: k for k, v in STATES.items()}
MMP_PREFIX = "Microsoft-managed:"

ENUMERATED = "#microsoft.graph.conditionalAccessEnumeratedExternalTenants"
ALL_TENANTS = "#microsoft.graph.conditionalAccessAllExternalTenants"
SERVICE_PROVIDER = "serviceProvider"
# Declaration order of the conditionalAccessGuestOrExternalUserTypes flags enum (v1.0 CSDL); Graph renders
# the bitmask in this order, so writing it back in this order keeps bodies stable (graph-ca.md section 3).
GUEST_FLAGS = ("none", "internalGuest", "b2bCollaborationGuest", "b2bCollaborationMember",
               "b2bDirectConnectUser", "otherExternalUser", "serviceProvider", "unknownFutureValue")
# Internal guests live in the client tenant itself: a tenant list does not narrow them.
TENANTLESS_TYPES = frozenset(["none", "internalGuest"])


# "Microsoft-managed: ..." (graph-ca.md section 4); older tenants and exports show it without the colon
MANAGED_NAME = re.compile(r"^\s*microsoft-managed(?:\s*:|\s)\s*", re.I)
# CIPP's system policies: the SharePoint admin center writes its own ("[SharePoint admin center]...") when an
# admin sets unmanaged-device access, and rewrites them when that setting changes
SHAREPOINT_MADE = re.compile(r"^\s*\[sharepoint admin center\]", re.I)
SHAREPOINT_WARNING = ("made by the SharePoint admin center (its unmanaged-device access setting), which rewrites it "
                      "when that setting changes: the exclusion may be lost then, so check it after any change there")
# v1.0 documents every-time sign-in frequency for risky users, risky sign-ins and Intune enrolment; beta for any app
INTUNE_ENROLLMENT = "d4ebce55-015a-49b5-a083-c84d1797ae8c"


def is_managed(policy):
    """Is this a Microsoft-managed policy? The name starts "Microsoft-managed:" (or without the colon); case and
    surrounding whitespace do not matter."""
    return bool(MANAGED_NAME.match(((policy or {}).get("displayName")) or ""))


def without_managed_prefix(name):
    return MANAGED_NAME.sub("", name or "", count=1).strip()


def is_sharepoint_made(policy):
    return bool(SHAREPOINT_MADE.match(((policy or {}).get("displayName")) or ""))


def needs_beta(policy):
    """A policy Graph v1.0 does not document: every-time sign-in frequency outside risky users, risky sign-ins and
    Intune enrolment (graph-ca.md 2.3 item 6). Such a policy is written through /beta from the start."""
    sif = (((policy or {}).get("sessionControls") or {}).get("signInFrequency")) or {}
    if sif.get("frequencyInterval") != "everyTime":
        return False
    cond = policy.get("conditions") or {}
    apps = (cond.get("applications") or {}).get("includeApplications") or []
    return not (cond.get("userRiskLevels") or cond.get("signInRiskLevels") or INTUNE_ENROLLMENT in apps)


# -- comparison ---------------------------------------------------------------------------------------------
FLAG_PROPERTIES = ("guestOrExternalUserTypes", "transferMethods", "insiderRiskLevels")


def comparable(obj, key=None):
    """Order-insensitive, annotation-free form: empty values dropped, flags as sets, strengths by id."""
    if key == "authenticationStrength" and isinstance(obj, dict):
        return obj.get("id")
    if isinstance(obj, str) and key in FLAG_PROPERTIES:
        return sorted(t for t in parse_flags(obj) if t != "none") or None
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k.endswith("@odata.context"):
                continue
            value = comparable(v, k)
            if value not in (None, [], {}):
                out[k] = value
        return out
    if isinstance(obj, list):
        return sorted((comparable(v) for v in obj), key=repr)
    return obj


def _effective(session):
    """sessionControls as Graph keeps them: sub-controls that are off are as good as absent (Graph condenses an
    ineffectual object to null)."""
    if not isinstance(session, dict):
        return session
    kept = {k: v for k, v in session.items() if v is None or (v.get("isEnabled") if isinstance(v, dict) else v)}
    return kept if any(v is not None for v in kept.values()) else None


def _settled(value, key):
    if key == "sessionControls":
        value = _effective(value)
    if key == "cidrAddress" and isinstance(value, str):
        import ipaddress
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            return value
    value = comparable(value, key)
    return None if value in ([], {}, "") else value


def read_back_differences(asked, got, where=""):
    """Where Graph's object ``got`` does not hold what a write ``asked`` (a POST or PATCH body): the dotted paths of
    the properties that differ. Server-filled properties the body does not name are not compared."""
    out = []
    for key, value in (asked or {}).items():
        if key.startswith("@odata") or key.endswith("@odata.context"):
            continue
        path = "%s.%s" % (where, key) if where else key
        have = got.get(key) if isinstance(got, dict) else None
        if key == "sessionControls":
            value, have = _effective(value), _effective(have)
        if isinstance(value, dict) and isinstance(have, dict) and key != "authenticationStrength":
            out.extend(read_back_differences(value, have, path))
        elif isinstance(value, list) and key == "ipRanges":
            if sorted(_settled(i.get("cidrAddress"), "cidrAddress") for i in value if isinstance(i, dict)) != \
                    sorted(_settled(i.get("cidrAddress"), "cidrAddress") for i in have or [] if isinstance(i, dict)):
                out.append(path)
        elif _settled(value, key) != _settled(have, key):
            out.append(path)
    return out


# -- flags enums ------------------------------------------------------------------------------------------
def parse_flags(value, order=GUEST_FLAGS):
    """'internalGuest, serviceProvider' (or a list) -> the members in ``order``, spelled as ``order`` does.

    Unknown members are kept, after the known ones: dropping one would drop an exclusion. ``none`` only
    survives on its own (it is the zero of the bitmask).
    """
    if value is None:
        return []
    items = [str(v).strip() for v in value] if isinstance(value, (list, tuple, set)) else str(value).split(",")
    known = {f.lower(): f for f in order}
    members = {known.get(i.strip().lower(), i.strip()) for i in items if i.strip()}
    if len(members) > 1:
        members.discard("none")
    rank = {f: n for n, f in enumerate(order)}
    return sorted(members, key=lambda f: (rank.get(f, len(order)), f))


def format_flags(values, order=GUEST_FLAGS):
    """The wire form of a flags enum: one comma-separated string in declaration order."""
    return ",".join(parse_flags(list(values), order))


# -- the display-name rule ----------------------------------------------------------------------------------
def same_name(left, right):
    """Graph's ``displayName eq``: case-insensitive; the collection also ignores surrounding blanks."""
    return (left or "").strip().casefold() == (right or "").strip().casefold()


def by_name(objects, name, what, option="display_name"):
    """The one object named ``name`` (the rule above), or None; two or more is an error naming every id."""
    matches = [o for o in objects if same_name(o.get("displayName"), name)]
    if len(matches) > 1:
        raise InvalidOption(option, name, "%d %s have this name (ids: %s); give the id to choose one"
                            % (len(matches), plural(what), ", ".join(str(m.get("id")) for m in matches)))
    return matches[0] if matches else None


def plural(what):
    return what[:-1] + "ies" if what.endswith("y") else what + "s"


def select(objects, wanted, what, option):
    """The objects named by id or display name in ``wanted``, in order; unknown or ambiguous refs fail.
    ``None`` selects everything, an empty list nothing."""
    if wanted is None:
        return list(objects)
    chosen = []
    for ref in wanted:
        found = next((o for o in objects if is_guid(ref) and str(o.get("id", "")).lower() == str(ref).lower()), None)
        found = found or by_name(objects, ref, what, option)
        if found is None:
            raise InvalidOption(option, ref, "no %s has this id or display name" % what)
        if found not in chosen:
            chosen.append(found)
    return chosen


# -- the guest / external-user exclusion ----------------------------------------------------------------------
def tenant_kind(external_tenants):
    """'all', 'enumerated' or None (no tenant list)."""
    if not external_tenants:
        return None
    kind = (external_tenants.get("membershipKind") or "").lower()
    if kind in ("all", "enumerated"):
        return kind
    odata = external_tenants.get("@odata.type") or ""
    if odata.endswith("AllExternalTenants"):
        return "all"
    if odata.endswith("EnumeratedExternalTenants") or "members" in external_tenants:
        return "enumerated"
    return None


def tenant_members(external_tenants):
    return list((external_tenants or {}).get("members") or [])


def has_tenant(external_tenants, tenant_id):
    return str(tenant_id).lower() in (m.lower() for m in tenant_members(external_tenants))


def enumerated(members):
    return {"@odata.type": ENUMERATED, "membershipKind": "enumerated", "members": list(members)}


def all_tenants():
    return {"@odata.type": ALL_TENANTS, "membershipKind": "all"}


def guests_cover(guests, types, tenant_id=None):
    """Does the exclusion ``guests`` already exclude every type of ``types`` (of ``tenant_id``, if given)?

    A tenant-bound type without a tenant list covers nobody for sure: CIPP's service exception completes such
    an object with the tenant, so it is not counted as covering it (issue 10, Part D).
    """
    have = parse_flags((guests or {}).get("guestOrExternalUserTypes"))
    if not set(types) <= set(have):
        return False
    if all(t in TENANTLESS_TYPES for t in types):
        return True
    kind = tenant_kind((guests or {}).get("externalTenants"))
    if kind == "all":
        return True
    return kind == "enumerated" and (tenant_id is None or has_tenant(guests["externalTenants"], tenant_id))


def merge_guests(now, add, label=str):
    """One guest/external-user exclusion from two (a policy holds a single object): (merged, notes).

    The union of the types, and of the tenants: ``all`` wins over a list. Nothing ``now`` excludes is lost.
    Graph's object is one list of types x tenants, so adding to it can exclude more than was asked: every
    such widening is described in ``notes`` (``label`` renders a tenant id for them). The four shapes of
    ``now`` are those of graph-ca.md section 3: null; ``all``; enumerated; no tenant list (completed with
    the added tenants).
    """
    now_types = [t for t in parse_flags((now or {}).get("guestOrExternalUserTypes")) if t != "none"]
    add_types = [t for t in parse_flags((add or {}).get("guestOrExternalUserTypes")) if t != "none"]
    if not now_types:
        return copy.deepcopy(add) if add_types else copy.deepcopy(now), []
    if not add_types:
        return copy.deepcopy(now), []
    merged = copy.deepcopy(now)
    notes = []
    types = parse_flags(now_types + add_types)
    merged["guestOrExternalUserTypes"] = format_flags(types)
    new_types = [t for t in add_types if t not in now_types]
    old_bound = [t for t in now_types if t not in TENANTLESS_TYPES]
    now_tenants, add_tenants = now.get("externalTenants"), add.get("externalTenants")
    now_kind, add_kind = tenant_kind(now_tenants), tenant_kind(add_tenants)
    if add_kind is None:
        return merged, notes  # the addition names no tenants: the tenant list stays as it is
    if now_kind == "all":
        if [t for t in new_types if t not in TENANTLESS_TYPES] and add_kind == "enumerated":
            notes.append("the existing exclusion applies to all external tenants, so %s of every tenant are "
                         "excluded, not only of %s" % (_who(new_types), ", ".join(
                             label(m) for m in tenant_members(add_tenants))))
        return merged, notes
    if add_kind == "all":
        merged["externalTenants"] = all_tenants()
        if old_bound:
            notes.append("%s are now excluded for every external tenant, not only the listed ones"
                         % ", ".join(old_bound))
        return merged, notes
    have = tenant_members(now_tenants) if now_kind == "enumerated" else []
    added = [m for m in tenant_members(add_tenants) if not has_tenant(now_tenants, m) and m.lower() not in
             (h.lower() for h in have)]
    if now_kind is None and old_bound:
        notes.append("the existing exclusion of %s named no tenant list; it is completed with %s, so it now "
                     "applies to %s" % (", ".join(old_bound), ", ".join(label(m) for m in added) or "the added "
                                        "tenants", ", ".join(label(m) for m in have + added)))
    elif added and [t for t in old_bound if t not in add_types]:
        notes.append("the exclusion is one list of types x tenants: adding %s also excludes its %s"
                     % (", ".join(label(m) for m in added), ", ".join(t for t in old_bound if t not in add_types)))
    widened = [t for t in new_types if t not in TENANTLESS_TYPES]
    if widened and have:
        others = [m for m in have if m.lower() not in (a.lower() for a in tenant_members(add_tenants))]
        if others:
            notes.append("%s is added for the whole tenant list, so %s of %s are excluded too"
                         % (", ".join(widened), _who(widened), ", ".join(label(m) for m in others)))
    merged["externalTenants"] = enumerated(have + added)
    return merged, notes


def _who(types):
    return "service provider users" if list(types) == [SERVICE_PROVIDER] else ", ".join(types)


# -- lockout ------------------------------------------------------------------------------------------------
# Grant controls an emergency account cannot be relied on to satisfy: it signs in from anywhere, on any device,
# with any app. MFA (or an authentication strength) is not among them: it can, and the partner MFA rule
# forbids excluding anyone from MFA.
UNSATISFIABLE = {"block": "blocks", "compliantDevice": "requires a compliant device",
                 "domainJoinedDevice": "requires a hybrid-joined device",
                 "approvedApplication": "requires an approved client app",
                 "compliantApplication": "requires an app protection policy"}


def lockout_reason(policy):
    """Why ``policy``'s grant could lock an emergency account out, or None (MFA alone is not a lockout)."""
    grant = policy.get("grantControls") or {}
    controls = grant.get("builtInControls") or []
    hard = [UNSATISFIABLE[c] for c in controls if c in UNSATISFIABLE]
    if not hard:
        return None
    satisfiable = [c for c in controls if c not in UNSATISFIABLE] + \
        [k for k in ("authenticationStrength", "termsOfUse", "customAuthenticationFactors") if grant.get(k)]
    if (grant.get("operator") or "OR").upper() == "OR" and satisfiable and "block" not in controls:
        return None  # an alternative the account can meet
    reason = " and ".join(hard)
    locations = (policy.get("conditions") or {}).get("locations") or {}
    if locations.get("excludeLocations"):
        reason += " everywhere but its excluded locations (where an emergency sign-in may not come from)"
    return reason


def reach(users, account_ids=()):
    """Whom the policy's users condition reaches that matters for a lockout: 'All users', 'admin roles',
    'groups' (membership not looked up), 'the account', or None."""
    include = [str(u).lower() for u in users.get("includeUsers") or []]
    if "all" in include:
        return "All users"
    if users.get("includeRoles"):
        return "admin roles"
    if users.get("includeGroups"):
        return "groups"
    if any(str(a).lower() in include for a in account_ids):
        return "the break-glass account"
    return None
