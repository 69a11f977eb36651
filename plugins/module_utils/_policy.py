# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Conditional Access policies (Parts A and B, and any policy of Microsoft's framework).

PRIVATE to the msp.conditional_access collection: the API may change without notice.

The module options mirror Graph's object tree in snake_case; ``graph_body()`` maps them to Graph's
camelCase JSON (plain dicts: the SDK models drop multi-value flags enums), resolving names to ids.
Exclusions already on a policy are kept unless ``purge_exclusions`` is set.
"""

from __future__ import annotations

import copy
import re

from ._diff import make_diff
from ._graph import GraphError, odata_quote
from ._module import InvalidOption
from ._resolve import Resolver

POLICIES = "/identity/conditionalAccess/policies"
MMP_PREFIX = "Microsoft-managed:"
STATES = {"enabled": "enabled", "disabled": "disabled", "report_only": "enabledForReportingButNotEnforced"}
STATE_NAMES = {v: k for k, v in STATES.items()}
GUEST_TYPES = ["none", "internalGuest", "b2bCollaborationGuest", "b2bCollaborationMember", "b2bDirectConnectUser",
               "otherExternalUser", "serviceProvider", "unknownFutureValue"]
AUTH_STRENGTHS = {"mfa": "00000000-0000-0000-0000-000000000002", "passwordless_mfa": "00000000-0000-0000-0000-000000000003",
                  "phishing_resistant_mfa": "00000000-0000-0000-0000-000000000004"}
SPECIAL_VALUES = {"ios": "iOS", "macos": "macOS", "windows_phone": "windowsPhone", "AND": "AND", "OR": "OR"}
# option path -> kind of directory object its values name
REFERENCES = {
    ("users", "include_users"): "user", ("users", "exclude_users"): "user",
    ("users", "include_groups"): "group", ("users", "exclude_groups"): "group",
    ("users", "include_roles"): "role", ("users", "exclude_roles"): "role",
    ("applications", "include_applications"): "application", ("applications", "exclude_applications"): "application",
    ("locations", "include_locations"): "location", ("locations", "exclude_locations"): "location",
}
EXCLUSIONS = ("excludeUsers", "excludeGroups", "excludeRoles")
NAMING = re.compile(r"^CA(?P<number>\d{3,4})-(?P<persona>[A-Za-z0-9]+)-(?P<type>BaseProtection|AppProtection|DataProtection|"
                    r"IdentityProtection|AttackSurfaceReduction|Compliance)-(?P<app>[^-]+)-(?P<platform>[^-]+)-"
                    r"(?P<grant>[^-]+)(-.+)?$")
PERSONA_RANGES = {"Global": (1, 99), "Internals": (100, 199), "Admins": (200, 299), "Externals": (300, 399),
                  "GuestUsers": (400, 499), "GuestAdmins": (500, 599), "M365ServiceAccounts": (600, 699),
                  "Microsoft365ServiceAccounts": (600, 699), "AzureServiceAccounts": (700, 799),
                  "CorpServiceAccounts": (800, 899), "WorkloadIdentities": (900, 999), "Developers": (1000, 1099)}


def camel(name):
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def enum_value(value):
    """Option values in snake_case become Graph's camelCase ('compliant_device' -> 'compliantDevice')."""
    if not isinstance(value, str):
        return value
    if value in SPECIAL_VALUES:
        return SPECIAL_VALUES[value]
    return camel(value) if "_" in value else value


def check_naming(name):
    """Microsoft's framework: <CANumber>-<Persona>-<PolicyType>-<App>-<Platform>-<GrantControl>[-<Description>]."""
    match = NAMING.match(name or "")
    if not match:
        raise InvalidOption("display_name", name, "does not follow <CANumber>-<Persona>-<PolicyType>-<App>-<Platform>-"
                            "<GrantControl>-<OptionalDescription> (naming_convention=microsoft)")
    persona, number = match.group("persona"), int(match.group("number"))
    if persona not in PERSONA_RANGES:
        raise InvalidOption("display_name", name, "unknown persona %r; one of %s" % (persona, ", ".join(PERSONA_RANGES)))
    low, high = PERSONA_RANGES[persona]
    if not low <= number <= high:
        raise InvalidOption("display_name", name, "persona %s uses CA%03d-CA%03d" % (persona, low, high))


