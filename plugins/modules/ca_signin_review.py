#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ca_signin_review
short_description: Summarise what report-only Conditional Access policies would have done, from the sign-in logs
version_added: 0.2.0
description:
  - Reads C(GET /auditLogs/signIns) (Graph v1.0) for a time window (paged, C($filter) on C(createdDateTime) and, when
    given, on one user or application per request) and counts, per policy, the results Graph recorded in
    C(appliedConditionalAccessPolicies).
  - The report-only results C(reportOnlySuccess), C(reportOnlyFailure) (the policy would have blocked),
    C(reportOnlyInterrupted) (it would have asked for MFA or another control) and C(reportOnlyNotApplied) are
    requested with the C(Prefer include-unknown-enum-members) header, without which Graph hides them.
  - For each policy it lists the users and IP addresses that would have been blocked or interrupted, and which of
    those were not expected (O(expected_users), O(expected_outside)), one line per user in RV(why).
  - A tenant without Entra ID P1 has no sign-in logs, and the app needs C(AuditLog.Read.All); both fail the task
    with that reason.
  - Never writes, so it runs the same in check mode.
extends_documentation_fragment:
  - msp.conditional_access.graph
  - msp.conditional_access.graph.actiongroup
  - msp.conditional_access.attributes.info_module
options:
  window_days:
    description: Days back from now to read, when O(since) is not given.
    type: int
    default: 7
  since:
    description: Start of the window (ISO 8601, such as V(2026-11-24) or V(2026-11-24T08:00:00Z), UTC unless it says).
    type: str
  users:
    description: Only these users (UPNs or object ids); one request each.
    type: list
    elements: str
    default: []
  applications:
    description: Only sign-ins to these applications (display names or appIds, as in M(msp.conditional_access.ca_policy)).
    type: list
    elements: str
    default: []
  policies:
    description: Report only these policies (display names or ids). Default every policy seen in the window.
    type: list
    elements: str
    default: []
  expected_users:
    description:
      - Users (UPNs or object ids) whose report-only failures and interruptions are expected, such as the technicians
        for a policy that blocks technicians outside the office. Anyone else is unexpected.
    type: list
    elements: str
    default: []
  expected_outside:
    description:
      - IP ranges (CIDR) a policy must never affect, such as the office ranges for Part A. A failure or interruption
        of an expected user from inside these ranges is unexpected.
    type: list
    elements: str
    default: []
  max_blocked_percent:
    description:
      - Unexpected failures and interruptions a policy may show, in percent of the sign-ins in the window, and still
        pass (RV(passed)). V(0) passes only a policy with none.
    type: float
    default: 0.0
  fail_on_unexpected:
    description: Fail the task when a policy does not pass, with RV(why) in the message.
    type: bool
    default: false
seealso:
  - module: msp.conditional_access.ca_what_if
author:
  - MSP Conditional Access contributors (@msp-conditional-access)
"""

EXAMPLES = r"""
- name: What would Part A have blocked in the last week?
  msp.conditional_access.ca_signin_review:
    policies: [CA200-Admins-AttackSurfaceReduction-AllApps-AnyPlatform-Block-OutsideTrustedLocations]
    expected_users: [alice@contoso-msp.onmicrosoft.com, bob@contoso-msp.onmicrosoft.com]
    expected_outside: [203.0.113.0/24]
  register: review

- name: Show who would have been blocked unexpectedly
  ansible.builtin.debug:
    msg: "{{ review.why }}"
  when: not review.passed

- name: A scheduled evidence check that fails the job when anyone else would be blocked
  msp.conditional_access.ca_signin_review:
    window_days: 14
    applications: [Azure Static Web Apps]
    policies: [CA200-Admins-AttackSurfaceReduction-AllApps-AnyPlatform-Block-OutsideTrustedLocations]
    expected_users: [alice@contoso-msp.onmicrosoft.com]
    fail_on_unexpected: true
"""

RETURN = r"""
since:
  description: Start of the window that was read (UTC).
  returned: always
  type: str
  sample: "2026-11-24T20:00:00Z"
sign_ins:
  description: Number of sign-ins read.
  returned: always
  type: int
passed:
  description: Whether every reported policy passed (no unexpected failure above O(max_blocked_percent)).
  returned: always
  type: bool
why:
  description: One line per policy and user whose would-be block or interruption was not expected.
  returned: always
  type: list
  elements: str
  sample: ["CA200-... - breakglass01@contoso-msp.onmicrosoft.com: 2 sign-in(s) the policy would have blocked (198.51.100.77; not among the expected users)"]
policies:
  description: One entry per policy seen in the window.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Policy id.
      type: str
    display_name:
      description: Policy name as the sign-in recorded it.
      type: str
    results:
      description: Count per result (C(success), C(failure), C(reportOnlyFailure), ...).
      type: dict
    would_block:
      description: Sign-ins the policy would have blocked (user, ip_address, time, application, grant_controls).
      type: list
      elements: dict
    would_interrupt:
      description: Sign-ins the policy would have interrupted (MFA or another control).
      type: list
      elements: dict
    users:
      description: Users that would have been blocked or interrupted.
      type: list
      elements: str
    ip_addresses:
      description: IP addresses of those sign-ins.
      type: list
      elements: str
    unexpected:
      description: The would-be blocks and interruptions that were not expected, each with the reason.
      type: list
      elements: dict
    blocked_percent:
      description: Would-be blocked or interrupted sign-ins, in percent of all sign-ins read.
      type: float
    unexpected_percent:
      description: Unexpected ones, in percent of all sign-ins read.
      type: float
    passed:
      description: Whether the policy passed.
      type: bool
graph_requests:
  description: Graph requests the task sent (token requests not counted).
  returned: always
  type: int
"""

from ansible_collections.msp.conditional_access.plugins.module_utils._module import GraphModule
from ansible_collections.msp.conditional_access.plugins.module_utils._signin_review import ARGUMENT_SPEC, SignInReview


def main():
    module = GraphModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.run(SignInReview(module).run)


if __name__ == "__main__":
    main()
