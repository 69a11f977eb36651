# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Conditional Access policies (Parts A and B, and any policy of Microsoft's framework).

PRIVATE to the msp.conditional_access collection: the API may change without notice.

One table, ``TREE``, describes the option tree: Graph's ``conditionalAccessPolicy`` in snake_case. From it
come the argument spec (``ARGUMENT_SPEC``), the mapping to Graph JSON (``PolicyBuilder``: names resolved to
ids, enums to camelCase, flags enums to one comma-separated string; plain dicts, because the SDK models
drop multi-value flags) and the way back (``to_options``: Graph JSON to options with names, used for the
diff and for ``ca_policy_info`` exports that ``ca_policy`` re-applies).

Update semantics (documented in the module):

* options the task omits keep Graph's value; a condition given with no values (``locations: {}``) clears it;
* ``exclude_*`` lists and ``exclude_guests_or_external_users`` are merged into what the policy already
  excludes; ``purge_exclusions: true`` makes the exclusions of every section the task gives exactly the
  task's;
* ``grant_controls`` and ``session_controls`` are each replaced as a whole when given;
* the PATCH carries only the changed top-level properties, and always the complete ``users`` object
  (Graph replaces collections whole).
"""

from __future__ import annotations

import copy
import re

from ._ca import (STATE_NAMES, STATES, comparable, is_guid, is_managed, lockout_reason, merge_guests, parse_flags,
                  reach)
from ._diff import make_diff
from ._module import InvalidOption
from ._naming import check_policy as check_naming_convention
from ._naming import parse_name
from ._objects import policies
from ._resolve import AUTH_STRENGTHS, Resolver

AUTH_STRENGTH_NAMES = {v: k for k, v in AUTH_STRENGTHS.items()}
# snake_case values whose Graph spelling is not plain camelCase
ENUM_EXCEPTIONS = {"ios": "iOS", "macos": "macOS"}
USER_EXCLUSIONS = ("excludeUsers", "excludeGroups", "excludeRoles", "excludeGuestsOrExternalUsers")

GUEST_TYPES = ["internal_guest", "b2b_collaboration_guest", "b2b_collaboration_member", "b2b_direct_connect_user",
               "other_external_user", "service_provider"]
RISK_LEVELS = ["low", "medium", "high", "hidden", "none"]
PLATFORMS = ["android", "ios", "windows", "windows_phone", "macos", "linux", "all"]
BUILT_IN_CONTROLS = ["block", "mfa", "compliant_device", "domain_joined_device", "approved_application",
                     "compliant_application", "password_change", "risk_remediation"]
CLIENT_APP_TYPES = ["all", "browser", "mobile_apps_and_desktop_clients", "exchange_active_sync", "eas_supported", "other"]
USER_ACTIONS = ["urn:user:registersecurityinfo", "urn:user:registerdevice"]


def refs(kind):
    return ("refs", kind)


def enums(choices):
    return ("enums", choices)


def enum(choices):
    return ("enum", choices)


BOOL, INT, STR, STRS = ("bool",), ("int",), ("str",), ("strs",)
FILTER = {"mode": enum(["include", "exclude"]), "rule": STR}
GUESTS = {"guest_or_external_user_types": ("flags", GUEST_TYPES),
          "external_tenants": {"membership_kind": enum(["all", "enumerated"]), "members": STRS}}
CONDITIONS = {
    "users": {"include_users": refs("user"), "exclude_users": refs("user"),
              "include_groups": refs("group"), "exclude_groups": refs("group"),
              "include_roles": refs("role"), "exclude_roles": refs("role"),
              "include_guests_or_external_users": GUESTS, "exclude_guests_or_external_users": GUESTS},
    "applications": {"include_applications": refs("application"), "exclude_applications": refs("application"),
                     "include_user_actions": enums(USER_ACTIONS),
                     "include_authentication_context_class_references": refs("authentication_context"),
                     "application_filter": FILTER},
    "client_app_types": enums(CLIENT_APP_TYPES),
    "locations": {"include_locations": refs("location"), "exclude_locations": refs("location")},
    "platforms": {"include_platforms": enums(PLATFORMS), "exclude_platforms": enums(PLATFORMS)},
    "user_risk_levels": enums(RISK_LEVELS),
    "sign_in_risk_levels": enums(RISK_LEVELS),
    "service_principal_risk_levels": enums(["low", "medium", "high", "none"]),
    "insider_risk_levels": ("flags", ["minor", "moderate", "elevated"]),
    "devices": {"device_filter": FILTER},
    "client_applications": {"include_service_principals": refs("service_principal"),
                            "exclude_service_principals": refs("service_principal"),
                            "service_principal_filter": FILTER},
    "authentication_flows": {"transfer_methods": ("flags", ["device_code_flow", "authentication_transfer"])},
}
GRANT = {"operator": enum(["AND", "OR"]), "built_in_controls": enums(BUILT_IN_CONTROLS),
         "authentication_strength": ("strength",), "terms_of_use": refs("terms_of_use"), "custom_authentication_factors": STRS}
SESSION = {
    "sign_in_frequency": {"is_enabled": BOOL, "frequency_interval": enum(["time_based", "every_time"]),
                          "type": enum(["hours", "days"]), "value": INT,
                          "authentication_type": enum(["primary_and_secondary_authentication",
                                                       "secondary_authentication"])},
    "persistent_browser": {"is_enabled": BOOL, "mode": enum(["always", "never"])},
    "application_enforced_restrictions": {"is_enabled": BOOL},
    "cloud_app_security": {"is_enabled": BOOL,
                           "cloud_app_security_type": enum(["mcas_configured", "monitor_only", "block_downloads"])},
    "disable_resilience_defaults": BOOL,
    "secure_sign_in_session": {"is_enabled": BOOL},
}
TREE = {"conditions": CONDITIONS, "grant_controls": GRANT, "session_controls": SESSION}
# Conditions Graph holds as null when unset: given with no values, they are cleared.
NULLABLE = {"locations", "platforms", "devices", "client_applications", "authentication_flows", "application_filter",
            "include_guests_or_external_users", "exclude_guests_or_external_users", "insider_risk_levels"}


def _spec(tree):
    spec = {}
    for key, leaf in tree.items():
        if isinstance(leaf, dict):
            spec[key] = dict(type="dict", options=_spec(leaf))
        elif leaf[0] in ("refs", "strs"):
            spec[key] = dict(type="list", elements="str")
        elif leaf[0] in ("enums", "flags"):
            spec[key] = dict(type="list", elements="str", choices=list(leaf[1]))
        elif leaf[0] == "enum":
            spec[key] = dict(type="str", choices=list(leaf[1]))
        elif leaf[0] in ("bool", "int"):
            spec[key] = dict(type=leaf[0])
        else:
            spec[key] = dict(type="str")
    return spec


ARGUMENT_SPEC = dict(
    display_name=dict(type="str"),
    id=dict(type="str"),
    description=dict(type="str"),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    policy_state=dict(type="str", choices=list(STATES)),
    allow_demotion=dict(type="bool", default=True),
    purge_exclusions=dict(type="bool", default=False),
    break_glass_accounts=dict(type="list", elements="str", default=[]),
    allow_lockout_risk=dict(type="bool", default=False),
    naming_convention=dict(type="str", default="none", choices=["none", "microsoft"]),
    **_spec(TREE)
)


# -- names and values ----------------------------------------------------------------------------
def camel(name):
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def snake(name):
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def enum_value(value):
    """Option value -> Graph value ('compliant_device' -> 'compliantDevice', 'ios' -> 'iOS')."""
    if not isinstance(value, str):
        return value
    return ENUM_EXCEPTIONS.get(value, camel(value) if "_" in value else value)


def option_value(value, choices):
    """Graph value -> option value; a value the collection does not know is kept as Graph has it."""
    for choice in choices:
        if enum_value(choice) == value or choice == value:
            return choice
    return value


def flags_csv(values, choices):
    return ",".join(enum_value(c) for c in choices if c in values)


# -- options -> Graph ------------------------------------------------------------------------------
class PolicyBuilder:
    """Options (snake_case, names) -> Graph JSON (camelCase, ids). ``None`` means: clear it."""

    def __init__(self, resolver):
        self.resolver = resolver

    def build(self, tree, options, path):
        out = {}
        for key, leaf in tree.items():
            value = options.get(key)
            if value is None:
                continue
            option = "%s.%s" % (path, key) if path else key
            if isinstance(leaf, dict):
                given = {k: v for k, v in value.items() if v is not None}
                if not given and key in NULLABLE:
                    out[camel(key)] = None
                    continue
                built = self.build(leaf, value, option)
                hook = getattr(self, "_" + key, None)
                out[camel(key)] = hook(built, value, option) if hook else built
            elif leaf[0] == "refs":
                out[camel(key)] = self.resolver.ids(leaf[1], value, option)
            elif leaf[0] == "enums":
                out[camel(key)] = [enum_value(v) for v in value]
            elif leaf[0] == "flags":
                out[camel(key)] = flags_csv(value, leaf[1]) if value else None
            elif leaf[0] == "enum":
                out[camel(key)] = enum_value(value)
            elif leaf[0] == "strength":
                out[camel(key)] = {"id": self.resolver.resolve("authentication_strength", value, option)}
            else:
                out[camel(key)] = value
        return out

    def conditions(self, options):
        return self.build(CONDITIONS, options or {}, "conditions")

    def grant(self, options):
        built = self.build(GRANT, options, "grant_controls")
        if not built:
            return None
        built.setdefault("operator", "OR")
        return built

    def session(self, options):
        return self.build(SESSION, options, "session_controls") or None

    # hooks: the parts of Graph's shape the table cannot say
    @staticmethod
    def _external_tenants(built, value, option):
        members = built.get("members") or []
        kind = built.get("membershipKind") or ("enumerated" if members else "all")
        if kind == "all":
            if members:
                raise InvalidOption(option + ".members", members, "members only go with membership_kind=enumerated")
            return {"@odata.type": "#microsoft.graph.conditionalAccessAllExternalTenants", "membershipKind": "all"}
        if not members:
            raise InvalidOption(option + ".members", members, "membership_kind=enumerated needs tenant ids")
        for member in members:
            if not is_guid(member):
                raise InvalidOption(option + ".members", member, "must be a tenant id (a GUID), not a name or domain")
        return {"@odata.type": "#microsoft.graph.conditionalAccessEnumeratedExternalTenants",
                "membershipKind": "enumerated", "members": list(members)}

    @staticmethod
    def _guests(built, value, option):
        if built.get("externalTenants") and not built.get("guestOrExternalUserTypes"):
            raise InvalidOption(option + ".external_tenants", value.get("external_tenants"),
                                "external tenants need guest_or_external_user_types")
        if not built.get("guestOrExternalUserTypes"):
            raise InvalidOption(option + ".guest_or_external_user_types", value.get("guest_or_external_user_types"),
                                "name at least one guest or external user type")
        return built

    _include_guests_or_external_users = _guests
    _exclude_guests_or_external_users = _guests

    @staticmethod
    def _sign_in_frequency(built, value, option):
        built.setdefault("isEnabled", True)
        if built.get("frequencyInterval") == "everyTime":
            built.setdefault("authenticationType", "primaryAndSecondaryAuthentication")
        else:
            built.setdefault("frequencyInterval", "timeBased")
        return built

    @staticmethod
    def _enabled(built, value, option):
        built.setdefault("isEnabled", True)
        return built

    _persistent_browser = _enabled
    _application_enforced_restrictions = _enabled
    _cloud_app_security = _enabled
    _secure_sign_in_session = _enabled


# -- Graph -> options (names) ----------------------------------------------------------------------
def to_options(tree, graph, resolver):
    """Graph JSON -> the option tree with names: what a task would say to get this policy."""
    out = {}
    for key, leaf in tree.items():
        value = (graph or {}).get(camel(key))
        if value in (None, [], "", {}):
            continue
        if isinstance(leaf, dict):
            nested = to_options(leaf, value, resolver)
            if nested:
                out[key] = nested
        elif leaf[0] == "refs":
            out[key] = [resolver.name(leaf[1], v) for v in value]
        elif leaf[0] == "enums":
            out[key] = [option_value(v, leaf[1]) for v in value]
        elif leaf[0] == "flags":
            order = ["none"] + [enum_value(c) for c in leaf[1]]
            out[key] = [option_value(v, leaf[1]) for v in parse_flags(value, order) if v != "none"]
        elif leaf[0] == "enum":
            out[key] = option_value(value, leaf[1])
        elif leaf[0] == "strength":
            if value.get("id"):
                out[key] = AUTH_STRENGTH_NAMES.get(value["id"]) or resolver.name("authentication_strength", value["id"])
        else:
            out[key] = value
    return out


def policy_options(policy, resolver):
    """A whole policy as ca_policy options (names, snake_case): the diff's shape and the export format."""
    if not policy:
        return {}
    out = {"display_name": policy.get("displayName"),
           "policy_state": STATE_NAMES.get(policy.get("state"), policy.get("state"))}
    if policy.get("description"):
        out["description"] = policy["description"]
    for key in ("conditions", "grant_controls", "session_controls"):
        value = to_options(TREE[key], policy.get(camel(key)), resolver)
        if value:
            out[key] = value
    return out


