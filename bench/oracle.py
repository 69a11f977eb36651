"""The expected result of Part D, written independently of the collection (graph-ca.md §3).

The benchmark checks that the collection and the hand-written baseline reach the same state, and the fault
tests check that every healthy tenant reaches exactly this state. It is deliberately plain Python (no
module_utils import) so that a bug in the collection's merge cannot hide behind its own oracle.
"""

from __future__ import annotations

import copy
import json

ENUMERATED = "#microsoft.graph.conditionalAccessEnumeratedExternalTenants"
FLAG_ORDER = ("none", "internalGuest", "b2bCollaborationGuest", "b2bCollaborationMember",
              "b2bDirectConnectUser", "otherExternalUser", "serviceProvider", "unknownFutureValue")
TENANTLESS = {"none", "internalGuest"}   # guests of the client tenant itself: a tenant list does not narrow them
SP = "serviceProvider"


def types_of(guests):
    raw = (guests or {}).get("guestOrExternalUserTypes") or ""
    items = {t.strip() for t in (raw.split(",") if isinstance(raw, str) else raw) if t and t.strip()}
    if len(items) > 1:
        items.discard("none")
    return items


def flags(types):
    order = {f: n for n, f in enumerate(FLAG_ORDER)}
    return ",".join(sorted(types, key=lambda t: (order.get(t, 99), t)))


def kind_of(tenants):
    if not tenants:
        return None
    kind = (tenants.get("membershipKind") or "").lower()
    if kind in ("all", "enumerated"):
        return kind
    odata = tenants.get("@odata.type") or ""
    if odata.endswith("AllExternalTenants"):
        return "all"
    if odata.endswith("EnumeratedExternalTenants") or "members" in tenants:
        return "enumerated"
    return None


def members_of(tenants):
    return [m.lower() for m in (tenants or {}).get("members") or []]


def users_of(policy):
    return (policy.get("conditions") or {}).get("users") or {}


def targets_msp(policy, msp):
    """CIPP's rule (graph-ca.md §3): can this policy reach GDAP technicians of the MSP?"""
    users = users_of(policy)
    include = [u.lower() for u in users.get("includeUsers") or []]
    if "all" in include or "guestsorexternalusers" in include or users.get("includeRoles"):
        return True
    guests = users.get("includeGuestsOrExternalUsers")
    if guests:
        tenants = guests.get("externalTenants")
        if kind_of(tenants) in ("all", None) and types_of(guests) - TENANTLESS:
            return True
        if SP in types_of(guests) and msp.lower() in members_of(tenants):
            return True
    return False


def msp_excluded(users, msp):
    guests = users.get("excludeGuestsOrExternalUsers")
    if not guests or SP not in types_of(guests):
        return False
    tenants = guests.get("externalTenants")
    # no tenant list covers nobody for sure: CIPP's service exception completes it with the MSP (issue 10)
    return kind_of(tenants) == "all" or (kind_of(tenants) == "enumerated" and msp.lower() in members_of(tenants))


def merged_exclusion(guests, msp):
    """excludeGuestsOrExternalUsers with service provider users of ``msp`` added (the four cases of §3)."""
    types = types_of(guests) - {"none"}
    if not guests or not types:
        return {"guestOrExternalUserTypes": SP,
                "externalTenants": {"@odata.type": ENUMERATED, "membershipKind": "enumerated", "members": [msp]}}
    new = copy.deepcopy(guests)
    new["guestOrExternalUserTypes"] = flags(types | {SP})
    tenants = guests.get("externalTenants")
    kind = kind_of(tenants)
    if kind == "enumerated":
        members = list(tenants.get("members") or [])
        if msp.lower() not in members_of(tenants):
            members.append(msp)
        new["externalTenants"] = {"@odata.type": ENUMERATED, "membershipKind": "enumerated", "members": members}
    elif kind is None:
        # no tenant list (graph-ca.md section 3 case 4, CIPP's service exception): completed with the MSP
        new["externalTenants"] = {"@odata.type": ENUMERATED, "membershipKind": "enumerated", "members": [msp]}
    # "all": keep the list as it is
    return new


def expected_policy(policy, msp):
    """The policy after a GDAP run of Part D (scope targeting, disabled and Microsoft-managed included)."""
    users = users_of(policy)
    if not targets_msp(policy, msp) or msp_excluded(users, msp):
        return policy
    after = copy.deepcopy(policy)
    after["conditions"]["users"]["excludeGuestsOrExternalUsers"] = merged_exclusion(
        users.get("excludeGuestsOrExternalUsers"), msp)
    return after