def is_managed(policy):
    return (policy.get("displayName") or "").startswith(MMP_PREFIX)


class PolicyBuilder:
    """Options (snake_case, names) -> Graph JSON (camelCase, ids)."""

    def __init__(self, resolver):
        self.resolver = resolver

    def conditions(self, options):
        out = {}
        for section, value in (options or {}).items():
            if value is None:
                continue
            if section == "users":
                out["users"] = self.users(value)
            elif section in ("applications", "locations"):
                out[section] = {camel(k): self.refs((section, k), v) for k, v in value.items() if v is not None}
                if section == "applications" and "application_filter" in value and value["application_filter"]:
                    out[section]["applicationFilter"] = {camel(k): v for k, v in value["application_filter"].items()}
            elif section == "devices":
                out["devices"] = {"deviceFilter": {camel(k): v for k, v in value["device_filter"].items()}}
            elif section == "client_applications":
                out["clientApplications"] = {camel(k): v for k, v in value.items() if v is not None}
            elif section == "platforms":
                out["platforms"] = {camel(k): [enum_value(x) for x in v] for k, v in value.items() if v is not None}
            elif isinstance(value, list):
                out[camel(section)] = [enum_value(x) for x in value]
        return out

    def refs(self, path, values):
        if path in REFERENCES and isinstance(values, list):
            return self.resolver.ids(REFERENCES[path], values, "conditions.%s.%s" % path)
        if isinstance(values, list):
            return list(values)
        return values

    def users(self, options):
        out = {}
        for key, value in options.items():
            if value is None:
                continue
            if key.endswith("guests_or_external_users"):
                out[camel(key)] = self.guests(key, value)
            else:
                out[camel(key)] = self.refs(("users", key), value)
        return out

    @staticmethod
    def guests(key, value):
        types = [enum_value(t) for t in value.get("guest_or_external_user_types") or []]
        unknown = [t for t in types if t not in GUEST_TYPES]
        if unknown:
            raise InvalidOption("conditions.users.%s.guest_or_external_user_types" % key, unknown[0],
                                "one of %s" % ", ".join(GUEST_TYPES[1:-1]))
        out = {"guestOrExternalUserTypes": ",".join(t for t in GUEST_TYPES if t in types)}
        tenants = value.get("external_tenants")
        if tenants:
            if not types:
                raise InvalidOption("conditions.users.%s.external_tenants" % key, tenants,
                                    "external tenants need guest_or_external_user_types")
            kind = tenants.get("membership_kind") or ("enumerated" if tenants.get("members") else "all")
            if kind == "all":
                if tenants.get("members"):
                    raise InvalidOption("conditions.users.%s.external_tenants.members" % key, tenants["members"],
                                        "members only go with membership_kind=enumerated")
                out["externalTenants"] = {"@odata.type": "#microsoft.graph.conditionalAccessAllExternalTenants",
                                          "membershipKind": "all"}
            else:
                if not tenants.get("members"):
                    raise InvalidOption("conditions.users.%s.external_tenants.members" % key, [],
                                        "membership_kind=enumerated needs tenant ids")
                out["externalTenants"] = {"@odata.type": "#microsoft.graph.conditionalAccessEnumeratedExternalTenants",
                                          "membershipKind": "enumerated", "members": list(tenants["members"])}
        return out

    @staticmethod
    def grant(options):
        if options is None:
            return None
        out = {"operator": options.get("operator") or "OR",
               "builtInControls": [enum_value(c) for c in options.get("built_in_controls") or []]}
        if options.get("authentication_strength"):
            strength = options["authentication_strength"]
            out["authenticationStrength"] = {"id": AUTH_STRENGTHS.get(strength, strength)}
        if options.get("terms_of_use"):
            out["termsOfUse"] = list(options["terms_of_use"])
        return out

    @staticmethod
    def session(options):
        if options is None:
            return None
        out = {}
        sif = options.get("sign_in_frequency")
        if sif:
            interval = sif.get("frequency_interval") or "time_based"
            block = {"isEnabled": sif.get("is_enabled", True), "frequencyInterval": enum_value(interval)}
            if sif.get("authentication_type"):
                block["authenticationType"] = enum_value(sif["authentication_type"])
            if interval == "every_time":
                if sif.get("type") or sif.get("value"):
                    raise InvalidOption("session_controls.sign_in_frequency.type", sif.get("type") or sif.get("value"),
                                        "type and value do not apply to frequency_interval=every_time")
                block.setdefault("authenticationType", "primaryAndSecondaryAuthentication")
            else:
                if not (sif.get("type") and sif.get("value")):
                    raise InvalidOption("session_controls.sign_in_frequency", sif,
                                        "frequency_interval=time_based needs type (hours|days) and value")
                block.update(type=sif["type"], value=sif["value"])
            out["signInFrequency"] = block
        if options.get("persistent_browser"):
            out["persistentBrowser"] = {"isEnabled": True, "mode": options["persistent_browser"]}
        if options.get("application_enforced_restrictions") is not None:
            out["applicationEnforcedRestrictions"] = {"isEnabled": options["application_enforced_restrictions"]}
        if options.get("cloud_app_security"):
            out["cloudAppSecurity"] = {"isEnabled": True, "cloudAppSecurityType": enum_value(options["cloud_app_security"])}
        if options.get("disable_resilience_defaults") is not None:
            out["disableResilienceDefaults"] = options["disable_resilience_defaults"]
        if (out.get("signInFrequency") or {}).get("frequencyInterval") == "everyTime":
            for key in ("applicationEnforcedRestrictions", "disableResilienceDefaults"):
                if key in out:
                    raise InvalidOption("session_controls.%s" % ("application_enforced_restrictions"
                                                                 if key.startswith("app") else "disable_resilience_defaults"),
                                        options.get("application_enforced_restrictions", options.get("disable_resilience_defaults")),
                                        "Graph refuses it together with sign-in frequency every_time; leave it unset")
        return out or None


