# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only facts about a tenant's Conditional Access readiness (ca_tenant_info, the preflight role).

PRIVATE to the msp.conditional_access collection: the API may change without notice.

Every section is read on its own: a section the app may not read (403) is reported under
``permissions`` with the permission it needs, and the other sections still come back. ``checks`` turns
the facts into the preflight's verdict (one named check per prerequisite, passed or not, with the
reason), so the preflight role only prints and asserts them. ``tenant_role`` picks the list: the MSP
tenant's (the lock-down guide's prerequisites) or a client tenant's (what Part D needs there).
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

from ._auth import AuthError
from ._ca import LOCATIONS, POLICIES, STATE_NAMES, is_managed
from ._graph import GraphError, odata_quote

SECURITY_DEFAULTS = "/policies/identitySecurityDefaultsEnforcementPolicy"
SKUS = "/subscribedSkus"

# Service plans that carry Conditional Access (graph-ca.md §5.3, Maester Get-MtLicenseInformation).
PLAN_P1 = "41781fb2-bc02-4b7c-bd55-b576c07bb09d"  # AAD_PREMIUM
PLAN_P2 = "eec0eb4f-6444-4f95-aba0-50c24d67f998"  # AAD_PREMIUM_P2
PLAN_GOVERNANCE = "e866a266-3cff-43a3-acca-0c90a7e00c8b"
PLAN_NAMES = {PLAN_P1: "AAD_PREMIUM", PLAN_P2: "AAD_PREMIUM_P2"}

SECTIONS = ("licenses", "security_defaults", "policies", "named_locations")
# What the app must hold for the collection's writes (a client tenant's Part D needs the same).
REQUIRED_PERMISSIONS = ["Policy.Read.All", "Policy.ReadWrite.ConditionalAccess"]
TENANT_INFO_SPEC = dict(
    gather_subset=dict(type="list", elements="str", choices=list(SECTIONS), default=list(SECTIONS)),
    users=dict(type="list", elements="str"),
    groups=dict(type="list", elements="str"),
    tenant_role=dict(type="str", choices=["msp", "client"], default="msp"),
    break_glass_accounts=dict(type="list", elements="str", default=[]),
    service_account=dict(type="str"),
    required_permissions=dict(type="list", elements="str", default=REQUIRED_PERMISSIONS),
)


def licenses(skus):
    """Entra ID P1/P2 from the enabled SKUs' service plans; plan names are only a fallback."""
    active = [s for s in skus if s.get("capabilityStatus") == "Enabled"]
    plans = set()
    for sku in active:
        for plan in sku.get("servicePlans") or []:
            if plan.get("provisioningStatus") not in (None, "Success"):
                continue
            plan_id = (plan.get("servicePlanId") or "").lower()
            name = plan.get("servicePlanName") or ""
            if plan_id == PLAN_P2 or name == "AAD_PREMIUM_P2":
                plans.add(PLAN_P2)
            elif plan_id == PLAN_P1 or name == "AAD_PREMIUM":
                plans.add(PLAN_P1)
    return {
        # P2 includes everything P1 has, Conditional Access among it
        "entra_id_p1": bool(plans),
        "entra_id_p2": PLAN_P2 in plans,
        "skus": [{"sku_part_number": s.get("skuPartNumber"), "sku_id": s.get("skuId"),
                  "capability_status": s.get("capabilityStatus"),
                  "entra_id_plans": sorted(PLAN_NAMES[p.get("servicePlanId", "").lower()]
                                           for p in s.get("servicePlans") or []
                                           if (p.get("servicePlanId") or "").lower() in PLAN_NAMES)}
                 for s in skus],
    }


def policy_counts(policies):
    counts = {"total": len(policies), "enabled": 0, "report_only": 0, "disabled": 0, "microsoft_managed": 0}
    for policy in policies:
        state = STATE_NAMES.get(policy.get("state"))
        if state:
            counts[state] += 1
        if is_managed(policy):
            counts["microsoft_managed"] += 1
    return counts


