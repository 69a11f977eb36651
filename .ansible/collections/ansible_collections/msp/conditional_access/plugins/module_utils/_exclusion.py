# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Part D: let the MSP into every Conditional Access policy of a client tenant.

PRIVATE to the msp.conditional_access collection: the API may change without notice.

GDAP mode excludes "service provider users" of the MSP tenant (``excludeGuestsOrExternalUsers``);
direct mode excludes the CIPP service account (``excludeUsers``). A policy holds only one
``excludeGuestsOrExternalUsers`` object, so the MSP is merged into what is there (graph-ca.md §3)
and every existing exclusion survives. Bodies are plain dicts: msgraph-sdk models drop the
comma-separated ``guestOrExternalUserTypes`` flags.

The pure part (merge, removal, scope, planning) is separate from the Graph calls so that it can
be unit-tested case by case.
"""

from __future__ import annotations

import copy
import re

from ._diff import SERVER_KEYS, make_diff, strip_server_keys
from ._graph import GraphError
from ._inputs import path_segment
from ._module import InvalidOption
from ._policy import BETA_WARNING, MMP_PREFIX, is_managed, writable, write_policy

POLICIES = "/identity/conditionalAccess/policies"
ENUMERATED = "#microsoft.graph.conditionalAccessEnumeratedExternalTenants"
ALL_TENANTS = "#microsoft.graph.conditionalAccessAllExternalTenants"
SERVICE_PROVIDER = "serviceProvider"

# Declaration order of the conditionalAccessGuestOrExternalUserTypes flags enum (v1.0 CSDL);
# Graph renders the bitmask in this order, so writing it back in this order keeps bodies stable.
FLAG_ORDER = ("none", "internalGuest", "b2bCollaborationGuest", "b2bCollaborationMember",
              "b2bDirectConnectUser", "otherExternalUser", "serviceProvider", "unknownFutureValue")
# Internal guests live in the client tenant itself: a tenant list does not narrow them.
TENANTLESS_TYPES = frozenset(["none", "internalGuest"])
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# Who is let in and which policies are looked at: shared by ca_client_exclusion and its _info
# module, so that a report and a change read the same options the same way.
EXCLUSION_TARGET_SPEC = dict(
    msp_tenant_id=dict(type="str", required=True),
    msp_tenant_name=dict(type="str"),
    mode=dict(type="str", default="gdap", choices=["gdap", "direct"]),
    service_account=dict(type="str"),
    policies=dict(type="list", elements="str"),
)
EXCLUSION_TARGET_REQUIRED_IF = [("mode", "direct", ("service_account",))]

# Graph errors that stop the whole run: the next PATCH would fail the same way.
FATAL_STATUSES = (None, 401, 403, 429, 500, 502, 503, 504)
# Said by every state=absent warning that leaves serviceProvider in place.
NOT_RECORDED = ("Graph does not record who added serviceProvider, so state=absent cannot tell whether %s added it "
                "and cannot restore the exclusion as it was before")


# -- flags --------------------------------------------------------------------------------------
def parse_types(value):
    """'internalGuest, serviceProvider' -> ['internalGuest', 'serviceProvider'] in canonical order.

    Unknown members are kept (after the known ones): dropping one would drop an exclusion.
    ``none`` only survives on its own (it is the zero of the bitmask).
    """
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        items = [str(v).strip() for v in value]
    else:
        items = [part.strip() for part in str(value).split(",")]
    items = {i for i in items if i}
    known = {f.lower(): f for f in FLAG_ORDER}
    canonical = {known.get(i.lower(), i) for i in items}
    if len(canonical) > 1:
        canonical.discard("none")
    order = {f: n for n, f in enumerate(FLAG_ORDER)}
    return sorted(canonical, key=lambda f: (order.get(f, len(FLAG_ORDER)), f))


def format_types(types):
    """The wire form: one comma-separated string, canonical order."""
    return ",".join(parse_types(list(types)))


def is_guid(value):
    return bool(value) and bool(GUID.match(str(value)))


def _users(policy):
    return ((policy.get("conditions") or {}).get("users")) or {}


def _kind(external_tenants):
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


def _members(external_tenants):
    return list((external_tenants or {}).get("members") or [])


def _has_member(external_tenants, tenant_id):
    return tenant_id.lower() in (m.lower() for m in _members(external_tenants))


def _enumerated(members):
    return {"@odata.type": ENUMERATED, "membershipKind": "enumerated", "members": list(members)}


# -- GDAP: excludeGuestsOrExternalUsers ---------------------------------------------------------
def gdap_covered(users, msp_tenant_id):
    """True when service provider users of the MSP tenant are already excluded."""
    guests = users.get("excludeGuestsOrExternalUsers")
    if not guests or SERVICE_PROVIDER not in parse_types(guests.get("guestOrExternalUserTypes")):
        return False
    tenants = guests.get("externalTenants")
    kind = _kind(tenants)
    if kind == "enumerated":
        return _has_member(tenants, msp_tenant_id)
    # "all", or a tenant list that is missing: no list narrows it, every provider is excluded
    return True


def add_gdap_exclusion(users, msp_tenant_id, msp_label=None):
    """Return (new_users, warnings): ``users`` with service provider users of the MSP excluded.

    The four shapes of graph-ca.md §3: null; ``all``; enumerated; tenant list missing.
    """
    msp_label = msp_label or msp_tenant_id
    new = copy.deepcopy(users)
    warnings = []
    guests = new.get("excludeGuestsOrExternalUsers")
    types = parse_types((guests or {}).get("guestOrExternalUserTypes"))
    if not guests or not [t for t in types if t != "none"]:
        # 1. nothing excluded yet (null, or an object without types)
        new["excludeGuestsOrExternalUsers"] = {"guestOrExternalUserTypes": SERVICE_PROVIDER,
                                               "externalTenants": _enumerated([msp_tenant_id])}
        return new, warnings

    tenants = guests.get("externalTenants")
    kind = _kind(tenants)
    others = [t for t in types if t != SERVICE_PROVIDER]
    if kind == "all":
        # 2. every external tenant: adding the type covers the MSP, and every other provider too
        warnings.append("the existing exclusion applies to all external tenants, so service provider users of "
                        "every tenant are excluded, not only %s" % msp_label)
        guests["guestOrExternalUserTypes"] = format_types(types + [SERVICE_PROVIDER])
    elif kind == "enumerated":
        # 3. a tenant list: add the type and the MSP; the other types now reach the MSP as well
        if not _has_member(tenants, msp_tenant_id):
            if others:
                warnings.append("the exclusion is one list of types x tenants: adding %s also excludes its %s"
                                % (msp_label, ", ".join(others)))
            tenants["members"] = _members(tenants) + [msp_tenant_id]
        if SERVICE_PROVIDER not in types:
            existing = [m for m in _members(tenants) if m.lower() != msp_tenant_id.lower()]
            if existing:
                warnings.append("serviceProvider is added for the whole tenant list, so service provider users of "
                                "%s are excluded too" % ", ".join(existing))
        tenants["@odata.type"] = ENUMERATED
        tenants["membershipKind"] = "enumerated"
        guests["guestOrExternalUserTypes"] = format_types(types + [SERVICE_PROVIDER])
    else:
        # 4. types without a tenant list
        tenant_bound = [t for t in others if t not in TENANTLESS_TYPES]
        if tenant_bound:
            # An enumerated list would narrow the existing exclusion of these types to the MSP,
            # i.e. drop an exclusion. Keep the list absent (it covers every tenant) and say so.
            warnings.append("the existing exclusion of %s names no tenant list, so it covers every tenant; "
                            "serviceProvider is added the same way and excludes every service provider, not only "
                            "%s" % (", ".join(tenant_bound), msp_label))
        else:
            guests["externalTenants"] = _enumerated([msp_tenant_id])
        guests["guestOrExternalUserTypes"] = format_types(types + [SERVICE_PROVIDER])
    return new, warnings


def remove_gdap_exclusion(users, msp_tenant_id, msp_label=None):
    """Return (new_users, warnings): the MSP's own exclusion taken out, everything else kept.

    Graph does not record who added ``serviceProvider``: it is removed only when nothing else
    could use it (no tenant left in the list). Otherwise it stays, with a warning.
    """
    msp_label = msp_label or msp_tenant_id
    new = copy.deepcopy(users)
    warnings = []
    guests = new.get("excludeGuestsOrExternalUsers")
    if not guests:
        return new, warnings
    types = parse_types(guests.get("guestOrExternalUserTypes"))
    tenants = guests.get("externalTenants")
    kind = _kind(tenants)
    if SERVICE_PROVIDER not in types:
        return new, warnings
    if kind == "enumerated":
        if not _has_member(tenants, msp_tenant_id):
            return new, warnings
        remaining = [m for m in _members(tenants) if m.lower() != msp_tenant_id.lower()]
        if remaining:
            tenants["members"] = remaining
            if [t for t in types if t != SERVICE_PROVIDER]:
                warnings.append((NOT_RECORDED + ". serviceProvider stays excluded for %s; if %s added it, remove it "
                                 "by hand") % (msp_label, ", ".join(remaining), msp_label))
            return new, warnings
        others = [t for t in types if t != SERVICE_PROVIDER]
        tenant_bound = [t for t in others if t not in TENANTLESS_TYPES]
        if not others:
            new["excludeGuestsOrExternalUsers"] = None
        elif tenant_bound:
            # The MSP is the only tenant of other tenant-bound types: that exclusion predates us (an add
            # never creates it), and an empty list is invalid. Only serviceProvider goes.
            guests["guestOrExternalUserTypes"] = format_types(others)
            warnings.append("%s stays in the tenant list: it is also the tenant of the excluded %s"
                            % (msp_label, ", ".join(tenant_bound)))
        else:
            guests["guestOrExternalUserTypes"] = format_types(others)
            guests["externalTenants"] = None
        return new, warnings
    # "all" or no tenant list: not the MSP's own exclusion alone; removing it could drop someone else's
    warnings.append((NOT_RECORDED + ". serviceProvider is excluded for every external tenant, not for %s alone, and "
                     "is left as it is; if %s added it, remove it by hand") % (msp_label, msp_label, msp_label))
    return new, warnings


# -- direct mode: excludeUsers ------------------------------------------------------------------
def direct_covered(users, account_id):
    return account_id.lower() in (u.lower() for u in users.get("excludeUsers") or [])


def add_direct_exclusion(users, account_id):
    new = copy.deepcopy(users)
    if not direct_covered(users, account_id):
        new["excludeUsers"] = list(users.get("excludeUsers") or []) + [account_id]
    return new, []


def remove_direct_exclusion(users, account_id):
    new = copy.deepcopy(users)
    new["excludeUsers"] = [u for u in users.get("excludeUsers") or [] if u.lower() != account_id.lower()]
    return new, []


# -- scope --------------------------------------------------------------------------------------
def targeting_reason(policy, mode, msp_tenant_id, account_id=None):
    """Why a policy can reach the MSP's users, or None when it cannot (graph-ca.md §3, CIPP's rule)."""
    users = _users(policy)
    include_users = [u.lower() for u in users.get("includeUsers") or []]
    if "all" in include_users:
        return "includes all users"
    if "guestsorexternalusers" in include_users:
        return "includes all guest and external users"
    if users.get("includeRoles"):
        return "includes directory roles"
    included = users.get("includeGuestsOrExternalUsers")
    if included:
        types = parse_types(included.get("guestOrExternalUserTypes"))
        kind = _kind(included.get("externalTenants"))
        if kind in ("all", None) and [t for t in types if t not in TENANTLESS_TYPES]:
            return "includes external users of all tenants"
        if SERVICE_PROVIDER in types and _has_member(included.get("externalTenants"), msp_tenant_id):
            return "includes service provider users of the MSP tenant"
    if mode == "direct" and account_id:
        if account_id.lower() in include_users:
            return "includes the service account"
        if users.get("includeGroups"):
            # membership is not looked up (one request per group); an exclusion there is harmless
            return "includes groups (the service account may be a member)"
    return None


# -- policy selection ---------------------------------------------------------------------------
def select_policies(policies, wanted):
    """The policies named by id or display name in ``wanted``; ambiguous or unknown names fail."""
    if not wanted:
        return list(policies)
    chosen = []
    for ref in wanted:
        by_id = [p for p in policies if is_guid(ref) and (p.get("id") or "").lower() == str(ref).lower()]
        matches = by_id or [p for p in policies if p.get("displayName") == ref]
        if not matches:
            raise InvalidOption("policies", ref, "no Conditional Access policy has this id or display name")
        if len(matches) > 1:
            raise InvalidOption("policies", ref, "%d policies have this display name (ids: %s); name one by id"
                                % (len(matches), ", ".join(m["id"] for m in matches)))
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen


def clone_name(policy, prefix):
    base = (policy.get("displayName") or "").strip()
    if is_managed(policy):  # the stripped name starts with the prefix, in any case
        base = base[len(MMP_PREFIX):]
    return (prefix + base.strip()).strip()


def clone_body(policy, name, users):
    """A new policy from a Microsoft-managed one: a new name, our users object, nothing the server owns.

    Server keys are dropped at the top level only: nested ``id`` values are references the copy needs
    (``grantControls.authenticationStrength`` goes as ``{"id": ...}``, as ca_policy sends it). Nulls are
    left out (nothing to clear in a new policy).
    """
    body = {k: v for k, v in policy.items() if k not in SERVER_KEYS and not k.startswith("@odata.")
            and not k.endswith("@odata.context")}
    body["displayName"] = name
    body["conditions"] = dict(body.get("conditions") or {}, users=users)
    return writable(None, body)


def users_patch(current, new):
    """The complete users object, with explicit nulls where a nested key must disappear.

    Graph merges nested complex properties on PATCH, so a key left out would keep its old value.
    """
    body = copy.deepcopy(new)
    for key in current:
        body.setdefault(key, None)
    old_guests, new_guests = current.get("excludeGuestsOrExternalUsers"), body.get("excludeGuestsOrExternalUsers")
    if old_guests and new_guests:
        for key in old_guests:
            if not key.endswith("@odata.context"):
                new_guests.setdefault(key, None)
    return strip_server_keys(body)


# -- planning -----------------------------------------------------------------------------------
class Plan:
    """What one policy needs: an action for the result and the writes that get there."""

    def __init__(self, policy, action, reason=None, warnings=None, users=None, clone=None, disable=False,
                 clone_of=None):
        self.policy = policy
        self.action = action
        self.reason = reason
        self.warnings = list(warnings or [])
        self.users = users            # new users object to PATCH, or None
        self.clone = clone            # body of a policy to POST, or None
        self.disable = disable        # PATCH the policy to state=disabled
        self.clone_of = clone_of

    @property
    def changes(self):
        return self.users is not None or self.clone is not None or self.disable

    def entry(self):
        entry = {"id": self.policy.get("id"), "display_name": self.policy.get("displayName"),
                 "state": self.policy.get("state"), "action": self.action, "warnings": self.warnings}
        if self.reason:
            entry["reason"] = self.reason
        return entry


class Planner:
    """Decides, per policy, what ``ca_client_exclusion`` does. No Graph calls in here."""

    def __init__(self, msp_tenant_id, mode="gdap", account_id=None, state="present", scope="targeting",
                 include_disabled=True, managed_policies="exclude", clone_prefix="Clone - ", msp_label=None):
        self.msp_tenant_id = msp_tenant_id
        self.mode = mode
        self.account_id = account_id
        self.state = state
        self.scope = scope
        self.include_disabled = include_disabled
        self.managed_policies = managed_policies
        self.clone_prefix = clone_prefix
        self.msp_label = msp_label or msp_tenant_id

    # one policy's users object
    def covered(self, users):
        if self.mode == "direct":
            return direct_covered(users, self.account_id)
        return gdap_covered(users, self.msp_tenant_id)

    def add(self, users):
        if self.mode == "direct":
            return add_direct_exclusion(users, self.account_id)
        return add_gdap_exclusion(users, self.msp_tenant_id, self.msp_label)

    def remove(self, users):
        if self.mode == "direct":
            return remove_direct_exclusion(users, self.account_id)
        return remove_gdap_exclusion(users, self.msp_tenant_id, self.msp_label)

    def plan(self, all_policies, selected):
        return [self.plan_one(policy, all_policies) for policy in selected]

    def plan_one(self, policy, all_policies):
        managed = is_managed(policy)
        if managed and self.managed_policies == "skip":
            return Plan(policy, "skipped", "Microsoft-managed policy (managed_policies=skip)")
        if self.state == "absent":
            return self.plan_absent(policy)
        if policy.get("state") == "disabled" and not self.include_disabled:
            return Plan(policy, "skipped", "disabled (include_disabled=false)")
        reason = targeting_reason(policy, self.mode, self.msp_tenant_id, self.account_id)
        if reason is None and self.scope == "targeting":
            return Plan(policy, "skipped", "out of scope: cannot reach the MSP's users (scope=targeting)")
        if managed and self.managed_policies == "clone_and_disable":
            return self.plan_clone(policy, all_policies)
        return self.plan_present(policy)

    def plan_present(self, policy):
        users = _users(policy)
        warnings = []
        if self.mode == "gdap" and SERVICE_PROVIDER in parse_types(
                (users.get("includeGuestsOrExternalUsers") or {}).get("guestOrExternalUserTypes")):
            warnings.append("the policy includes service provider users; excluding the MSP means it no longer "
                            "applies to the MSP's technicians")
        if self.covered(users):
            if self.mode == "gdap" and _kind((users.get("excludeGuestsOrExternalUsers") or {})
                                             .get("externalTenants")) != "enumerated":
                warnings.append("the MSP is covered by an exclusion of service provider users of every external "
                                "tenant, not of %s alone" % self.msp_label)
            return Plan(policy, "already_excluded", warnings=warnings)
        new, merge_warnings = self.add(users)
        return Plan(policy, "excluded", warnings=warnings + merge_warnings, users=new)

    def plan_absent(self, policy):
        users = _users(policy)
        new, warnings = self.remove(users)
        if new == users:
            return Plan(policy, "already_absent", warnings=warnings)
        return Plan(policy, "removed", warnings=warnings, users=new)

    def plan_clone(self, policy, all_policies):
        name = clone_name(policy, self.clone_prefix)
        clones = [p for p in all_policies if p.get("displayName") == name]
        if len(clones) > 1:
            return Plan(policy, "skipped", "%d policies are named %r (ids: %s); cannot tell which is the clone"
                        % (len(clones), name, ", ".join(c["id"] for c in clones)))
        disable = policy.get("state") != "disabled"
        if clones:
            if not disable:
                return Plan(policy, "already_cloned", "clone %r (%s)" % (name, clones[0].get("id")),
                            clone_of=clones[0])
            # the clone exists but the original is active again (or the disable failed last time)
            return Plan(policy, "cloned", "clone %r exists; disabling the original" % name, disable=True,
                        clone_of=clones[0])
        if not disable:
            # disabled by an admin and never cloned: a disabled copy adds nothing; the exclusion
            # (an allowed edit on Microsoft-managed policies) covers a later re-enable
            plan = self.plan_present(policy)
            plan.warnings.append("Microsoft-managed policy is disabled and has no clone; not cloned")
            return plan
        users, warnings = self.add(_users(policy))
        return Plan(policy, "cloned", "clone %r gets the exclusion, the original is disabled" % name,
                    warnings=warnings, clone=clone_body(policy, name, users), disable=True)


# -- the diff people read -----------------------------------------------------------------------
class Labels:
    """Names people know for the ids in a diff."""

    def __init__(self, msp_tenant_id, msp_tenant_name=None, account_id=None, account_upn=None):
        self.tenants = {msp_tenant_id.lower(): "%s (%s)" % (msp_tenant_id, msp_tenant_name or "MSP tenant")}
        self.users = {}
        if account_id:
            self.users[account_id.lower()] = ("%s (%s)" % (account_upn, account_id) if account_upn
                                              else "%s (service account)" % account_id)

    def tenant(self, tid):
        return self.tenants.get(str(tid).lower(), tid)

    def user(self, uid):
        return self.users.get(str(uid).lower(), uid)


def summarize(policy, users=None, labels=None, state=None):
    """The parts of a policy this module touches, with names instead of bare ids."""
    users = _users(policy) if users is None else users
    labels = labels or Labels("")
    summary = {"state": state or policy.get("state"),
               "exclude_users": [labels.user(u) for u in users.get("excludeUsers") or []]}
    guests = users.get("excludeGuestsOrExternalUsers")
    if guests:
        tenants = guests.get("externalTenants")
        kind = _kind(tenants)
        summary["exclude_guests_or_external_users"] = {
            "types": parse_types(guests.get("guestOrExternalUserTypes")),
            "external_tenants": ("all" if kind == "all" else
                                 [labels.tenant(m) for m in _members(tenants)] if kind == "enumerated" else
                                 "(no tenant list)")}
    else:
        summary["exclude_guests_or_external_users"] = None
    return summary


def policy_key(policy, names):
    """Display name, with the id when two policies share it."""
    name = policy.get("displayName") or policy.get("id")
    return "%s [%s]" % (name, policy.get("id")) if names.count(policy.get("displayName")) > 1 else name


def build_diff(plans, labels, tenant_label):
    names = [p.policy.get("displayName") for p in plans]
    before, after = {}, {}
    for plan in plans:
        if not plan.changes and not plan.warnings:
            continue
        # a policy with a warning is shown even without a change (before == after): the warning is the news
        key = policy_key(plan.policy, names)
        before[key] = summarize(plan.policy, labels=labels)
        after_state = "disabled" if plan.disable else None
        after[key] = summarize(plan.policy, users=plan.users if plan.users is not None else None, labels=labels,
                               state=after_state)
        if plan.warnings:
            after[key]["warnings"] = plan.warnings
        if plan.clone is not None:
            after[plan.clone["displayName"]] = dict(summarize(plan.clone, labels=labels),
                                                    cloned_from=plan.policy.get("displayName"))
    return make_diff({"policies": before}, {"policies": after},
                     "Conditional Access policies of %s (Graph)" % tenant_label,
                     "Conditional Access policies of %s (task)" % tenant_label)


# -- the module's work --------------------------------------------------------------------------
class ClientExclusion:
    """ca_client_exclusion: one list, then one write per policy that must change."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.graph = module.graph

    def validate(self):
        p = self.params
        if not is_guid(p["msp_tenant_id"]):
            raise InvalidOption("msp_tenant_id", p["msp_tenant_id"], "must be the MSP's tenant id (a GUID)")
        if p["mode"] == "gdap" and p.get("tenant_id") and p["tenant_id"].lower() == p["msp_tenant_id"].lower():
            # excluding the MSP's own service provider users from the MSP's own policies means nothing;
            # direct mode in the MSP tenant is Part B (the service account out of the other policies)
            raise InvalidOption("tenant_id", p["tenant_id"], "is the MSP tenant itself; GDAP exclusions belong in "
                                "client tenants (use mode=direct to exclude an account in the MSP tenant)")
        if p["mode"] == "direct" and not p.get("service_account"):
            raise InvalidOption("service_account", None, "required when mode=direct")
        if p.get("managed_policies") == "clone_and_disable":
            probe = clone_name({"displayName": "Microsoft-managed: x"}, p["clone_prefix"])
            if is_managed({"displayName": probe}) or probe == "x":
                raise InvalidOption("clone_prefix", p["clone_prefix"], "the clone's name must differ from the original "
                                    "and must not start with 'Microsoft-managed:'")

    def service_account(self):
        """(object id, UPN). One GET /users/{upn or id}: a mistyped object id must not be excluded silently
        while the real account stays locked out."""
        account = self.params.get("service_account")
        if self.params["mode"] != "direct":
            return None, None
        kind = "object id" if is_guid(account) else "UPN"
        try:
            user = self.graph.get("/users/%s" % path_segment(account),
                                  params={"$select": "id,userPrincipalName,displayName"})
        except GraphError as exc:
            if exc.status == 404:
                raise InvalidOption("service_account", account, "no user with this %s in tenant %s; nothing was "
                                    "written" % (kind, self.params.get("tenant_id") or self.graph.tenant_id))
            raise
        return user["id"], user.get("userPrincipalName") or account

    def planner(self, account_id):
        p = self.params
        return Planner(p["msp_tenant_id"], mode=p["mode"], account_id=account_id, state=p.get("state") or "present",
                       scope=p.get("scope") or "targeting", include_disabled=p.get("include_disabled", True),
                       managed_policies=p.get("managed_policies") or "exclude",
                       clone_prefix=p.get("clone_prefix") or "Clone - ",
                       msp_label=Labels(p["msp_tenant_id"], p.get("msp_tenant_name")).tenant(p["msp_tenant_id"]))

    def run(self):
        self.validate()
        account_id, upn = self.service_account()
        labels = Labels(self.params["msp_tenant_id"], self.params.get("msp_tenant_name"), account_id, upn)
        policies = self.graph.list(POLICIES)
        selected = select_policies(policies, self.params.get("policies"))
        plans = self.planner(account_id).plan(policies, selected)
        done, failed, errors = [], [], []
        for index, plan in enumerate(plans):
            if not plan.changes:
                continue
            try:
                self.apply(plan)
                done.append(plan)
            except GraphError as exc:
                plan.action, plan.reason = "failed", str(exc)
                failed.append(plan)
                errors.append(exc)
                if exc.status in FATAL_STATUSES:
                    for rest in plans[index + 1:]:
                        if rest.changes:
                            rest.action, rest.reason = "not_attempted", "stopped after %s" % exc.code
                            failed.append(rest)
                    break
        for plan in plans:
            for warning in plan.warnings:
                self.module.warn("%s: %s" % (plan.policy.get("displayName"), warning))
        result = {"changed": bool(done), "policies": [p.entry() for p in plans],
                  "summary": self.summary(plans), "service_account_id": account_id,
                  "graph_requests": self.graph.requests}
        if self.module._diff:
            result["diff"] = build_diff([p for p in plans if p not in failed], labels,
                                        self.params.get("tenant_id") or self.graph.tenant_id)
        if failed:
            self.module.fail_json(
                msg="%d of %d policy changes failed in tenant %s. Changed: %s. Not changed: %s. First error: %s"
                    % (len(failed), len(done) + len(failed), self.graph.tenant_id,
                       _names(done) or "none", _names(failed), errors[0]), **result)
        return result

    def apply(self, plan):
        """The plan's writes. Once v1.0 refused the policy (1038), its other writes go to /beta directly."""
        policy_path = "%s/%s" % (POLICIES, plan.policy["id"])
        version = None
        if plan.clone is not None:
            created, version = write_policy(self.module, "POST", POLICIES, plan.clone, version)
            plan.clone_of = created or plan.clone
        if plan.users is not None:
            version = write_policy(self.module, "PATCH", policy_path,
                                   {"conditions": {"users": users_patch(_users(plan.policy), plan.users)}}, version)[1]
        if plan.disable:
            version = write_policy(self.module, "PATCH", policy_path, {"state": "disabled"}, version)[1]
        if version == "beta":
            plan.warnings.append(BETA_WARNING)

    @staticmethod
    def summary(plans):
        counts = {}
        for plan in plans:
            counts[plan.action] = counts.get(plan.action, 0) + 1
        return counts


