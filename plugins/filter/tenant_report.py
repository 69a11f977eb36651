# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tenant_report: what one tenant's run changed, warned about or failed on, from the roles' registered results."""

from __future__ import annotations

import re

# A module's refusal names its own option ("set force=true"); in a role run the user sets the role variable.
# (module, option) -> the role variable that sets it.
ROLE_VARIABLES = {
    "ca_named_location": {"force": "trusted_location_force"},
    "ca_policy": {"allow_lockout_risk": "technician_access_allow_lockout_risk"},
    "cipp_api_client_ips": {"force": "cipp_api_allowlist_force",
                            "allow_any_ip": "allow_any_ip of the cipp_api_allowlist_clients entry"},
}

# Part D / Part B exclusion actions that are a change (ca_client_exclusion RETURN policies[].action).
CHANGING_ACTIONS = ("excluded", "cloned", "removed")


def _get(hostvars, name):
    try:
        value = hostvars[name]
    except (KeyError, TypeError):
        return None
    # registered results of tasks that were skipped (tags, when) carry no result
    return None if value is None or (isinstance(value, dict) and value.get("skipped")) else value


def _loop(result):
    return (result or {}).get("results") or []


def _exclusions(result, part):
    """Changed policies and their warnings from a ca_client_exclusion result."""
    changes, warnings = [], []
    for policy in (result or {}).get("policies") or []:
        name = policy.get("display_name") or policy.get("id")
        if policy.get("action") in CHANGING_ACTIONS:
            changes.append('%s policy "%s": %s' % (part, name, policy["action"]))
        elif policy.get("action") == "failed":
            changes.append('%s policy "%s": FAILED %s' % (part, name, policy.get("reason") or ""))
        warnings.extend('%s policy "%s": %s' % (part, name, w) for w in policy.get("warnings") or [])
    return changes, warnings


def in_role_terms(message, action):
    """``message`` of a failed module with "<option>=true" replaced by the role variable the user sets."""
    options = ROLE_VARIABLES.get(str(action or "").rsplit(".", 1)[-1])
    if not options:
        return str(message)
    return re.sub(r"\b(%s)=true\b" % "|".join(map(re.escape, options)),
                  lambda m: "%s: true" % options[m.group(1)], str(message))


def tenant_report(hostvars, check_mode=False):
    """{failed, changes, warnings, lines} of one tenant, from its host's variables.

    ``changes`` names every location, policy and API client that changed (or would, in check mode);
    ``failed`` is the first failure (the plays record it as ``msp_ca_failure``; "" when none); ``lines`` is what the
    summary prints. A step that did not run (tags, an earlier failure) adds nothing - it is not a failure.
    """
    changes, warnings = [], []
    for item in _loop(_get(hostvars, "trusted_location_results")):
        if item.get("changed"):
            changes.append('Step 1 location "%s"' % (item.get("item") or {}).get("name", ""))
    for var, part, name_var in (("technician_access_result", "Part A", "technician_access_policy_name"),
                                ("service_account_mfa_result", "Part B", "service_account_mfa_policy_name")):
        result = _get(hostvars, var)
        if result and result.get("changed"):
            policy = (result.get("policy") or {}).get("displayName") or _get(hostvars, name_var) or ""
            changes.append('%s policy "%s"' % (part, policy))
    for var, part in (("service_account_mfa_exclusions", "Part B exclusion:"), ("client_exclusion_result", "Part D")):
        more, warned = _exclusions(_get(hostvars, var), part)
        changes.extend(more)
        warnings.extend(warned)
    for item in _loop(_get(hostvars, "cipp_api_allowlist_results")):
        if item.get("changed"):
            changes.append('Part C API client "%s"' % (item.get("item") or {}).get("client", ""))

    verb = "would change" if check_mode else "changed"
    changes = ["%s: %s" % (verb, change) for change in changes]
    failed = in_role_terms(_get(hostvars, "msp_ca_failure") or "", _get(hostvars, "msp_ca_failed_action"))
    preflight = [line for line in _get(hostvars, "preflight_summary") or [] if str(line).startswith("FAIL")]
    lines = ["FAILED: %s" % failed] if failed else []
    lines += preflight
    lines += changes or ([] if failed else ["no change"])
    lines += ["warning: %s" % w for w in warnings]
    return {"failed": failed, "changes": changes, "warnings": warnings, "lines": lines}


class FilterModule:
    def filters(self):
        return {"tenant_report": tenant_report}