def location_counts(locations):
    counts = {"total": len(locations), "ip": 0, "country": 0, "trusted": 0}
    for location in locations:
        kind = location.get("@odata.type", "")
        if kind.endswith("ipNamedLocation"):
            counts["ip"] += 1
            counts["trusted"] += 1 if location.get("isTrusted") else 0
        elif kind.endswith("countryNamedLocation"):
            counts["country"] += 1
    return counts


def token_permissions(token):
    """Application roles (or delegated scopes) of a JWT access token; None when it is not readable."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (AttributeError, IndexError, ValueError):
        return None
    if "roles" in claims:
        return sorted(claims["roles"])
    if "scp" in claims:
        return sorted(claims["scp"].split())
    return None


class TenantInfo:
    """Gathers the sections of ca_tenant_info; every Graph read is a GET."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.graph = module.graph
        self.permissions = {}

    def _read(self, section, fetch):
        """fetch() or None; a 403 is recorded as a missing permission instead of failing the task (a 401 means
        the tenant refused the token itself: ``gather`` reports it as the failed consent check)."""
        try:
            value = fetch()
        except GraphError as exc:
            if exc.status != 403:
                raise
            # the Graph client's hint names the permission of the endpoint that refused
            self.permissions[section] = "denied (%s): %s" % (exc.code, exc.hint)
            self.module.warn("%s: %s" % (section, exc))
            return None
        self.permissions[section] = "ok"
        return value

    def user(self, ref):
        def fetch():
            try:
                user = self.graph.get("/users/%s" % quote(ref, safe="@"),
                                      params={"$select": "id,userPrincipalName,displayName,accountEnabled"})
            except GraphError as exc:
                if exc.status == 404:
                    return {"ref": ref, "found": False}
                raise
            return {"ref": ref, "found": True, "id": user.get("id"), "user_principal_name": user.get(
                "userPrincipalName"), "display_name": user.get("displayName"),
                "account_enabled": user.get("accountEnabled")}
        return self._read("users", fetch) or {"ref": ref, "found": None}

    def group(self, name):
        def fetch():
            found = self.graph.list("/groups", params={"$filter": "displayName eq %s" % odata_quote(name),
                                                       "$select": "id,displayName"})
            return {"ref": name, "found": len(found) == 1, "ids": [g["id"] for g in found],
                    "ambiguous": len(found) > 1}
        return self._read("groups", fetch) or {"ref": name, "found": None}

    def gather(self):
        problem = self.graph.auth.credential_problem()
        if problem:  # nothing to sign in with: the run's configuration, not this tenant's consent
            raise AuthError(problem)
        try:
            return self.read()
        except AuthError as exc:  # no token for this tenant: not consented (or a wrong credential)
            result = {"changed": False, "tenant_id": self.graph.tenant_id, "permissions": {},
                      "graph_requests": self.graph.requests}
            result["checks"] = [check("App consent", False, "no token for this tenant: %s" % exc)]
            return with_summary(result)
        except GraphError as exc:
            if exc.status != 401:
                raise
            return with_summary({"changed": False, "tenant_id": self.graph.tenant_id, "permissions": {},
                                 "graph_requests": self.graph.requests,
                                 "checks": [check("App consent", False, str(exc))]})

    def read(self):
        wanted = set(self.params.get("gather_subset") or SECTIONS)
        p = self.params
        refs = list(p.get("users") or [])
        refs += [u for u in (p.get("break_glass_accounts") or []) + [p.get("service_account")] if u and u not in refs]
        result = {"changed": False}
        if "licenses" in wanted:
            result["licenses"] = self._read("licenses", lambda: licenses(self.graph.list(SKUS)))
        if "security_defaults" in wanted:
            sd = self._read("security_defaults", lambda: self.graph.get(SECURITY_DEFAULTS))
            result["security_defaults_enabled"] = None if sd is None else bool(sd.get("isEnabled"))
        if "policies" in wanted:
            result["policies"] = self._read("policies", lambda: policy_counts(
                self.graph.list(POLICIES, params={"$select": "id,displayName,state"})))
        if "named_locations" in wanted:
            result["named_locations"] = self._read("named_locations",
                                                   lambda: location_counts(self.graph.list(LOCATIONS)))
        result["users"] = [self.user(ref) for ref in refs]
        result["groups"] = [self.group(name) for name in self.params.get("groups") or []]
        result["permissions"] = self.permissions
        result["token_permissions"] = token_permissions(self.graph.auth.graph_token())
        result["tenant_id"] = self.graph.tenant_id
        result["graph_requests"] = self.graph.requests
        result["checks"] = tenant_checks(result, p)
        return with_summary(result)


