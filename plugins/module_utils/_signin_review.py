# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report-only evidence from the sign-in logs (ca_signin_review, the promotion gate).

PRIVATE to the msp.conditional_access collection: the API may change without notice.

Reads ``GET /auditLogs/signIns`` (fleet.md section 4) for a window, paged, with ``$filter`` on ``createdDateTime``
and, when given, one user or application per request, and counts per policy the results of
``appliedConditionalAccessPolicies``. The report-only results (``reportOnlySuccess``, ``reportOnlyFailure``,
``reportOnlyInterrupted``, ``reportOnlyNotApplied``) are evolvable enum members that Graph returns only with
``Prefer: include-unknown-enum-members``, which the Graph client sends on every request.

A report-only failure (the policy would have blocked) or interruption (it would have asked for MFA or another
control) is *expected* when the user is one of ``expected_users`` and, when ``expected_outside`` is given, the
sign-in came from outside those ranges. Everything else is unexpected: the gate refuses promotion when unexpected
sign-ins exceed ``max_blocked_percent`` of the sign-ins in the window (0: any one refuses).
"""

from __future__ import annotations

import datetime
import ipaddress

from ._graph import odata_quote
from ._module import InvalidOption, ModuleError
from ._resolve import Resolver, is_guid

SIGN_INS = "/auditLogs/signIns"
WOULD_BLOCK = "reportOnlyFailure"
WOULD_INTERRUPT = "reportOnlyInterrupted"
REPORT_ONLY_RESULTS = ("reportOnlySuccess", WOULD_BLOCK, WOULD_INTERRUPT, "reportOnlyNotApplied")
RESULTS = ("success", "failure", "notApplied", "notEnabled", "unknown", "unknownFutureValue") + REPORT_ONLY_RESULTS
SELECT = ("id,createdDateTime,userId,userPrincipalName,appId,appDisplayName,ipAddress,conditionalAccessStatus,"
          "appliedConditionalAccessPolicies")

ARGUMENT_SPEC = dict(
    window_days=dict(type="int", default=7),
    since=dict(type="str"),
    users=dict(type="list", elements="str", default=[]),
    applications=dict(type="list", elements="str", default=[]),
    policies=dict(type="list", elements="str", default=[]),
    expected_users=dict(type="list", elements="str", default=[]),
    expected_outside=dict(type="list", elements="str", default=[]),
    max_blocked_percent=dict(type="float", default=0.0),
    fail_on_unexpected=dict(type="bool", default=False),
)


def parse_since(value, window_days, now=None):
    """The start of the window as Graph's UTC form (``2026-11-24T20:00:00Z``)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if value:
        text = value.strip().replace("Z", "+00:00")
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise InvalidOption("since", value, "an ISO 8601 date or time such as 2026-11-24 or 2026-11-24T08:00:00Z")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
    else:
        if window_days < 1:
            raise InvalidOption("window_days", window_days, "at least 1 day")
        moment = now - datetime.timedelta(days=window_days)
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def networks(values, option):
    out = []
    for value in values or []:
        try:
            out.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise InvalidOption(option, value, "not an IP address or CIDR range")
    return out


def inside(address, nets):
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip.version == n.version and ip in n for n in nets)