# -- comparison and merging ------------------------------------------------------------------------
def merge_list(have, add):
    have = list(have or [])
    return have + [x for x in add or [] if x not in have]


def merge_section(current, desired, purge, known_keys, notes=None):
    """One condition section: keys the task sets replace Graph's, exclusions are added (or purged)."""
    merged = dict(current or {})
    for key, value in desired.items():
        if not key.startswith("exclude") or purge:
            merged[key] = value
        elif key.endswith("GuestsOrExternalUsers"):
            merged[key], widened = merge_guests(merged.get(key), value)
            (notes if notes is not None else []).extend(widened)
        else:
            merged[key] = merge_list(merged.get(key), value)
    if purge:
        for key in known_keys:
            if key.startswith("exclude") and key not in desired:
                merged[key] = None if key.endswith("GuestsOrExternalUsers") else []
    return merged


def merge_policy(current, desired, purge=False, notes=None):
    """The policy as it will be once the task's values are applied to Graph's (``notes``: what a merge widened)."""
    after = copy.deepcopy(current)
    for key in ("displayName", "description", "state"):
        if key in desired:
            after[key] = desired[key]
    if "conditions" in desired:
        cond = dict(after.get("conditions") or {})
        for section, value in desired["conditions"].items():
            tree = CONDITIONS.get(snake(section))
            if isinstance(value, dict) and isinstance(tree, dict):
                cond[section] = merge_section(cond.get(section), value, purge, [camel(k) for k in tree], notes)
            else:
                cond[section] = value
        after["conditions"] = cond
    if "grantControls" in desired:
        grant = desired["grantControls"]
        if grant is not None and (current.get("grantControls") or {}).get("customAuthenticationFactors") \
                and "customAuthenticationFactors" not in grant:
            grant = dict(grant, customAuthenticationFactors=current["grantControls"]["customAuthenticationFactors"])
        after["grantControls"] = grant
    if "sessionControls" in desired:
        after["sessionControls"] = desired["sessionControls"]
    return after