# -- the preflight's verdict ----------------------------------------------------------------------------
def check(name, passed, reason):
    return {"name": name, "passed": bool(passed), "reason": reason}


def with_summary(result):
    """``summary``: the checks as the lines the preflight role prints ('PASS name: reason')."""
    result["summary"] = ["%s %s: %s" % ("PASS" if c["passed"] else "FAIL", c["name"], c["reason"])
                         for c in result["checks"]]
    return result


def _unreadable(facts, section):
    return "unreadable (%s)" % (facts.get("permissions") or {}).get(section, "not read")


def tenant_checks(facts, params):
    """One named check per prerequisite, from what ``TenantInfo.read`` gathered. ``tenant_role`` msp: the
    lock-down guide's list; client: consent, licence, security defaults and what the app may read."""
    role = params.get("tenant_role") or "msp"
    checks = [check("App consent", True, "the app has a token for this tenant and Graph accepts it")]
    lic = facts.get("licenses")
    if "licenses" in facts:
        checks.append(check("Entra ID P1/P2 licence", lic is not None and lic["entra_id_p1"],
                            _unreadable(facts, "licenses") if lic is None else
                            ("P2" if lic["entra_id_p2"] else "P1") if lic["entra_id_p1"] else
                            "none of the enabled SKUs carries Entra ID P1 or P2 (Conditional Access needs P1)"))
    if "security_defaults_enabled" in facts:
        sd = facts["security_defaults_enabled"]
        checks.append(check("Security defaults", sd is False,
                            "disabled" if sd is False else _unreadable(facts, "security_defaults") if sd is None else
                            "ENABLED: turn them off before using Conditional Access"))
    accounts = params.get("break_glass_accounts") or []
    if role == "msp":
        checks.append(check("Break-glass accounts configured", accounts, "%d given" % len(accounts) if accounts
                            else "none given: set msp_break_glass_accounts (the lockout guard needs them)"))
    for user in facts.get("users") or []:
        who = ("CIPP service account" if user["ref"] == params.get("service_account") else
               "Break-glass account" if user["ref"] in accounts else "User")
        checks.append(check("%s %s" % (who, user["ref"]), user["found"] is True,
                            "exists" if user["found"] else "NOT FOUND" if user["found"] is False else
                            _unreadable(facts, "users")))
    for group in facts.get("groups") or []:
        checks.append(check('Group "%s"' % group["ref"], group["found"] is True,
                            "exists" if group["found"] else
                            "AMBIGUOUS (%s)" % ", ".join(group["ids"]) if group.get("ambiguous") else
                            "NOT FOUND" if group["found"] is False else _unreadable(facts, "groups")))
    denied = sorted(k for k, v in (facts.get("permissions") or {}).items() if v != "ok")
    checks.append(check("Graph reads", not denied, "all allowed" if not denied else "; ".join(
        "%s %s" % (k, facts["permissions"][k]) for k in denied)))
    granted = facts.get("token_permissions")
    if granted is not None:
        missing = [r for r in params.get("required_permissions") or [] if r not in granted]
        checks.append(check("Graph app permissions", not missing, "granted" if not missing else
                            "MISSING %s (grant them and admin-consent the app in this tenant)" % ", ".join(missing)))
    return checks
