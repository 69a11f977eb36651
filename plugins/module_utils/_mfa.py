# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The partner (CSP) MFA audit: is every account of a tenant covered by MFA, and where are the holes?

PRIVATE to the msp.conditional_access collection: the API may change without notice.

Microsoft requires MFA for every account of a partner tenant, guests included, with no exclusions
(fleet.md section 5). The audit looks for an *enabled* policy that includes All users and All applications
and requires MFA or an authentication strength (the baseline; Maester MT.1007, ScubaGear MS.AAD.3.2), then
names every hole of the best baseline: excluded users, groups, roles and guests, location exemptions
(trusted locations above all), excluded applications, narrowing conditions, grants that let another
control stand in for MFA, report-only or disabled coverage, and break-glass accounts that are not covered
by a phishing-resistant policy of their own. A hole another enabled policy closes is not listed.

``analyse`` is pure (policies in, findings out) so that it is unit-tested case by case; ``MfaCoverage`` reads
Graph for the module. The MSP's own exclusion in a client tenant (Part D) is a hole too, marked
``sanctioned``: it is what the guide puts there, and the exports declare it to ScubaGear and Maester.
"""

from __future__ import annotations

from ._ca import POLICIES, parse_flags
from ._graph import GraphError
from ._policy import AUTH_STRENGTHS, STATE_NAMES

SECURITY_DEFAULTS = "/policies/identitySecurityDefaultsEnforcementPolicy"
SERVICE_PROVIDER = "serviceProvider"
PHISHING_RESISTANT = AUTH_STRENGTHS["phishing_resistant_mfa"]
STRENGTH_LABELS = {AUTH_STRENGTHS["mfa"]: "Multifactor authentication",
                   AUTH_STRENGTHS["passwordless_mfa"]: "Passwordless MFA",
                   PHISHING_RESISTANT: "Phishing-resistant MFA"}
# ScubaGear checks whose Conditional Access policy may carry declared exclusions (graph-ca.md 6.4).
SCUBAGEAR_CHECKS = ("MS.AAD.1.1v1", "MS.AAD.2.1v1", "MS.AAD.2.3v1", "MS.AAD.3.1v1", "MS.AAD.3.2v1", "MS.AAD.3.6v1",
                    "MS.AAD.3.7v1", "MS.AAD.3.8v1")
NOT_VISIBLE = [
    "Legacy per-user MFA trusted IPs (the MFA service settings page, 'Skip multi-factor authentication for requests "
    "from ... IP address ranges') cannot be read through Microsoft Graph. Check them by hand in the Entra admin "
    "centre (Per-user MFA > Service settings): sign-ins from those ranges skip MFA, and 'All trusted networks and "
    "locations' in a policy includes them.",
    "Legacy per-user MFA states (enforced / enabled) are not read; this audit only looks at Conditional Access and "
    "security defaults.",
    "Group membership is not expanded: an account excluded through a group is reported as the group.",
    "The partner security score (Graph beta /security/partner/securityScore) and Partner Center's "
    "non-MFA-compliant principals are not read.",
]

STATUS_TEXT = {
    "covered": "every account is covered by an enabled MFA policy",
    "holes": "an enabled MFA policy covers All users, with holes",
    "sanctioned_only": "covered; the only holes are the MSP's sanctioned exclusion",
    "report_only": "MFA for All users is only in report-only or disabled policies",
    "security_defaults": "no Conditional Access MFA baseline; security defaults are on",
    "none": "no policy requires MFA for All users and all applications",
}


def _users(policy):
    return ((policy.get("conditions") or {}).get("users")) or {}


def _apps(policy):
    return ((policy.get("conditions") or {}).get("applications")) or {}


def _types(value):
    return [t for t in parse_flags(value) if t != "none"]


def _lower(values):
    return {str(v).lower() for v in values or []}


def mfa_grant(policy):
    """(requires MFA, phishing resistant, what else satisfies the grant instead of MFA)."""
    grant = policy.get("grantControls") or {}
    controls = list(grant.get("builtInControls") or [])
    strength = (grant.get("authenticationStrength") or {}).get("id")
    if "block" in controls:
        return False, False, []
    has_mfa = bool(strength) or "mfa" in controls
    if not has_mfa:
        return False, False, []
    alternatives = []
    if (grant.get("operator") or "OR").upper() == "OR":
        alternatives = [c for c in controls if c != "mfa"]
    return True, strength == PHISHING_RESISTANT and not alternatives, alternatives


def all_apps(policy):
    return "All" in (_apps(policy).get("includeApplications") or [])


def narrowing(policy, names):
    """Conditions that keep an All users / All apps policy from applying to every sign-in: [(kind, name, detail)]."""
    cond = policy.get("conditions") or {}
    out = []
    for app in _apps(policy).get("excludeApplications") or []:
        out.append(("excluded_application", names("application", app), "application excluded"))
    if _apps(policy).get("applicationFilter"):
        out.append(("application_filter", _apps(policy)["applicationFilter"].get("rule"), "application filter"))
    locations = cond.get("locations") or {}
    for loc in locations.get("excludeLocations") or []:
        if loc == "AllTrusted":
            out.append(("trusted_location", "All trusted networks and locations",
                        "MFA skipped from every trusted location (legacy MFA trusted IPs included)"))
        else:
            out.append(("trusted_location" if loc in names.trusted else "excluded_location", names("location", loc),
                        "MFA skipped from this %slocation" % ("trusted " if loc in names.trusted else "")))
    included = locations.get("includeLocations") or []
    if included and "All" not in included:
        out.append(("location", ", ".join(names("location", loc) for loc in included),
                    "applies only from these locations"))
    types = cond.get("clientAppTypes") or ["all"]
    if "all" not in types:
        out.append(("client_app_types", ", ".join(types), "applies only to these client apps"))
    platforms = cond.get("platforms") or {}
    if platforms.get("excludePlatforms") or (platforms.get("includePlatforms") and
                                             "all" not in platforms.get("includePlatforms")):
        out.append(("platforms", "include %s, exclude %s" % (", ".join(platforms.get("includePlatforms") or ["all"]),
                                                             ", ".join(platforms.get("excludePlatforms") or [])),
                    "applies only on some device platforms"))
    if (cond.get("devices") or {}).get("deviceFilter"):
        out.append(("device_filter", cond["devices"]["deviceFilter"].get("rule"), "device filter"))
    for key in ("userRiskLevels", "signInRiskLevels", "servicePrincipalRiskLevels"):
        if cond.get(key):
            out.append(("risk", "%s: %s" % (key, ", ".join(cond[key])), "applies only at these risk levels"))
    if cond.get("insiderRiskLevels"):
        out.append(("risk", "insiderRiskLevels: %s" % cond["insiderRiskLevels"], "applies only at insider risk"))
    if (cond.get("authenticationFlows") or {}).get("transferMethods"):
        out.append(("authentication_flows", cond["authenticationFlows"]["transferMethods"],
                    "applies only to these authentication flows"))
    return out


def includes_user(policy, user_id):
    """Does the policy reach this user without excluding it (explicit include, or All)?"""
    users = _users(policy)
    uid = str(user_id).lower()
    if uid in _lower(users.get("excludeUsers")):
        return False
    return "all" in _lower(users.get("includeUsers")) or uid in _lower(users.get("includeUsers"))


def _reaches(policy, kind, oid):
    """Another policy covers an excluded principal when it includes it (or All users) and does not exclude it."""
    users = _users(policy)
    include, exclude = {"user": ("includeUsers", "excludeUsers"), "group": ("includeGroups", "excludeGroups"),
                        "role": ("includeRoles", "excludeRoles")}[kind]
    oid = str(oid).lower()
    if oid in _lower(users.get(exclude)):
        return False
    return oid in _lower(users.get(include)) or "all" in _lower(users.get("includeUsers"))


class Names:
    """Resolver names, with the trusted location ids known (a trusted exemption is the seed's warning)."""

    def __init__(self, resolver=None, trusted=(), fixed=None):
        self.resolver = resolver
        self.trusted = set(trusted)
        self.fixed = dict(fixed or {})

    def __call__(self, kind, oid):
        if (kind, oid) in self.fixed:
            return self.fixed[(kind, oid)]
        if kind == "tenant" or not self.resolver:  # Graph cannot name another tenant from here
            return oid
        return self.resolver.name(kind, oid)


def hole(kind, name, policy, detail, sanctioned=False, oid=None):
    entry = {"kind": kind, "name": name, "policy": policy.get("displayName") if policy else None, "detail": detail,
             "sanctioned": sanctioned}
    if oid:
        entry["id"] = oid
    return entry


def baseline_holes(policy, names, msp_tenant_id=None, service_account_id=None):
    """Every way the baseline ``policy`` leaves someone or some sign-in out."""
    users = _users(policy)
    out = []
    for uid in users.get("excludeUsers") or []:
        sanctioned = bool(service_account_id) and str(uid).lower() == str(service_account_id).lower()
        out.append(hole("excluded_user", names("user", uid), policy,
                        "the MSP's CIPP service account (Part D, direct mode)" if sanctioned else "user excluded",
                        sanctioned, uid))
    for gid in users.get("excludeGroups") or []:
        out.append(hole("excluded_group", names("group", gid), policy, "group excluded (members not expanded)",
                        oid=gid))
    for rid in users.get("excludeRoles") or []:
        out.append(hole("excluded_role", names("role", rid), policy, "directory role excluded", oid=rid))
    guests = users.get("excludeGuestsOrExternalUsers")
    if guests:
        types = _types(guests.get("guestOrExternalUserTypes"))
        tenants = guests.get("externalTenants") or {}
        members = tenants.get("members") or []
        scope = "all external tenants" if tenants.get("membershipKind") != "enumerated" else \
            ", ".join(names("tenant", m) for m in members)
        sanctioned = bool(msp_tenant_id) and types == [SERVICE_PROVIDER] and \
            tenants.get("membershipKind") == "enumerated" and _lower(members) == {msp_tenant_id.lower()}
        detail = ("the MSP's service provider users (GDAP, Part D): covered by the MSP tenant's own MFA"
                  if sanctioned else "guests or external users excluded")
        out.append(hole("excluded_guests", "%s of %s" % (", ".join(types), scope), policy, detail, sanctioned))
    for kind, name, detail in narrowing(policy, names):
        out.append(hole(kind, name, policy, detail))
    required, alternatives = mfa_grant(policy)[0], mfa_grant(policy)[2]
    if required and alternatives:
        out.append(hole("grant", "MFA or " + " or ".join(alternatives), policy,
                        "the grant is OR: %s satisfies it without MFA" % " or ".join(alternatives)))
    return out


def closed_elsewhere(entry, others):
    """Is a principal hole closed by another enabled MFA policy for all applications?"""
    kind = {"excluded_user": "user", "excluded_group": "group", "excluded_role": "role"}.get(entry["kind"])
    if kind and entry.get("id"):
        return [p for p in others if _reaches(p, kind, entry["id"])]
    if entry["kind"] == "excluded_guests":
        return [p for p in others if "all" in _lower(_users(p).get("includeUsers"))
                and not _users(p).get("excludeGuestsOrExternalUsers")]
    # a narrowing condition: closed by another All users baseline without that kind of narrowing
    return [p for p in others if "all" in _lower(_users(p).get("includeUsers"))
            and entry["kind"] not in {found[0] for found in narrowing(p, Names())}]


def analyse(policies, security_defaults_enabled=None, break_glass=None, names=None, msp_tenant_id=None,
            service_account_id=None):
    """The audit. ``break_glass``: {object id: UPN}. ``names``: a Names (ids are shown as they are without one)."""
    names = names or Names()
    break_glass = dict(break_glass or {})
    bg_ids = _lower(break_glass)
    mfa_all_apps = [p for p in policies if all_apps(p) and mfa_grant(p)[0]]
    enabled = [p for p in mfa_all_apps if p.get("state") == "enabled"]
    candidates = [p for p in mfa_all_apps if "all" in _lower(_users(p).get("includeUsers"))]
    baselines = [p for p in candidates if p.get("state") == "enabled"]
    holes = []

    chosen = None
    if baselines:
        scored = sorted(baselines, key=lambda p: (len(baseline_holes(p, names, msp_tenant_id, service_account_id)),
                                                  p.get("displayName") or ""))
        chosen = scored[0]
        others = [p for p in enabled if p is not chosen]
        for entry in baseline_holes(chosen, names, msp_tenant_id, service_account_id):
            if entry.get("id") and str(entry["id"]).lower() in bg_ids:
                continue  # break-glass accounts are judged below, by their own rule
            closing = closed_elsewhere(entry, others)
            if not closing:
                holes.append(entry)
    else:
        for policy in candidates:
            state = STATE_NAMES.get(policy.get("state"), policy.get("state"))
            holes.append(hole("report_only" if policy.get("state") != "disabled" else "disabled",
                              policy.get("displayName"), policy, "would require MFA for All users but is %s" % state))
        if not security_defaults_enabled:
            holes.append(hole("no_policy", "All users, all applications", None,
                              "no enabled policy requires MFA for All users and all applications, and security "
                              "defaults are %s" % ("off" if security_defaults_enabled is False else "unknown")))

    accounts = []
    for bg_id, upn in break_glass.items():
        own = [p for p in enabled if str(bg_id).lower() in _lower(_users(p).get("includeUsers"))
               and str(bg_id).lower() not in _lower(_users(p).get("excludeUsers")) and mfa_grant(p)[1]
               and not narrowing(p, names)]
        covering = [p for p in enabled if includes_user(p, bg_id)]
        if own:
            accounts.append({"account": upn, "id": bg_id, "protected": True, "policy": own[0].get("displayName"),
                             "detail": "covered by a policy of its own requiring phishing-resistant MFA"})
            continue
        if covering:
            detail = "covered only by %s, which does not require phishing-resistant MFA" % ", ".join(
                repr(p.get("displayName")) for p in covering)
        else:
            excluded_from = [p.get("displayName") for p in candidates if str(bg_id).lower()
                             in _lower(_users(p).get("excludeUsers"))]
            detail = "excluded from %s and not covered by a phishing-resistant MFA policy of its own" % (
                ", ".join(repr(n) for n in excluded_from) or "every MFA policy")
        accounts.append({"account": upn, "id": bg_id, "protected": False, "policy": None, "detail": detail})
        holes.append(hole("break_glass", upn, chosen, detail, oid=bg_id))

    open_holes = [h for h in holes if not h["sanctioned"]]
    if chosen:
        status = "covered" if not holes else ("sanctioned_only" if not open_holes else "holes")
    elif candidates:
        status = "report_only"
    elif security_defaults_enabled:
        status = "security_defaults"
    else:
        status = "none"
    notes = list(NOT_VISIBLE)
    if security_defaults_enabled:
        notes.insert(0, "Security defaults are on: they require MFA registration and prompt for MFA when Microsoft "
                        "deems it necessary (always for admins), not on every sign-in; Conditional Access policies "
                        "cannot be enforced while they are on.")
    return {
        "status": status,
        "status_text": STATUS_TEXT[status],
        "covered": status in ("covered", "sanctioned_only"),
        "baseline_policy": chosen.get("displayName") if chosen else None,
        "holes": holes,
        "open_holes": len(open_holes),
        "break_glass": accounts,
        "security_defaults_enabled": security_defaults_enabled,
        "not_visible": notes,
    }


# -- what audit tools are told about the sanctioned exclusion ---------------------------------------
def scubagear_snippet(mode=None, service_account_id=None, label=None):
    """ScubaGear's YAML ``Aad`` block declaring the sanctioned MSP exclusion (CapExclusions per check).

    Break-glass exclusions are not declared: in a partner tenant they are holes (ecosystem.md section 5)."""
    lines = ["# ScubaGear configuration: the MSP exclusion of %s is sanctioned (CIPP lock-down, Part D)"
             % (label or "this tenant"), "Aad:"]
    entries = []
    if mode == "gdap":
        entries.append(("GuestUserTypes", [SERVICE_PROVIDER], "GDAP service provider users of the MSP"))
    if mode == "direct" and service_account_id:
        entries.append(("Users", [service_account_id], "the CIPP service account (Direct Tenant mode)"))
    if not entries:
        return None
    merged = {}
    comments = {}
    for key, values, comment in entries:
        merged.setdefault(key, [])
        merged[key] += [v for v in values if v not in merged[key]]
        comments.setdefault(key, []).append(comment)
    for check in SCUBAGEAR_CHECKS:
        lines += ["  %s:" % check, "    CapExclusions:"]
        for key in sorted(merged):
            lines.append("      %s:  # %s" % (key, "; ".join(comments[key])))
            lines += ["        - %s" % value for value in merged[key]]
    return "\n".join(lines) + "\n"


def maester_fragment(break_glass=None, mode=None):
    """A maester-config.json fragment: the emergency access accounts, and why MT.1016 fails with GDAP."""
    fragment = {"GlobalSettings": {"EmergencyAccessAccounts": [
        {"Type": "User", "Id": bg_id, "UserPrincipalName": upn} for bg_id, upn in sorted((break_glass or {}).items())]}}
    note = None
    if mode == "gdap":
        note = ("Maester MT.1016 (MFA for guests) fails while any all-apps MFA policy excludes guests, and Maester has "
                "no setting for a sanctioned guest exclusion: add a separate MFA policy for guests without exclusions, "
                "or record MT.1016 as an accepted finding.")
    return fragment, note


# -- the module's work ----------------------------------------------------------------------------
class MfaCoverage:
    """ca_mfa_coverage_info: one policy list, security defaults, named locations, and names for what is shown."""

    def __init__(self, module):
        from ._resolve import Resolver

        self.module = module
        self.params = module.params
        self.graph = module.graph
        self.resolver = Resolver(self.graph)

    def security_defaults(self):
        try:
            return bool(self.graph.get(SECURITY_DEFAULTS).get("isEnabled"))
        except GraphError as exc:
            if exc.status in (401, 403):
                self.module.warn("security defaults could not be read: %s" % exc)
                return None
            raise

    def run(self):
        p = self.params
        policies = self.graph.list(POLICIES)
        accounts = p.get("break_glass_accounts") or []
        ids = self.resolver.ids("user", accounts, "break_glass_accounts")
        break_glass = {oid: self.resolver.name("user", oid) for oid in ids}
        account_id = None
        if p.get("service_account"):
            account_id = self.resolver.resolve("user", p["service_account"], "service_account")
        trusted = []
        if any(((x.get("conditions") or {}).get("locations") or {}).get("excludeLocations") for x in policies):
            trusted = [loc["id"] for loc in self.resolver._named_locations() if loc.get("isTrusted")]
        fixed = {}
        if p.get("msp_tenant_id"):
            label = p.get("msp_tenant_name") or "MSP tenant"
            fixed[("tenant", p["msp_tenant_id"])] = "%s (%s)" % (label, p["msp_tenant_id"])
        report = analyse(policies, self.security_defaults(), break_glass, Names(self.resolver, trusted, fixed),
                         p.get("msp_tenant_id"), account_id)
        mode = p.get("mode")
        label = p.get("tenant_name") or p.get("tenant_id") or self.graph.tenant_id
        report["scubagear"] = scubagear_snippet(mode, account_id, label)
        report["maester"], report["maester_note"] = maester_fragment(break_glass, mode)
        report.update(changed=False, tenant_id=self.graph.tenant_id, graph_requests=self.graph.requests)
        if self.resolver.warnings:
            report["warnings"] = list(self.resolver.warnings)
        return report