def writable(current, after):
    """What to send for one property so that Graph ends up with ``after`` (PATCH merges objects)."""
    if isinstance(after, dict):
        out = {}
        for key, value in after.items():
            if key.endswith("@odata.context"):
                continue
            if key == "authenticationStrength" and isinstance(value, dict):
                out[key] = {"id": value.get("id")}
                continue
            was = (current or {}).get(key) if isinstance(current, dict) else None
            if value is None:
                if was is not None:
                    out[key] = None  # null clears
                continue
            out[key] = writable(was, value)
        if isinstance(current, dict):
            for key, was in current.items():
                if key not in after and was is not None and not key.startswith("@odata") \
                        and not key.endswith("@odata.context") and not isinstance(was, list):
                    out[key] = None  # a whole-object property the task no longer sets
        return out
    return copy.deepcopy(after)


def without_nulls(obj):
    """A new policy's body: nothing to clear, so no nulls."""
    if isinstance(obj, dict):
        return {k: without_nulls(v) for k, v in obj.items() if v is not None}
    return obj


# -- Graph's rules ----------------------------------------------------------------------------------
def check_graph_rules(policy):
    """Graph's own rules, checked before any request so the error names the option."""
    cond = policy.get("conditions") or {}
    users = cond.get("users") or {}
    apps = cond.get("applications") or {}
    if not (users.get("includeUsers") or users.get("includeGroups") or users.get("includeRoles")
            or users.get("includeGuestsOrExternalUsers") or cond.get("clientApplications")):
        raise InvalidOption("conditions.users", None, "include at least one of include_users (None is allowed), "
                            "include_groups, include_roles or include_guests_or_external_users")
    targets = [k for k in ("includeApplications", "includeUserActions", "includeAuthenticationContextClassReferences")
               if apps.get(k)]
    if not targets:
        raise InvalidOption("conditions.applications.include_applications", apps.get("includeApplications", []),
                            "Graph rejects a policy without applications (1011); use [None] to target no "
                            "application, or include_user_actions / include_authentication_context_class_references")
    if len(targets) > 1:
        raise InvalidOption("conditions.applications", [snake(t) for t in targets],
                            "include_applications, include_user_actions and authentication contexts exclude each other")
    grant = policy.get("grantControls") or {}
    session = policy.get("sessionControls") or {}
    controls = grant.get("builtInControls") or []
    if not (controls or grant.get("authenticationStrength") or grant.get("termsOfUse")
            or grant.get("customAuthenticationFactors")) and not _effective_session(session):
        raise InvalidOption("grant_controls", None, "a policy needs at least one grant control or session control")
    if grant and grant.get("operator") not in ("AND", "OR"):
        raise InvalidOption("grant_controls.operator", grant.get("operator"), "AND or OR")
    if "block" in controls and (len(controls) > 1 or grant.get("authenticationStrength") or grant.get("termsOfUse")):
        raise InvalidOption("grant_controls.built_in_controls", [snake(c) for c in controls],
                            "block cannot be combined with other grant controls")
    if "passwordChange" in controls and not ("mfa" in controls and grant.get("operator") == "AND"
                                             and cond.get("userRiskLevels")
                                             and apps.get("includeApplications") == ["All"]):
        raise InvalidOption("grant_controls.built_in_controls", [snake(c) for c in controls],
                            "password_change needs mfa with operator AND, conditions.user_risk_levels and "
                            "include_applications [All] (Graph error 1032)")
    check_session_rules(session)
    for side in ("include", "exclude"):
        guests = users.get(side + "GuestsOrExternalUsers")
        option = "conditions.users.%s_guests_or_external_users" % side
        if guests:
            tenants = guests.get("externalTenants") or {}
            if tenants and not [t for t in parse_flags(guests.get("guestOrExternalUserTypes")) if t != "none"]:
                raise InvalidOption(option + ".external_tenants", tenants.get("members") or tenants.get("membershipKind"),
                                    "external tenants need guest_or_external_user_types")
            if tenants.get("membershipKind") == "all" and tenants.get("members"):
                raise InvalidOption(option + ".external_tenants.members", tenants["members"],
                                    "members only go with membership_kind=enumerated")
            if tenants.get("membershipKind") == "enumerated" and not tenants.get("members"):
                raise InvalidOption(option + ".external_tenants.members", [], "membership_kind=enumerated needs tenant ids")