def _names(plans):
    return ", ".join("%r" % p.policy.get("displayName") for p in plans)


def exclusion_report(module):
    """ca_client_exclusion_info: which policies lack the MSP exclusion. Read-only."""
    p = module.params
    worker = ClientExclusion(module)
    worker.validate()
    account_id, upn = worker.service_account()
    policies = module.graph.list(POLICIES)
    selected = select_policies(policies, p.get("policies"))
    planner = worker.planner(account_id)
    labels = Labels(p["msp_tenant_id"], p.get("msp_tenant_name"), account_id, upn)
    report = []
    for policy in selected:
        users = _users(policy)
        reason = targeting_reason(policy, p["mode"], p["msp_tenant_id"], account_id)
        entry = {"id": policy.get("id"), "display_name": policy.get("displayName"), "state": policy.get("state"),
                 "microsoft_managed": is_managed(policy), "targeting": reason is not None,
                 "targeting_reason": reason, "excluded": planner.covered(users),
                 "exclusions": summarize(policy, labels=labels)}
        entry["missing"] = bool(reason) and not entry["excluded"]
        report.append(entry)
    return {"changed": False, "policies": report,
            "missing": [e["display_name"] for e in report if e["missing"]],
            "service_account_id": account_id, "graph_requests": module.graph.requests}
