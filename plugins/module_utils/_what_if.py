# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What If scenarios against a tenant's Conditional Access policies (ca_what_if, the promotion gate).

PRIVATE to the msp.conditional_access collection: the API may change without notice.

One scenario = one or more sign-ins (users x IP addresses) that ``POST /identity/conditionalAccess/evaluate``
(Graph v1.0, fleet.md section 3) evaluates against every existing policy. The answer's applying policies give
the outcome:

* ``blocked``: a counted policy that applies blocks;
* ``not_blocked``: none blocks;
* ``mfa``: none blocks and one requires MFA (the ``mfa`` control or an authentication strength);
* ``granted``: none blocks and none asks for any grant control.

Counted are the enabled policies, and report-only ones unless ``report_only_as_enabled`` is false (the gate
tests a report-only policy as if it were on). Evaluate only reads: it goes through GraphClient.read_action (the
write gate lets exactly these POST actions through), never the write chokepoint, and runs the same in check mode.
"""

from __future__ import annotations

import ipaddress

from ._ca import STATE_NAMES, STATES
from ._module import InvalidOption, ModuleError
from ._policy import GUEST_TYPES, PLATFORMS, RISK_LEVELS, enum_value
from ._resolve import Resolver

EVALUATE = "/identity/conditionalAccess/evaluate"
EXPECTATIONS = ("blocked", "not_blocked", "mfa", "granted")
CLIENT_APP_TYPES = ["browser", "mobile_apps_and_desktop_clients", "exchange_active_sync", "eas_supported", "other"]
USER_ACTIONS = {"register_security_information": "registerSecurityInformation",
                "register_or_join_devices": "registerOrJoinDevices"}
REPORT_ONLY = STATES["report_only"]
# show at most this many non-applying policies per failed scenario in the failure message
MESSAGE_REASONS = 10

SCENARIO_SPEC = dict(
    name=dict(type="str", required=True),
    user=dict(type="str"),
    users=dict(type="list", elements="str"),
    service_principal=dict(type="str"),
    external_user_type=dict(type="str", choices=GUEST_TYPES),
    external_tenant_id=dict(type="str"),
    application=dict(type="str"),
    user_action=dict(type="str", choices=list(USER_ACTIONS)),
    authentication_context=dict(type="str"),
    ip_address=dict(type="str"),
    ip_addresses=dict(type="list", elements="str"),
    country=dict(type="str"),
    platform=dict(type="str", choices=[p for p in PLATFORMS if p != "all"]),
    client_app_type=dict(type="str", choices=CLIENT_APP_TYPES),
    sign_in_risk=dict(type="str", choices=RISK_LEVELS),
    user_risk=dict(type="str", choices=RISK_LEVELS),
    service_principal_risk=dict(type="str", choices=["low", "medium", "high", "none"]),
    expect=dict(type="str", required=True, choices=list(EXPECTATIONS)),
    policies_apply=dict(type="list", elements="str", default=[]),
    policies_not_apply=dict(type="list", elements="str", default=[]),
)

ARGUMENT_SPEC = dict(
    scenarios=dict(type="list", elements="dict", required=True, options=SCENARIO_SPEC),
    application=dict(type="str"),
    report_only_as_enabled=dict(type="bool", default=True),
    fail_on_mismatch=dict(type="bool", default=True),
)


def requires_mfa(policy):
    grant = policy.get("grantControls") or {}
    return "mfa" in (grant.get("builtInControls") or []) or bool((grant.get("authenticationStrength") or {}).get("id"))


def blocks(policy):
    return "block" in ((policy.get("grantControls") or {}).get("builtInControls") or [])


def grant_controls(policy):
    grant = policy.get("grantControls") or {}
    controls = list(grant.get("builtInControls") or [])
    if (grant.get("authenticationStrength") or {}).get("id"):
        controls.append("authenticationStrength")
    return controls


def outcome(results, report_only_as_enabled=True):
    """(outcome, counted applying policies) of one evaluate answer."""
    counted = [r for r in results if r.get("policyApplies") and (
        r.get("state") == "enabled" or (report_only_as_enabled and r.get("state") == REPORT_ONLY))]
    if any(blocks(r) for r in counted):
        return "blocked", counted
    if any(requires_mfa(r) for r in counted):
        return "mfa", counted
    if any(grant_controls(r) for r in counted):
        return "not_blocked", counted
    return "granted", counted


def holds(expect, got):
    if expect == "not_blocked":
        return got != "blocked"
    return expect == got


def _matches(policy, ref):
    return ref in (policy.get("id"), policy.get("displayName")) or \
        (policy.get("displayName") or "").lower() == str(ref).lower()


def _summary(policy):
    return {"id": policy.get("id"), "display_name": policy.get("displayName"),
            "state": STATE_NAMES.get(policy.get("state"), policy.get("state")),
            "grant_controls": grant_controls(policy), "applies": bool(policy.get("policyApplies")),
            "reason": policy.get("analysisReasons")}


class WhatIf:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.graph = module.graph
        self.resolver = Resolver(self.graph)

    # -- input -> request bodies ------------------------------------------------------------------
    def sign_ins(self, index, scenario):
        """Every sign-in a scenario stands for: (label, body); all input checked before the first evaluate."""
        option = "scenarios[%d]" % index
        identities = self._identities(option, scenario)
        given = [("ip_addresses", a) for a in scenario.get("ip_addresses") or []]
        if scenario.get("ip_address"):
            given.append(("ip_address", scenario["ip_address"]))
        for key, address in given:  # an error names the key the user wrote
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise InvalidOption("%s.%s" % (option, key), address, "not an IP address")
        addresses = [address for key, address in given]
        context = self._context(option, scenario)
        conditions = {}
        for key, graph_key in (("country", "country"), ("platform", "devicePlatform"),
                               ("client_app_type", "clientAppType"), ("sign_in_risk", "signInRiskLevel"),
                               ("user_risk", "userRiskLevel"), ("service_principal_risk", "servicePrincipalRiskLevel")):
            if scenario.get(key):
                conditions[graph_key] = enum_value(scenario[key]) if key != "country" else scenario[key].upper()
        if scenario.get("country") and len(scenario["country"]) != 2:
            raise InvalidOption(option + ".country", scenario["country"], "an ISO 3166-1 alpha-2 code such as DE")
        out = []
        for who, identity in identities:
            for address in addresses or [None]:
                cond = dict(conditions, ipAddress=address) if address else dict(conditions)
                label = ", ".join(x for x in (who, address, scenario.get("country")) if x)
                out.append((label, {"signInIdentity": identity, "signInContext": context, "signInConditions": cond,
                                    "appliedPoliciesOnly": False}))
        return out

    def _identities(self, option, scenario):
        # (key the user wrote, UPN or id): an unknown user is reported under user or users, as given
        users = [("users", u) for u in scenario.get("users") or []] + (
            [("user", scenario["user"])] if scenario.get("user") else [])
        kinds = [bool(users), bool(scenario.get("service_principal")), bool(scenario.get("external_user_type"))]
        if sum(kinds) != 1:
            raise InvalidOption(option, scenario.get("name"), "name exactly one of user/users, service_principal or "
                                "external_user_type (the identity that signs in)")
        if scenario.get("service_principal"):
            sp = self.resolver.resolve("service_principal", scenario["service_principal"], option + ".service_principal")
            return [(scenario["service_principal"], {"@odata.type": "#microsoft.graph.servicePrincipalSignIn",
                                                     "servicePrincipalId": sp})]
        if scenario.get("external_user_type"):
            identity = {"@odata.type": "#microsoft.graph.userSignIn",
                        "externalUserType": enum_value(scenario["external_user_type"])}
            if scenario.get("external_tenant_id"):
                identity["externalTenantId"] = scenario["external_tenant_id"]
            label = "%s of %s" % (scenario["external_user_type"], scenario.get("external_tenant_id") or "any tenant")
            return [(label, identity)]
        return [(user, {"@odata.type": "#microsoft.graph.userSignIn",
                        "userId": self.resolver.resolve("user", user, "%s.%s" % (option, key))}) for key, user in users]

    def _context(self, option, scenario):
        if scenario.get("user_action"):
            return {"@odata.type": "#microsoft.graph.userActionContext",
                    "userAction": USER_ACTIONS[scenario["user_action"]]}
        if scenario.get("authentication_context"):
            return {"@odata.type": "#microsoft.graph.authContext",
                    "authenticationContextValue": scenario["authentication_context"]}
        app = scenario.get("application") or self.params.get("application")
        if not app:
            raise InvalidOption(option + ".application", None, "name the application signed in to (display name or "
                                "appId, as in ca_policy), or set the module's application option")
        if str(app).strip().lower() in ("all", "none"):
            raise InvalidOption(option + ".application", app, "a sign-in reaches one application: name it")
        app_id = self.resolver.resolve("application", app, option + ".application")
        return {"@odata.type": "#microsoft.graph.applicationContext", "includeApplications": [app_id]}

    # -- run -----------------------------------------------------------------------------------------
    def run(self):
        p = self.params
        planned = [(i, s, self.sign_ins(i, s)) for i, s in enumerate(p["scenarios"])]
        results = []
        for index, scenario, sign_ins in planned:
            for label, body in sign_ins:
                answer = self.graph.read_action(EVALUATE, body).get("value", [])
                results.append(self.judge(scenario, label, answer))
        failed = [r for r in results if not r["held"]]
        result = {"changed": False, "passed": not failed, "scenarios": results, "failures": failed,
                  "why": [why(r) for r in failed], "graph_requests": self.graph.requests}
        if self.resolver.warnings:
            result["warnings"] = list(self.resolver.warnings)
        if failed and p["fail_on_mismatch"]:
            raise ModuleError(failure_message(failed), scenarios=results, failures=failed, passed=False)
        return result

    def judge(self, scenario, label, answer):
        got, counted = outcome(answer, self.params["report_only_as_enabled"])
        problems = []
        if not holds(scenario["expect"], got):
            problems.append("expected %s, got %s" % (scenario["expect"], got))
        for ref in scenario.get("policies_apply") or []:
            named = [r for r in answer if _matches(r, ref)]
            if not named:
                problems.append("policy %r does not exist in the tenant" % ref)
            elif not any(r in counted for r in named):
                problems.append("policy %r does not apply (%s)" % (ref, ", ".join(
                    "%s, %s" % (STATE_NAMES.get(r.get("state"), r.get("state")), r.get("analysisReasons"))
                    for r in named)))
        for ref in scenario.get("policies_not_apply") or []:
            if any(_matches(r, ref) for r in counted):
                problems.append("policy %r applies" % ref)
        return {"name": scenario["name"], "sign_in": label, "expect": scenario["expect"], "outcome": got,
                "held": not problems, "problems": problems,
                "applied": [_summary(r) for r in counted],
                "not_applied": [_summary(r) for r in answer if r not in counted]}


def applied_text(entry):
    return "; ".join("%s (%s%s)" % (a["display_name"], a["state"], ", " + "+".join(a["grant_controls"])
                                    if a["grant_controls"] else "") for a in entry["applied"]) or "none"


def why(entry):
    """One line per sign-in that did not hold, who first: what the promotion gate prints."""
    return "%s - %s: %s (policies that apply: %s)" % (entry["sign_in"], entry["name"], "; ".join(entry["problems"]),
                                                      applied_text(entry))


def failure_message(failed):
    lines = []
    for r in failed:
        applied = applied_text(r)
        others = ["%s: %s" % (n["display_name"], n["reason"]) for n in r["not_applied"]]
        more = " and %d more" % (len(others) - MESSAGE_REASONS) if len(others) > MESSAGE_REASONS else ""
        lines.append("scenario %r (%s): %s. Policies that apply: %s. Not applied: %s%s."
                     % (r["name"], r["sign_in"], "; ".join(r["problems"]), applied,
                        "; ".join(others[:MESSAGE_REASONS]) or "none", more))
    return "%d What If scenario(s) did not hold: %s" % (len(failed), " | ".join(lines))