def _effective_session(session):
    return any([(session.get("applicationEnforcedRestrictions") or {}).get("isEnabled"),
                (session.get("cloudAppSecurity") or {}).get("isEnabled"),
                (session.get("persistentBrowser") or {}).get("isEnabled"),
                (session.get("signInFrequency") or {}).get("isEnabled"),
                session.get("disableResilienceDefaults"),
                (session.get("secureSignInSession") or {}).get("isEnabled")])


def check_session_rules(session):
    sif = session.get("signInFrequency") or {}
    base = "session_controls.sign_in_frequency"
    if sif.get("frequencyInterval") == "everyTime":
        for key in ("type", "value"):
            if sif.get(key) is not None:
                raise InvalidOption("%s.%s" % (base, key), sif[key], "does not apply to frequency_interval=every_time")
        for key in ("applicationEnforcedRestrictions", "disableResilienceDefaults"):
            if session.get(key) is not None:
                raise InvalidOption("session_controls." + snake(key), session[key], "Graph refuses it together with "
                                    "sign_in_frequency.frequency_interval=every_time; leave it unset")
    elif sif.get("isEnabled"):
        if sif.get("type") is None or sif.get("value") is None:
            raise InvalidOption(base, to_options(SESSION["sign_in_frequency"], sif, None),
                                "frequency_interval=time_based needs type (hours or days) and value")
        limit = 23 if sif["type"] == "hours" else 365
        if not 1 <= int(sif["value"]) <= limit:
            raise InvalidOption(base + ".value", sif["value"], "between 1 and %d %s" % (limit, sif["type"]))
    browser = session.get("persistentBrowser") or {}
    if browser.get("isEnabled") and browser.get("mode") not in ("always", "never"):
        raise InvalidOption("session_controls.persistent_browser.mode", browser.get("mode"), "always or never")


