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

from ._ca import (SERVICE_PROVIDER, SHAREPOINT_WARNING, STATE_NAMES, STATES, TENANTLESS_TYPES, enumerated, format_flags,
                  guests_cover, has_tenant, is_guid, is_managed, is_sharepoint_made, merge_guests, parse_flags, select,
                  tenant_kind, tenant_members, without_managed_prefix)
from ._diff import SERVER_KEYS, make_diff, strip_server_keys
from ._graph import GraphError
from ._inputs import path_segment
from ._module import InvalidOption, ModuleError
from ._msp_tenant import verified_msp_name
from ._objects import policies as policy_endpoint
from ._policy import writable
from ._resolve import Resolver

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
# ca_client_exclusion's own options on top
ARGUMENT_SPEC = dict(
    EXCLUSION_TARGET_SPEC,
    state=dict(type="str", default="present", choices=["present", "absent"]),
    scope=dict(type="str", default="targeting", choices=["targeting", "all"]),
    include_disabled=dict(type="bool", default=True),
    managed_policies=dict(type="str", default="exclude", choices=["exclude", "skip", "clone_and_disable"]),
    clone_prefix=dict(type="str", default="Clone - "),
    clone_state=dict(type="str", choices=["enabled", "disabled", "report_only"]),
)
# what a clone costs: said in the result of every clone
CLONE_NOTE = ("the clone %r is the MSP's own policy from now on: it no longer gets Microsoft's updates to %r, nor "
              "Microsoft's automatic enablement (Microsoft turns report-only managed policies on by itself, after 45 "
              "days); it was created in state %s")

# Graph errors that stop the whole run: the next PATCH would fail the same way.
FATAL_STATUSES = (None, 401, 403, 429, 500, 502, 503, 504)
# Said by every state=absent warning that leaves serviceProvider in place.
NOT_RECORDED = ("Graph does not record who added serviceProvider, so state=absent cannot tell whether %s added it "
                "and cannot restore the exclusion as it was before")


def _users(policy):
    return ((policy.get("conditions") or {}).get("users")) or {}


# -- GDAP: excludeGuestsOrExternalUsers ---------------------------------------------------------
def gdap_covered(users, msp_tenant_id):
    """True when service provider users of the MSP tenant are already excluded."""
    return guests_cover(users.get("excludeGuestsOrExternalUsers"), [SERVICE_PROVIDER], msp_tenant_id)


def add_gdap_exclusion(users, msp_tenant_id, msp_label=None):
    """Return (new_users, warnings): ``users`` with service provider users of the MSP excluded, merged into
    the one exclusion object by the collection's merge rule (``_ca.merge_guests``)."""
    new = copy.deepcopy(users)
    mine = {"guestOrExternalUserTypes": SERVICE_PROVIDER, "externalTenants": enumerated([msp_tenant_id])}

    def label(tid):
        return msp_label if msp_label and tid.lower() == msp_tenant_id.lower() else tid
    new["excludeGuestsOrExternalUsers"], warnings = merge_guests(users.get("excludeGuestsOrExternalUsers"), mine,
                                                                 label)
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
    types = parse_flags(guests.get("guestOrExternalUserTypes"))
    tenants = guests.get("externalTenants")
    kind = tenant_kind(tenants)
    if SERVICE_PROVIDER not in types:
        return new, warnings
    if kind == "enumerated":
        if not has_tenant(tenants, msp_tenant_id):
            return new, warnings
        remaining = [m for m in tenant_members(tenants) if m.lower() != msp_tenant_id.lower()]
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
            guests["guestOrExternalUserTypes"] = format_flags(others)
            warnings.append("%s stays in the tenant list: it is also the tenant of the excluded %s"
                            % (msp_label, ", ".join(tenant_bound)))
        else:
            guests["guestOrExternalUserTypes"] = format_flags(others)
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
        types = parse_flags(included.get("guestOrExternalUserTypes"))
        kind = tenant_kind(included.get("externalTenants"))
        if kind in ("all", None) and [t for t in types if t not in TENANTLESS_TYPES]:
            return "includes external users of all tenants"
        if SERVICE_PROVIDER in types and has_tenant(included.get("externalTenants"), msp_tenant_id):
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
    """The policies named by id or display name in ``wanted`` (None: all; []: none); the collection's name rule."""
    return select(policies, wanted, "Conditional Access policy", "policies")


