# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tenant_report: what one tenant's run changed, warned about or failed on, from the roles' registered results."""

from __future__ import annotations

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
        else:
            continue  # a policy left as it was: its warning was shown on the run that changed it
        warnings.extend('%s policy "%s": %s' % (part, name, w) for w in policy.get("warnings") or [])
    return changes, warnings


# the role variable that lets a run demote an enabled policy, by the registered result that held it back
DEMOTION_VARIABLES = {"technician_access_result": "technician_policy_allow_demotion",
                      "service_account_mfa_result": "service_account_mfa_allow_demotion"}


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
    notes = []
    for var, part, name_var in (("technician_access_result", "Part A", "technician_access_policy_name"),
                                ("technician_access_promotion", "Part A (promoted to enabled)", "technician_access_policy_name"),
                                ("service_account_mfa_result", "Part B", "service_account_mfa_policy_name"),
                                ("service_account_mfa_promotion", "Part B (promoted to enabled)",
                                 "service_account_mfa_policy_name")):
        result = _get(hostvars, var)
        policy = ((result or {}).get("policy") or {}).get("displayName") or _get(hostvars, name_var) or ""
        if result and result.get("changed"):
            changes.append('%s policy "%s"' % (part, policy))
        demotion = (result or {}).get("demotion") or {}
        if demotion and not demotion.get("applied"):
            notes.append('%s policy "%s": kept enabled, not demoted to %s (%s=true demotes it)' % (
                part, policy, demotion.get("to"), DEMOTION_VARIABLES.get(var, "allow_demotion")))
    for var, part in (("service_account_mfa_exclusions", "Part B exclusion:"),
                      ("service_account_mfa_unexcluded", "Part B exclusion removed:"), ("client_exclusion_result", "Part D")):
        more, warned = _exclusions(_get(hostvars, var), part)
        changes.extend(more)
        warnings.extend(warned)
    for item in _loop(_get(hostvars, "cipp_api_allowlist_results")):
        if item.get("changed"):
            changes.append('Part C API client "%s"' % (item.get("item") or {}).get("client", ""))

    verb = "would change" if check_mode else "changed"
    changes = ["%s: %s" % (verb, change) for change in changes]
    failed = str(_get(hostvars, "msp_ca_failure") or "")
    preflight = [line for line in _get(hostvars, "preflight_summary") or [] if str(line).startswith("FAIL")]
    lines = ["FAILED: %s" % failed] if failed else []
    lines += preflight
    lines += changes or ([] if failed else ["no change"])
    lines += notes
    lines += ["warning: %s" % w for w in warnings]
    return {"failed": failed, "changes": changes, "warnings": warnings, "lines": lines}


class FilterModule:
    def filters(self):
        return {"tenant_report": tenant_report}