def check_graph_rules(policy):
    """Graph's own rules, checked before any request so the error names the option."""
    cond = policy.get("conditions") or {}
    apps = cond.get("applications") or {}
    if "includeApplications" in apps and not apps["includeApplications"] and not apps.get("includeUserActions") \
            and not apps.get("includeAuthenticationContextClassReferences"):
        raise InvalidOption("conditions.applications.include_applications", [], "Graph rejects an empty list (1011); "
                            "use [None] to target no application")
    grant = policy.get("grantControls") or {}
    if not (grant.get("builtInControls") or grant.get("authenticationStrength") or grant.get("termsOfUse")) \
            and not policy.get("sessionControls"):
        raise InvalidOption("grant_controls", grant or None, "a policy needs at least one grant or session control")
    controls = grant.get("builtInControls") or []
    if "passwordChange" in controls and not ("mfa" in controls and grant.get("operator") == "AND"
                                             and cond.get("userRiskLevels")
                                             and apps.get("includeApplications") == ["All"]):
        raise InvalidOption("grant_controls.built_in_controls", controls, "password_change needs mfa with operator AND, "
                            "user_risk_levels and include_applications [All] (Graph error 1032)")
    if "block" in controls and len(controls) > 1:
        raise InvalidOption("grant_controls.built_in_controls", controls, "block cannot be combined with other controls")