def needs_change(policy, msp):
    return expected_policy(policy, msp) is not policy


# -- comparing what the sandbox holds --------------------------------------------------------------
def canonical_users(users):
    """A users object in a form where equal meaning compares equal (flag order, list order, id case)."""
    out = {}
    for key, value in (users or {}).items():
        if key.endswith("@odata.context"):
            continue
        if key in ("excludeGuestsOrExternalUsers", "includeGuestsOrExternalUsers"):
            if not value or not types_of(value):
                out[key] = None
                continue
            tenants = value.get("externalTenants")
            out[key] = {"types": sorted(types_of(value)), "kind": kind_of(tenants),
                        "members": sorted(members_of(tenants))}
        elif isinstance(value, list):
            out[key] = sorted(str(v).lower() for v in value)
        else:
            out[key] = value
    # an empty list and a missing key mean the same thing to Graph
    return {k: v for k, v in out.items() if v not in (None, [])}


def canonical_policy(policy):
    # server-maintained keys are not part of the job; a null and a missing key mean the same
    body = {k: v for k, v in policy.items()
            if k not in ("modifiedDateTime", "createdDateTime", "deletedDateTime", "@odata.context", "@odata.etag")
            and not k.endswith("@odata.context") and v is not None}
    body = copy.deepcopy(body)
    body.setdefault("conditions", {})["users"] = canonical_users(users_of(policy))
    return body


def compare_tenant(expected, actual):
    """Differences between two lists of policies, as readable lines (empty when they match)."""
    problems = []
    exp = {p["id"]: canonical_policy(p) for p in expected}
    act = {p["id"]: canonical_policy(p) for p in actual}
    for pid in sorted(set(exp) - set(act)):
        problems.append("policy %s (%s) is missing" % (pid, exp[pid].get("displayName")))
    for pid in sorted(set(act) - set(exp)):
        problems.append("unexpected policy %s (%s)" % (pid, act[pid].get("displayName")))
    for pid in sorted(set(exp) & set(act)):
        if exp[pid] != act[pid]:
            problems.append("policy %s (%s): %s" % (pid, exp[pid].get("displayName"), _difference(exp[pid], act[pid])))
    return problems


def _difference(expected, actual, where=""):
    """The first place where two JSON values differ, as 'path: expected X, got Y'."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            if key not in expected or key not in actual or expected[key] != actual[key]:
                return _difference(expected.get(key, "<missing>"), actual.get(key, "<missing>"),
                                   "%s.%s" % (where, key) if where else key)
    return "%s: expected %s, got %s" % (where or "policy", json.dumps(expected), json.dumps(actual))


def lost_exclusions(before, after):
    """Exclusions present before a run and missing after it (must always be empty)."""
    lost = []
    after_by_id = {p["id"]: p for p in after}
    for policy in before:
        now = after_by_id.get(policy["id"])
        if now is None:
            lost.append("policy %s (%s) disappeared" % (policy["id"], policy.get("displayName")))
            continue
        old_u, new_u = users_of(policy), users_of(now)
        for key in ("excludeUsers", "excludeGroups", "excludeRoles"):
            gone = {x.lower() for x in old_u.get(key) or []} - {x.lower() for x in new_u.get(key) or []}
            if gone:
                lost.append("%s: %s lost %s" % (policy.get("displayName"), key, sorted(gone)))
        old_g, new_g = old_u.get("excludeGuestsOrExternalUsers"), new_u.get("excludeGuestsOrExternalUsers")
        if old_g and types_of(old_g):
            gone = types_of(old_g) - types_of(new_g) - {"none"}   # "none" excludes nobody
            if gone:
                lost.append("%s: excluded guest types lost %s" % (policy.get("displayName"), sorted(gone)))
            old_kind, new_kind = kind_of(old_g.get("externalTenants")), kind_of((new_g or {}).get("externalTenants"))
            if old_kind == "all" and new_kind == "enumerated" and types_of(old_g) - TENANTLESS:
                lost.append("%s: exclusion narrowed from every tenant to a list" % policy.get("displayName"))
            if old_kind == "enumerated" and new_kind == "enumerated":
                gone = set(members_of(old_g.get("externalTenants"))) - set(members_of(new_g.get("externalTenants")))
                if gone:
                    lost.append("%s: excluded tenants lost %s" % (policy.get("displayName"), sorted(gone)))
    return lost
