#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ca_what_if
short_description: Test sign-in scenarios against a tenant's Conditional Access policies (What If)
version_added: 0.2.0
description:
  - Sends each scenario to C(POST /identity/conditionalAccess/evaluate) (Graph v1.0), Microsoft's What If
    evaluation, and checks what would happen against what the scenario expects.
  - A scenario names who signs in (a user by UPN or id, several users, a service principal, or an external user
    type such as the MSP's V(service_provider) users in a client tenant), the application (display name or appId,
    resolved as M(msp.conditional_access.ca_policy) resolves them) and the conditions (IP addresses, country,
    platform, client app type, risk levels). With several users or IP addresses, every combination is one sign-in.
  - "Outcomes: V(blocked) - a policy that applies blocks; V(not_blocked) - none blocks; V(mfa) - none blocks and one
    requires MFA (or an authentication strength); V(granted) - none blocks and none asks for any grant control."
  - Only policies that exist are evaluated. Report-only policies count as if they were enabled (see
    O(report_only_as_enabled)), since a What If gate is there to test a policy before it is turned on.
  - The task fails listing every sign-in that did not hold, with the policies that applied and the reason Graph
    gave for each one that did not. It only reads, so it runs the same in check mode.
  - One evaluate request per sign-in, paced at one per second like every Conditional Access request.
extends_documentation_fragment:
  - msp.conditional_access.graph
  - msp.conditional_access.graph.actiongroup
  - msp.conditional_access.attributes.info_module
options:
  scenarios:
    description: The sign-ins to test.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: What the scenario checks, in words (shown in failures).
        type: str
        required: true
      user:
        description: UPN or object id of the user who signs in.
        type: str
      users:
        description: Several users; each is one sign-in.
        type: list
        elements: str
      service_principal:
        description: Display name or object id of a service principal (workload identity) that signs in.
        type: str
      external_user_type:
        description: An external user, such as the MSP's GDAP technicians (V(service_provider)) in a client tenant.
        type: str
        choices: [internal_guest, b2b_collaboration_guest, b2b_collaboration_member, b2b_direct_connect_user,
                  other_external_user, service_provider]
      external_tenant_id:
        description: Home tenant of the external user (the MSP tenant for V(service_provider)).
        type: str
      application:
        description: Application signed in to (display name or appId). Defaults to O(application).
        type: str
      user_action:
        description: A user action instead of an application.
        type: str
        choices: [register_security_information, register_or_join_devices]
      authentication_context:
        description: An authentication context value (such as V(c1)) instead of an application.
        type: str
      ip_address:
        description: IP address the sign-in comes from.
        type: str
      ip_addresses:
        description: Several IP addresses; each is one sign-in.
        type: list
        elements: str
      country:
        description: Country of the sign-in (ISO 3166-1 alpha-2, such as V(DE)).
        type: str
      platform:
        description: Device platform.
        type: str
        choices: [android, ios, windows, windows_phone, macos, linux]
      client_app_type:
        description: Client app type.
        type: str
        choices: [browser, mobile_apps_and_desktop_clients, exchange_active_sync, eas_supported, other]
      sign_in_risk:
        description: Sign-in risk level.
        type: str
        choices: [low, medium, high, hidden, none]
      user_risk:
        description: User risk level.
        type: str
        choices: [low, medium, high, hidden, none]
      service_principal_risk:
        description: Service principal risk level.
        type: str
        choices: [low, medium, high, none]
      expect:
        description: What must happen.
        type: str
        required: true
        choices: [blocked, not_blocked, mfa, granted]
      policies_apply:
        description: Policies (display names or ids) that must apply.
        type: list
        elements: str
        default: []
      policies_not_apply:
        description: Policies (display names or ids) that must not apply.
        type: list
        elements: str
        default: []
  application:
    description: Application of every scenario that names none.
    type: str
  report_only_as_enabled:
    description: Count report-only policies as if they were enabled. V(false) counts only enabled policies.
    type: bool
    default: true
  fail_on_mismatch:
    description: Fail when a scenario does not hold. V(false) reports it in RV(passed), RV(failures) and RV(why) instead.
    type: bool
    default: true