def merge_exclusions(current_users, desired_users):
    """Exclusions already on the policy stay; the task's are added."""
    merged = dict(desired_users)
    for key in EXCLUSIONS:
        have = list(current_users.get(key) or [])
        merged[key] = have + [x for x in desired_users.get(key, []) if x not in have]
    guests_now = current_users.get("excludeGuestsOrExternalUsers")
    guests_new = desired_users.get("excludeGuestsOrExternalUsers")
    if guests_now and guests_new:
        types = set((guests_now.get("guestOrExternalUserTypes") or "").split(",")) | \
            set((guests_new.get("guestOrExternalUserTypes") or "").split(","))
        merged_guests = {"guestOrExternalUserTypes": ",".join(t for t in GUEST_TYPES if t in types)}
        now_t, new_t = guests_now.get("externalTenants"), guests_new.get("externalTenants")
        if (now_t or {}).get("membershipKind") == "all" or (new_t or {}).get("membershipKind") == "all" \
                or not (now_t or new_t):
            merged_guests["externalTenants"] = now_t if (now_t or {}).get("membershipKind") == "all" else (
                new_t if (new_t or {}).get("membershipKind") == "all" else None)
            if merged_guests["externalTenants"] is None:
                merged_guests.pop("externalTenants")
        else:
            members = list((now_t or {}).get("members") or [])
            members += [m for m in (new_t or {}).get("members") or [] if m not in members]
            merged_guests["externalTenants"] = dict(now_t or new_t, members=members)
        merged["excludeGuestsOrExternalUsers"] = merged_guests
    elif guests_now:
        merged["excludeGuestsOrExternalUsers"] = guests_now
    return merged


def comparable(obj):
    """Order-insensitive, annotation-free form for comparing what the task sets with what Graph has."""
    if isinstance(obj, dict):
        return {k: comparable(v) for k, v in obj.items() if not k.endswith("@odata.context") and v not in (None, [])}
    if isinstance(obj, list):
        return sorted((comparable(v) for v in obj), key=repr)
    return obj


def subset_differs(current, desired):
    """True when a key the task sets differs from Graph's value (keys the task omits are left alone)."""
    if isinstance(desired, dict) and isinstance(current, dict):
        if "@odata.type" in desired and desired.get("@odata.type") != current.get("@odata.type"):
            return True
        return any(subset_differs(current.get(k), v) for k, v in desired.items() if k != "@odata.type")
    return comparable(current) != comparable(desired)