def clone_name(policy, prefix):
    base = (policy.get("displayName") or "").strip()
    if is_managed(policy):  # with or without the colon, in any case
        base = without_managed_prefix(base)
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
        plan = self._plan_one(policy, all_policies)
        if is_sharepoint_made(policy) and plan.changes and SHAREPOINT_WARNING not in plan.warnings:
            plan.warnings.append(SHAREPOINT_WARNING)
        return plan

    def _plan_one(self, policy, all_policies):
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
        if self.mode == "gdap" and SERVICE_PROVIDER in parse_flags(
                (users.get("includeGuestsOrExternalUsers") or {}).get("guestOrExternalUserTypes")):
            warnings.append("the policy includes service provider users; excluding the MSP means it no longer "
                            "applies to the MSP's technicians")
        if self.covered(users):
            guests = users.get("excludeGuestsOrExternalUsers") or {}
            if self.mode == "gdap" and tenant_kind(guests.get("externalTenants")) != "enumerated":
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
    """Names people know for the ids in a diff: UPNs, group, role and tenant names, looked up through the
    resolver (each id once); without a resolver (pure tests) unknown ids stay as they are."""

    def __init__(self, msp_tenant_id, msp_tenant_name=None, account_id=None, account_upn=None, resolver=None):
        self.resolver = resolver
        self.tenants = {msp_tenant_id.lower(): "%s (%s)" % (msp_tenant_id, msp_tenant_name or "MSP tenant")}
        self.users = {}
        if account_id:
            self.users[account_id.lower()] = ("%s (%s)" % (account_upn, account_id) if account_upn
                                              else "%s (service account)" % account_id)

    def _named(self, kind, oid, known):
        if str(oid).lower() in known:
            return known[str(oid).lower()]
        name = self.resolver.name(kind, oid) if self.resolver is not None and is_guid(oid) else oid
        return "%s (%s)" % (name, oid) if kind == "tenant" and name != oid else name

    def tenant(self, tid):
        return self._named("tenant", tid, self.tenants)

    def user(self, uid):
        return self._named("user", uid, self.users)

    def group(self, gid):
        return self._named("group", gid, {})

    def role(self, rid):
        return self._named("role", rid, {})


def summarize(policy, users=None, labels=None, state=None):
    """The parts of a policy this module touches, and the exclusions beside them, in names instead of ids."""
    users = _users(policy) if users is None else users
    labels = labels or Labels("")
    summary = {"state": state or policy.get("state"),
               "exclude_users": [labels.user(u) for u in users.get("excludeUsers") or []]}
    for key, label in (("excludeGroups", labels.group), ("excludeRoles", labels.role)):
        if users.get(key):
            summary["exclude_" + key[7:].lower()] = [label(x) for x in users[key]]
    guests = users.get("excludeGuestsOrExternalUsers")
    if guests:
        tenants = guests.get("externalTenants")
        kind = tenant_kind(tenants)
        summary["exclude_guests_or_external_users"] = {
            "types": parse_flags(guests.get("guestOrExternalUserTypes")),
            "external_tenants": ("all" if kind == "all" else
                                 [labels.tenant(m) for m in tenant_members(tenants)] if kind == "enumerated" else
                                 "(no tenant list)")}
    else:
        summary["exclude_guests_or_external_users"] = None
    return summary


def policy_key(policy, names):
    """Display name, with the id when two policies share it."""
    name = policy.get("displayName") or policy.get("id")
    return "%s [%s]" % (name, policy.get("id")) if names.count(policy.get("displayName")) > 1 else name


def build_diff(plans, labels, tenant_label):
    """One diff per policy, each header naming the tenant and the policy, so every hunk says whose it is.

    A policy with a warning is shown even without a change (before == after): the warning is the news.
    """
    names = [p.policy.get("displayName") for p in plans]
    diffs = []
    for plan in plans:
        if not plan.changes and not plan.warnings:
            continue
        key = policy_key(plan.policy, names)
        before = dict(policy=key, **summarize(plan.policy, labels=labels))
        after = dict(policy=key, **summarize(plan.policy, users=plan.users, labels=labels,
                                             state="disabled" if plan.disable else None))
        if plan.warnings:
            after["warnings"] = plan.warnings
        diffs.append(make_diff(before, after, "%s: policy %r (Graph)" % (tenant_label, key),
                               "%s: policy %r (task)" % (tenant_label, key)))
        if plan.clone is not None:
            clone = dict(policy=plan.clone["displayName"], cloned_from=key, **summarize(plan.clone, labels=labels))
            diffs.append(make_diff({}, clone, "%s: policy %r (Graph)" % (tenant_label, clone["policy"]),
                                   "%s: new policy %r (task)" % (tenant_label, clone["policy"])))
    return diffs


def diff_policies(diffs, side="after"):
    """{policy key: summary} of one side of ``build_diff``'s diffs (for tests and reports)."""
    return {d[side]["policy"]: {k: v for k, v in d[side].items() if k != "policy"} for d in diffs if d[side]}