def summarise(sign_ins, wanted=None, expected_users=(), expected_outside=(), max_blocked_percent=0.0):
    """Per policy: result counts, would-be-blocked/interrupted users and IPs, unexpected ones and the verdict.

    ``wanted``: policy ids or display names to report (all when empty). ``expected_users``: UPNs or ids, lower case.
    """
    wanted = {str(w).lower() for w in wanted or []}
    expected = {str(u).lower() for u in expected_users}
    total = len(sign_ins)
    policies = {}
    for sign_in in sign_ins:
        for applied in sign_in.get("appliedConditionalAccessPolicies") or []:
            pid, name = applied.get("id"), applied.get("displayName")
            if wanted and not ({str(pid).lower(), str(name).lower()} & wanted):
                continue
            entry = policies.setdefault(pid, {"id": pid, "display_name": name, "results": {}, "would_block": [],
                                              "would_interrupt": [], "unexpected": []})
            result = applied.get("result") or "unknown"
            entry["results"][result] = entry["results"].get(result, 0) + 1
            if result not in (WOULD_BLOCK, WOULD_INTERRUPT):
                continue
            event = {"user": sign_in.get("userPrincipalName") or sign_in.get("userId"),
                     "ip_address": sign_in.get("ipAddress"), "time": sign_in.get("createdDateTime"),
                     "application": sign_in.get("appDisplayName") or sign_in.get("appId"),
                     "grant_controls": applied.get("enforcedGrantControls") or []}
            entry["would_block" if result == WOULD_BLOCK else "would_interrupt"].append(event)
            who = {str(sign_in.get("userPrincipalName") or "").lower(), str(sign_in.get("userId") or "").lower()}
            reasons = []
            if not who & expected:
                reasons.append("not among the expected users")
            elif inside(sign_in.get("ipAddress"), expected_outside):
                reasons.append("from %s, inside the ranges it must not affect" % sign_in.get("ipAddress"))
            if reasons:
                entry["unexpected"].append(dict(event, result=result, reason="; ".join(reasons)))
    for entry in policies.values():
        entry["users"] = sorted({e["user"] for e in entry["would_block"] + entry["would_interrupt"] if e["user"]})
        entry["ip_addresses"] = sorted({e["ip_address"] for e in entry["would_block"] + entry["would_interrupt"]
                                        if e["ip_address"]})
        blocked = len(entry["would_block"]) + len(entry["would_interrupt"])
        entry["blocked_percent"] = round(100.0 * blocked / total, 2) if total else 0.0
        entry["unexpected_percent"] = round(100.0 * len(entry["unexpected"]) / total, 2) if total else 0.0
        entry["passed"] = not entry["unexpected"] or (max_blocked_percent > 0
                                                      and entry["unexpected_percent"] <= max_blocked_percent)
        entry["why"] = why(entry)
    return sorted(policies.values(), key=lambda e: (e["display_name"] or "", e["id"] or ""))


def why(entry):
    """One line per user whose would-be block or interruption was not expected."""
    per_user = {}
    for event in entry["unexpected"]:
        per_user.setdefault(event["user"], []).append(event)
    return ["%s: %d sign-in(s) the policy would have %s (%s; %s)" % (
        user, len(events), "blocked" if any(e["result"] == WOULD_BLOCK for e in events) else "interrupted",
        ", ".join(sorted({e["ip_address"] or "no IP" for e in events})), events[0]["reason"])
        for user, events in sorted(per_user.items(), key=lambda item: str(item[0]))]


class SignInReview:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.graph = module.graph
        self.resolver = Resolver(self.graph)

    def filters(self, since):
        """One $filter per request: the window, and one user or (without users) one application."""
        base = "createdDateTime ge %s" % since
        p = self.params
        if p["users"]:
            return [base + (" and userId eq %s" % odata_quote(u) if is_guid(u)
                            else " and userPrincipalName eq %s" % odata_quote(u)) for u in p["users"]]
        if p["applications"]:
            return [base + " and appId eq %s" % odata_quote(a) for a in self.app_ids()]
        return [base]

    def app_ids(self):
        return self.resolver.ids("application", self.params["applications"], "applications")

    def run(self):
        p = self.params
        since = parse_since(p.get("since"), p["window_days"])
        outside = networks(p["expected_outside"], "expected_outside")
        if p["max_blocked_percent"] < 0 or p["max_blocked_percent"] > 100:
            raise InvalidOption("max_blocked_percent", p["max_blocked_percent"], "a percentage from 0 to 100")
        apps = set(self.app_ids()) if p["users"] and p["applications"] else None
        sign_ins, seen = [], set()
        for expression in self.filters(since):
            for item in self.graph.list(SIGN_INS, params={"$filter": expression, "$select": SELECT}):
                if item.get("id") in seen or (apps is not None and item.get("appId") not in apps):
                    continue
                seen.add(item.get("id"))
                sign_ins.append(item)
        policies = summarise(sign_ins, p["policies"], p["expected_users"], outside, p["max_blocked_percent"])
        missing = [ref for ref in p["policies"] if not any(
            str(ref).lower() in (str(e["id"]).lower(), str(e["display_name"]).lower()) for e in policies)]
        result = {"changed": False, "since": since, "sign_ins": len(sign_ins), "policies": policies,
                  "passed": all(e["passed"] for e in policies),
                  "why": [line for e in policies for line in ("%s - %s" % (e["display_name"], w) for w in e["why"])],
                  "graph_requests": self.graph.requests}
        warnings = list(self.resolver.warnings)
        if not sign_ins:
            warnings.append("no sign-ins since %s: the review has no evidence either way" % since)
        for ref in missing:
            warnings.append("policy %r appears in no sign-in since %s" % (ref, since))
        if warnings:
            result["warnings"] = warnings
        if p["fail_on_unexpected"] and not result["passed"]:
            raise ModuleError("Report-only results outside the expected set: " + " | ".join(result["why"]),
                              **{k: v for k, v in result.items() if k != "changed"})
        return result