class Policies:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.graph = module.graph
        self.resolver = Resolver(self.graph, module.check_mode)
        self.builder = PolicyBuilder(self.resolver)
        self.warnings = self.resolver.warnings

    # -- lookup
    def find(self):
        p = self.params
        if p.get("id"):
            try:
                return self.graph.get("%s/%s" % (POLICIES, p["id"]))
            except GraphError as exc:
                if exc.status == 404:
                    return None
                raise
        query = {"$filter": "displayName eq %s" % odata_quote(p["display_name"])}
        matches = [m for m in self.graph.list(POLICIES, params=query) if m.get("displayName") == p["display_name"]]
        if len(matches) > 1:
            raise InvalidOption("display_name", p["display_name"], "%d policies have this name (ids: %s); pass id"
                                % (len(matches), ", ".join(m["id"] for m in matches)))
        return matches[0] if matches else None

    # -- desired
    def desired(self):
        p = self.params
        body = {}
        if p.get("display_name"):
            body["displayName"] = p["display_name"]
        if p.get("description") is not None:
            body["description"] = p["description"]
        if p.get("policy_state"):
            body["state"] = STATES[p["policy_state"]]
        if p.get("conditions") is not None:
            body["conditions"] = self.builder.conditions(p["conditions"])
        if p.get("grant_controls") is not None:
            body["grantControls"] = self.builder.grant(p["grant_controls"])
        if p.get("session_controls") is not None:
            body["sessionControls"] = self.builder.session(p["session_controls"])
        return body

    def ensure(self):
        p = self.params
        if p.get("naming_convention") == "microsoft" and p.get("display_name"):
            check_naming(p["display_name"])
        current = self.find()
        if p["state"] == "absent":
            if current is None:
                return self.result(False, None, None)
            if is_managed(current):
                raise InvalidOption("state", "absent", "Microsoft-managed policies cannot be deleted; set "
                                    "policy_state=disabled (or clone it first)")
            self.module.write("DELETE", "%s/%s" % (POLICIES, current["id"]))
            return self.result(True, current, None)
        desired = self.desired()
        if current is None:
            return self.create(desired)
        return self.update(current, desired)

    def create(self, desired):
        if not self.params.get("display_name"):
            raise InvalidOption("id", self.params.get("id"), "no policy has this id; give display_name to create one")
        body = dict(desired)
        body.setdefault("state", STATES["report_only"])
        if "conditions" not in body or "users" not in body["conditions"] or "applications" not in body["conditions"]:
            raise InvalidOption("conditions", self.params.get("conditions"), "a new policy needs conditions.users and "
                                "conditions.applications")
        body["conditions"].setdefault("clientAppTypes", ["all"])
        check_graph_rules(body)
        self.lockout_guard(body)
        created = self.send("POST", POLICIES, body)
        return self.result(True, None, created or dict(body, id=None))

    def update(self, current, desired):
        after = copy.deepcopy(current)
        for key in ("displayName", "description", "state"):
            if key in desired:
                after[key] = desired[key]
        if "conditions" in desired:
            cond = after.setdefault("conditions", {}) or {}
            after["conditions"] = cond
            for section, value in desired["conditions"].items():
                if section == "users":
                    users = dict(cond.get("users") or {})
                    new = merge_exclusions(users, value) if not self.params.get("purge_exclusions") else value
                    users.update(new)
                    cond["users"] = users
                elif isinstance(value, dict) and isinstance(cond.get(section), dict):
                    cond[section] = dict(cond[section], **value)
                else:
                    cond[section] = value
        for key in ("grantControls", "sessionControls"):
            if key in desired:
                after[key] = desired[key]
        changed_keys = [k for k in ("displayName", "description", "state", "conditions", "grantControls", "sessionControls")
                        if k in desired and subset_differs(current.get(k), after.get(k))]
        if not changed_keys:
            return self.result(False, current, current)
        if is_managed(current):
            self.managed_guard(current, after, changed_keys)
        check_graph_rules(after)
        self.lockout_guard(after)
        patch = {k: after[k] for k in changed_keys}
        if "conditions" in patch:
            # collections are replaced whole: always send the complete users object
            patch["conditions"] = {k: v for k, v in after["conditions"].items()
                                   if k == "users" or subset_differs((current.get("conditions") or {}).get(k), v)}
        self.send("PATCH", "%s/%s" % (POLICIES, current["id"]), patch)
        return self.result(True, current, after)

    def send(self, method, path, body):
        """Write through the module; v1.0 refuses some every-time sign-in frequency bodies (1038): use beta then."""
        try:
            return self.module.write(method, path, body, lag_retries=self.graph.lag_retries)
        except GraphError as exc:
            if exc.service_code != 1038:
                raise
            self.warnings.append("Graph v1.0 refused the policy as a preview feature (1038); it was written through /beta")
            return self.module.write(method, path, body, version="beta", lag_retries=self.graph.lag_retries)

    def managed_guard(self, current, after, changed_keys):
        allowed = {"state"}
        before_cond = copy.deepcopy(current.get("conditions") or {})
        after_cond = copy.deepcopy(after.get("conditions") or {})
        for cond in (before_cond, after_cond):
            for key in EXCLUSIONS + ("excludeGuestsOrExternalUsers",):
                (cond.get("users") or {}).pop(key, None)
        if comparable(before_cond) == comparable(after_cond):
            allowed.add("conditions")
        refused = [k for k in changed_keys if k not in allowed]
        if refused:
            raise InvalidOption("display_name", current.get("displayName"), "is a Microsoft-managed policy: only its state "
                                "and exclusions can change (refused: %s). Clone it under a new name, change the clone, "
                                "and disable the original" % ", ".join(refused))

    def lockout_guard(self, policy):
        """Enabling a block, or an All users + All apps policy, must leave every break-glass account excluded."""
        if policy.get("state") != "enabled" or self.params.get("allow_lockout_risk"):
            return
        cond = policy.get("conditions") or {}
        users = cond.get("users") or {}
        blocks = "block" in ((policy.get("grantControls") or {}).get("builtInControls") or [])
        everyone = "All" in (users.get("includeUsers") or []) and \
            "All" in ((cond.get("applications") or {}).get("includeApplications") or [])
        if not (blocks or everyone):
            return
        accounts = self.params.get("break_glass_accounts") or []
        if not accounts:
            raise InvalidOption("break_glass_accounts", accounts, "enabling a blocking or All users/All apps policy "
                                "needs the break-glass accounts to check they are excluded (or allow_lockout_risk=true)")
        ids = self.resolver.ids("user", accounts, "break_glass_accounts")
        missing = [a for a, i in zip(accounts, ids) if i not in (users.get("excludeUsers") or [])]
        if missing:
            raise InvalidOption("break_glass_accounts", missing, "not excluded from policy %r, which would lock them out "
                                "once enabled; add them to conditions.users.exclude_users or set allow_lockout_risk=true"
                                % policy.get("displayName"))

    # -- result and diff
    def readable(self, policy):
        """The policy with ids replaced by names, for the diff."""
        if not policy:
            return {}
        out = {"display_name": policy.get("displayName"), "state": STATE_NAMES.get(policy.get("state"), policy.get("state"))}
        cond = policy.get("conditions") or {}
        for (section, key), kind in REFERENCES.items():
            values = (cond.get(section) or {}).get(camel(key))
            if values:
                out.setdefault(section, {})[key] = sorted(self.resolver.name(kind, v) for v in values)
        for side in ("include", "exclude"):
            guests = (cond.get("users") or {}).get(side + "GuestsOrExternalUsers")
            if guests:
                tenants = guests.get("externalTenants") or {}
                out.setdefault("users", {})[side + "_guests_or_external_users"] = {
                    "guest_or_external_user_types": guests.get("guestOrExternalUserTypes", "").split(","),
                    "external_tenants": tenants.get("members") or tenants.get("membershipKind")}
        for key in ("clientAppTypes", "userRiskLevels", "signInRiskLevels", "platforms", "devices"):
            if cond.get(key):
                out[key] = cond[key]
        if policy.get("grantControls"):
            out["grant_controls"] = {k: v for k, v in policy["grantControls"].items()
                                     if v not in (None, []) and not k.endswith("@odata.context")}
        if policy.get("sessionControls"):
            out["session_controls"] = policy["sessionControls"]
        return out

    def result(self, changed, before, after):
        result = {"changed": changed, "policy": after or {}}
        if self.module._diff:
            name = (after or before or {}).get("displayName")
            result["diff"] = make_diff(self.readable(before), self.readable(after),
                                       "policy %r (Graph)" % name, "policy %r (task)" % name)
        if self.warnings:
            result["warnings"] = list(self.warnings)
        return result


def list_policies(module, display_name=None, policy_id=None, states=None):
    """For ca_policy_info: policies with references resolved to names (an export ca_policy can re-apply)."""
    graph = module.graph
    if policy_id:
        policies = [graph.get("%s/%s" % (POLICIES, policy_id))]
    elif display_name:
        policies = graph.list(POLICIES, params={"$filter": "displayName eq %s" % odata_quote(display_name)})
    else:
        policies = graph.list(POLICIES)
    if states:
        policies = [p for p in policies if STATE_NAMES.get(p.get("state")) in states]
    helper = Policies.__new__(Policies)
    helper.resolver = Resolver(graph)
    return [dict(helper.readable(p), id=p["id"], graph=p) for p in policies]