# -- the module's work --------------------------------------------------------------------------
class ClientExclusion:
    """ca_client_exclusion: one list, then one write per policy that must change."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.graph = module.graph
        # every write is read back, together: one listing after the writes (not one GET per policy)
        self.endpoint = policy_endpoint(module, read_back="later")

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
        policies = self.endpoint.list()
        selected = select_policies(policies, self.params.get("policies"))
        self._planner, self._policies = self.planner(account_id), policies
        plans = self._planner.plan(policies, selected)
        if self.params["mode"] == "gdap" and any(plan.changes for plan in plans):
            # the id about to be written (or shown in a diff) is verified and named from Graph first; a run with
            # nothing to change (the daily drift run) skips the lookup and costs the one list
            self.params["msp_tenant_name"] = verified_msp_name(self.graph, self.params["msp_tenant_id"],
                                                               self.params.get("msp_tenant_name"))
            self._planner = self.planner(account_id)
            plans = self._planner.plan(policies, selected)
        labels = Labels(self.params["msp_tenant_id"], self.params.get("msp_tenant_name"), account_id, upn,
                        Resolver(self.graph))
        done, failed, errors = [], [], []
        for index, plan in enumerate(plans):
            if not plan.changes:
                continue
            try:
                sent = len(self.module.writes)
                self.apply(plan)
                if len(self.module.writes) > sent:  # a re-read may show another writer did it already
                    done.append(plan)
            except (GraphError, ModuleError) as exc:
                plan.action, plan.reason = "failed", str(exc)
                failed.append(plan)
                errors.append(exc)
                if isinstance(exc, GraphError) and exc.status in FATAL_STATUSES:
                    for rest in plans[index + 1:]:
                        if rest.changes:
                            rest.action, rest.reason = "not_attempted", "stopped after %s" % exc.code
                            failed.append(rest)
                    break
        try:
            differ = self.endpoint.verify_all()
        except (GraphError, ModuleError) as exc:
            # the writes were sent but the read-back failed: they count as changed, and the task fails naming them
            differ = {}
            errors.append("the read-back after the writes failed: %s" % exc)
        for plan in list(done):
            if plan.policy.get("id") in differ:
                plan.action, plan.reason = "failed", differ[plan.policy["id"]]
                done.remove(plan)
                failed.append(plan)
                errors.append(differ[plan.policy["id"]])
        for plan in plans:
            if plan.changes or plan in failed:  # a run that changes nothing does not repeat its warnings
                for warning in plan.warnings:
                    self.module.warn("%s: policy %r: %s"
                                     % (self.tenant_label(), plan.policy.get("displayName"), warning))
        result = {"changed": bool(done), "policies": [p.entry() for p in plans],
                  "summary": self.summary(plans), "service_account_id": account_id}
        if self.module._diff:
            shown = [p for p in plans if p not in failed]
            result["diff"] = build_diff(shown, labels, self.tenant_label() if any(
                p.changes or p.warnings for p in shown) else "")
        result["graph_requests"] = self.graph.requests  # the diff's name lookups included
        if errors:
            self.module.fail_json(
                msg="%d of %d policy changes failed in tenant %s. Changed: %s. Not changed: %s. First error: %s"
                    % (len(failed), len(done) + len(failed), self.graph.tenant_id,
                       _names(done) or "none", _names(failed) or "none", errors[0]), **result)
        return result

    def apply(self, plan):
        """The plan's writes. Once v1.0 refused the policy (1038), its other writes go to /beta directly."""
        if plan.clone is not None:
            plan.clone_of = self.endpoint.create(self.clone_from_beta(plan), version="beta")
            self.endpoint.versions[plan.policy["id"]] = "beta"  # the copy's preview features are the original's
            plan.warnings.append(CLONE_NOTE % (plan.clone["displayName"], plan.policy.get("displayName"),
                                               STATE_NAMES.get(plan.clone.get("state"), plan.clone.get("state"))))
        if plan.users is not None:
            self.endpoint.update(plan.policy, lambda now: self.users_body(plan, now))
        if plan.disable:
            self.endpoint.update(plan.policy, {"state": "disabled"})
        for warning in self.endpoint.warnings:
            if warning not in plan.warnings:
                plan.warnings.append(warning)
        self.endpoint.warnings.clear()

    def tenant_label(self):
        return self.module.tenant_label()

    def clone_from_beta(self, plan):
        """The clone's body from a /beta read of the original: v1.0 leaves out preview conditions, and a copy
        made from it would lose them. The clone's state is clone_state, else the original's."""
        source = plan.policy
        if not self.module.check_mode:
            source = self.endpoint.get(plan.policy["id"], version="beta") or plan.policy
        body = clone_body(source, plan.clone["displayName"], plan.clone["conditions"]["users"])
        wanted = self.params.get("clone_state")
        body["state"] = STATES[wanted] if wanted else source.get("state") or plan.clone.get("state")
        plan.clone = body
        return body

    def users_body(self, plan, now):
        """The users PATCH for the policy as Graph holds it now: when the endpoint read it again (the plan was
        older than the pacing window), the MSP exclusion is planned again on that read, so an exclusion another
        writer added meanwhile is kept."""
        users = plan.users
        if now is not plan.policy:
            fresh = self._planner.plan_one(now, self._policies)
            plan.warnings.extend(w for w in fresh.warnings if w not in plan.warnings)
            if fresh.users is None:
                plan.action, plan.reason = fresh.action, "re-read before the write: %s" % (fresh.reason or fresh.action)
                plan.users = None
                return None
            users = fresh.users
        return {"conditions": {"users": users_patch(_users(now), users)}}

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
    policies = worker.endpoint.list()
    selected = select_policies(policies, p.get("policies"))
    planner = worker.planner(account_id)
    labels = Labels(p["msp_tenant_id"], p.get("msp_tenant_name"), account_id, upn, Resolver(module.graph))
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