# -- the module's work ----------------------------------------------------------------------------------
class Policies:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.graph = module.graph
        self.resolver = Resolver(self.graph, module.check_mode)
        self.builder = PolicyBuilder(self.resolver)
        self.warnings = self.resolver.warnings
        self.endpoint = policies(module)
        self.demotion = None

    def find(self):
        """By id, else by display name. An id that does not exist while the name does is an error, not a
        second policy of that name."""
        p = self.params
        found = self.endpoint.find(p.get("id"), p.get("display_name"))
        if found is None and p.get("id") and p.get("display_name"):
            named = self.endpoint.named(p["display_name"])
            if named is not None:
                raise InvalidOption("id", p["id"], "no policy has this id, but policy %r has id %s; correct id or "
                                    "leave it out" % (named.get("displayName"), named.get("id")))
        return found

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
        if p.get("naming_convention") == "microsoft" and p.get("display_name") \
                and not is_managed({"displayName": p["display_name"]}):
            parse_name(p["display_name"])  # fail before any request
        current = self.find()
        apps = ((current or {}).get("conditions") or {}).get("applications") or {}
        # non-GUID application values Graph returned (keywords newer than this collection): kept as they are
        self.resolver.keywords = {str(a) for key in ("includeApplications", "excludeApplications")
                                  for a in apps.get(key) or [] if not is_guid(a)}
        if p["state"] == "absent":
            if current is None:
                return self.result(False, None, None)
            if is_managed(current):
                raise InvalidOption("state", "absent", "%r is a Microsoft-managed policy, which cannot be deleted; set "
                                    "policy_state=disabled (clone it first to keep its protection)"
                                    % current.get("displayName"))
            self.endpoint.delete(current)
            return self.result(True, current, None)
        desired = self.desired()
        if current is None:
            return self.create(desired)
        return self.update(current, desired)

    def create(self, desired):
        if not self.params.get("display_name"):
            raise InvalidOption("id", self.params.get("id"), "no policy has this id; give display_name to create one")
        body = without_nulls(desired)
        body.setdefault("state", STATES["report_only"])
        cond = body.get("conditions") or {}
        if "users" not in cond or "applications" not in cond:
            raise InvalidOption("conditions", self.params.get("conditions"), "a new policy needs conditions.users and "
                                "conditions.applications")
        cond.setdefault("clientAppTypes", ["all"])
        self.check(body)
        return self.result(True, None, self.endpoint.create(body))

    def hold_demotion(self, current, desired):
        """An enabled policy that policy_state would take back: demote it (allow_demotion) or keep it on, and say so."""
        wanted = desired.get("state")
        if current.get("state") != "enabled" or wanted in (None, "enabled"):
            return desired
        name, target = current.get("displayName"), STATE_NAMES.get(wanted, wanted)
        applied = bool(self.params.get("allow_demotion", True))
        self.demotion = {"from": "enabled", "to": target, "applied": applied}
        if applied:
            self.warnings.append("policy %r is enabled and policy_state=%s demotes it" % (name, target))
            return desired
        # kept on: nothing changes, so no warning that would repeat on every run; RV(demotion) records it
        return {k: v for k, v in desired.items() if k != "state"}

    def update(self, current, desired):
        desired = self.hold_demotion(current, desired)
        after, changed = self.plan_update(current, desired)
        # the naming framework applies to the policy as it stands, also when the task changes nothing
        self.check_naming(after)
        if not changed:
            return self.result(False, current, current)

        def build(now):
            """The PATCH for the policy as Graph holds it now: re-planned (and re-checked) on a fresh read."""
            plan = (after, changed) if now is current else self.plan_update(now, desired)
            if not plan[1]:
                return None
            if now is not current:
                self.check_naming(plan[0])
            self.warnings.extend(n for n in self.merge_notes if n not in self.warnings)
            self.check(plan[0], now, naming=False)
            return self.patch_body(now, *plan)
        before, final = self.endpoint.update(current, build)
        return self.result(final is not before, before, final)

    def plan_update(self, current, desired):
        """(the policy as it will be, the top-level properties that change), guards of managed policies applied."""
        self.merge_notes = []
        after = merge_policy(current, desired, self.params.get("purge_exclusions"), self.merge_notes)
        changed = [k for k in ("displayName", "description", "state", "conditions", "grantControls", "sessionControls")
                   if k in desired and comparable(current.get(k), k) != comparable(after.get(k), k)]
        if changed and is_managed(current):
            self.managed_guard(current, after)
        return after, changed

    @staticmethod
    def patch_body(current, after, changed):
        """Only the properties that change; collections are replaced whole, so the users object goes complete."""
        patch = {}
        for key in changed:
            if key == "conditions":
                now = current.get("conditions") or {}
                sections = {k: v for k, v in after["conditions"].items()
                            if k == "users" or comparable(now.get(k), k) != comparable(v, k)}
                patch[key] = {k: (writable(now.get(k), v) if v is not None else None) for k, v in sections.items()}
            elif isinstance(after.get(key), dict):
                patch[key] = writable(current.get(key), after[key])
            else:
                patch[key] = after.get(key)
        return patch

    def check(self, policy, current=None, naming=True):
        """Everything that must hold before a write: Graph's rules, the naming framework, the lockout guard."""
        check_graph_rules(policy)
        if naming:
            self.check_naming(policy)
        self.lockout_guard(policy, current)

    def check_naming(self, policy):
        """naming_convention=microsoft: the display name follows the framework and describes ``policy``."""
        # Microsoft names its managed policies itself: the framework applies to the MSP's own policies
        if self.params.get("naming_convention") == "microsoft" and not is_managed(policy):
            check_naming_convention(policy.get("displayName"), policy)

    @staticmethod
    def managed_guard(current, after):
        """Microsoft-managed policies: only the state and the user exclusions may change."""
        def frozen(policy):
            policy = copy.deepcopy(policy)
            policy.pop("state", None)
            users = (policy.get("conditions") or {}).get("users") or {}
            for key in USER_EXCLUSIONS:
                users.pop(key, None)
            return comparable(policy)
        if frozen(current) != frozen(after):
            before, then = frozen(current), frozen(after)
            refused = sorted(k for k in set(before) | set(then) if before.get(k) != then.get(k))
            raise InvalidOption("display_name", current.get("displayName"), "is a Microsoft-managed policy: only its state "
                                "and user exclusions can change (refused: %s). Clone it under a new name, change the "
                                "clone, and disable the original" % ", ".join(refused))

    def lockout_guard(self, policy, current=None):
        """Every write that leaves a policy enabled: a grant an emergency account cannot satisfy (``lockout_reason``)
        needs every break-glass account excluded; without the accounts, such a policy reaching All users or admin
        roles is refused. ``allow_lockout_risk`` overrides both."""
        if policy.get("state") != "enabled" or self.params.get("allow_lockout_risk"):
            return
        why = lockout_reason(policy)
        if not why:
            return
        users = (policy.get("conditions") or {}).get("users") or {}
        accounts = self.params.get("break_glass_accounts") or []
        name = policy.get("displayName")
        if not accounts:
            wide = reach(users)
            if wide in ("All users", "admin roles"):
                raise InvalidOption("break_glass_accounts", accounts, "policy %r would be enabled and %s for %s; "
                                    "give break_glass_accounts so the module can check they are excluded, or set "
                                    "allow_lockout_risk=true" % (name, why, wide))
            return
        ids = self.resolver.ids("user", accounts, "break_glass_accounts")
        if not reach(users, ids):
            return
        excluded = [str(u).lower() for u in users.get("excludeUsers") or []]
        missing = [a for a, i in zip(accounts, ids) if str(i).lower() not in excluded]
        if missing:
            raise InvalidOption("break_glass_accounts", missing, "not excluded from policy %r, which would be enabled "
                                "and %s; add them to conditions.users.exclude_users or set allow_lockout_risk=true"
                                % (name, why))

    def result(self, changed, before, after):
        result = {"changed": changed, "policy": after or {}}
        name = (after or before or {}).get("displayName")
        if self.demotion:
            result["demotion"] = self.demotion
        if self.module._diff:
            result["diff"] = make_diff(policy_options(before, self.resolver), policy_options(after, self.resolver),
                                       "policy %r (Graph)" % name, "policy %r (task)" % name)
        # warnings go through module.warn (a 'warnings' key in the result is deprecated), name their tenant and
        # policy, and only come with a change (or a held demotion): a run that changes nothing does not repeat them
        if changed or self.demotion:
            for warning in self.warnings + self.endpoint.warnings:
                self.module.warn("%s: policy %r: %s" % (self.module.tenant_label(), name, warning))
        return result


def export_policy(policy, resolver):
    """One ca_policy_info entry: ca_policy options with names, plus what Graph says about the policy."""
    entry = policy_options(policy, resolver)
    entry.update(id=policy.get("id"), managed=is_managed(policy), created_date_time=policy.get("createdDateTime"),
                 modified_date_time=policy.get("modifiedDateTime"), graph=policy)
    return entry


def list_policies(module):
    """For ca_policy_info: policies with references resolved to names (an export ca_policy can re-apply)."""
    p = module.params
    endpoint = policies(module)
    if p.get("id") or p.get("display_name"):
        found = [endpoint.find(p.get("id"), p.get("display_name"))]
    else:
        found = endpoint.list()
    found = [x for x in found if x]
    if p.get("policy_states"):
        found = [x for x in found if STATE_NAMES.get(x.get("state")) in p["policy_states"]]
    resolver = Resolver(module.graph)
    found = sorted(found, key=lambda x: (x.get("displayName") or "", x.get("id") or ""))
    return {"changed": False, "policies": [export_policy(x, resolver) for x in found]}