seealso:
  - module: msp.conditional_access.ca_signin_review
  - name: "conditionalAccessRoot: evaluate"
    description: Microsoft Graph What If evaluation.
    link: https://learn.microsoft.com/graph/api/conditionalaccessroot-evaluate
author:
  - MSP Conditional Access contributors (@msp-conditional-access)
"""

EXAMPLES = r"""
- name: Part A must block technicians outside the office and never the break-glass accounts
  msp.conditional_access.ca_what_if:
    application: Azure Static Web Apps
    scenarios:
      - name: a technician in the office is not blocked
        user: alice@contoso-msp.onmicrosoft.com
        ip_address: 203.0.113.10
        expect: not_blocked
      - name: a technician elsewhere is blocked by Part A
        user: alice@contoso-msp.onmicrosoft.com
        ip_address: 198.51.100.7
        expect: blocked
        policies_apply: [CA200-Admins-AttackSurfaceReduction-AllApps-AnyPlatform-Block-OutsideTrustedLocations]
      - name: break-glass accounts are never blocked
        users: [breakglass01@contoso-msp.onmicrosoft.com, breakglass02@contoso-msp.onmicrosoft.com]
        ip_addresses: [203.0.113.10, 198.51.100.7]
        expect: not_blocked

- name: After Part D, no client policy blocks the MSP's GDAP technicians
  msp.conditional_access.ca_what_if:
    tenant_id: "{{ tenant_id }}"
    scenarios:
      - name: service provider users are not blocked
        external_user_type: service_provider
        external_tenant_id: "{{ msp_tenant_id }}"
        application: Microsoft Graph
        ip_address: 203.0.113.10
        client_app_type: browser
        expect: not_blocked
"""

RETURN = r"""
passed:
  description: Whether every sign-in held.
  returned: always
  type: bool
scenarios:
  description: One entry per sign-in (scenario x user x IP address).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The scenario's name.
      type: str
    sign_in:
      description: Who, from where.
      type: str
    expect:
      description: The expected outcome.
      type: str
    outcome:
      description: V(blocked), V(mfa), V(not_blocked) (other grant controls) or V(granted).
      type: str
    held:
      description: Whether the expectation (and O(scenarios[].policies_apply) / O(scenarios[].policies_not_apply)) held.
      type: bool
    problems:
      description: Why it did not hold.
      type: list
      elements: str
    applied:
      description: The counted policies that apply (id, display_name, state, grant_controls).
      type: list
      elements: dict
    not_applied:
      description: The other policies, each with the reason Graph gave (C(analysisReasons)).
      type: list
      elements: dict
  sample: [{"name": "break-glass accounts are never blocked", "sign_in": "breakglass01@contoso-msp.onmicrosoft.com, 198.51.100.7",
            "expect": "not_blocked", "outcome": "granted", "held": true, "problems": [], "applied": [],
            "not_applied": [{"display_name": "CA200-...", "state": "report_only", "reason": "users"}]}]
failures:
  description: The entries of RV(scenarios) that did not hold.
  returned: always
  type: list
  elements: dict
why:
  description: One line per sign-in that did not hold - who, the scenario, the problems and the policies that apply.
  returned: always
  type: list
  elements: str
  sample: ["alice@contoso-msp.onmicrosoft.com, 203.0.113.10 - a technician in the office is not blocked: expected
           not_blocked, got blocked (policies that apply: CA200-... (report_only, block))"]
graph_requests:
  description: Graph requests the task sent (token requests not counted).
  returned: always
  type: int
"""

from ansible_collections.msp.conditional_access.plugins.module_utils._module import GraphModule
from ansible_collections.msp.conditional_access.plugins.module_utils._what_if import ARGUMENT_SPEC, WhatIf


def main():
    module = GraphModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.run(WhatIf(module).run)


if __name__ == "__main__":
    main()
