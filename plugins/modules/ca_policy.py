#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ca_policy
short_description: Manage Entra ID Conditional Access policies
version_added: 0.1.0
description:
  - Creates, updates and deletes a Conditional Access policy. Options mirror Graph's
    C(conditionalAccessPolicy) in snake_case, so a Graph export maps one to one.
  - Names are accepted wherever Graph wants ids and are resolved through Graph. Users by UPN, groups by
    display name, directory roles by name, named locations by display name, applications by display name
    or appId. A name that matches nothing, or more than one object, fails the task before anything is written.
  - Exclusions already on the policy (users, groups, roles, guests) are kept unless O(purge_exclusions=true).
    Options the task omits are left as Graph has them.
  - New policies start in report-only mode unless O(policy_state) says otherwise.
  - Graph's rules are checked before any request. When Graph v1.0 refuses a sign-in frequency of every time as a
    preview feature (error 1038), the request is repeated on the beta endpoint.
  - Microsoft-managed policies (display name starting with C(Microsoft-managed:)) only accept state and exclusion
    changes. Anything else is refused with a suggestion to clone the policy.
extends_documentation_fragment:
  - msp.conditional_access.graph
  - msp.conditional_access.graph.actiongroup
  - msp.conditional_access.attributes
options:
  display_name:
    description: Name of the policy. Required unless O(id) is given. Display names are not unique; duplicates fail.
    type: str
  id:
    description: Object id of the policy.
    type: str
  description:
    description: Free-text description.
    type: str
  state:
    description: V(absent) deletes the policy.
    type: str
    choices: [present, absent]
    default: present
  policy_state:
    description:
      - V(report_only) is Graph's C(enabledForReportingButNotEnforced). New policies default to V(report_only);
        omitted, an existing policy keeps its state.
    type: str
    choices: [enabled, disabled, report_only]
  conditions:
    description: Graph's C(conditions) in snake_case.
    type: dict
    suboptions:
      users:
        description:
          - C(include_users), C(exclude_users) (UPNs, ids, V(All), V(None), V(GuestsOrExternalUsers)),
            C(include_groups), C(exclude_groups) (names or ids), C(include_roles), C(exclude_roles) (names or
            template ids), C(include_guests_or_external_users), C(exclude_guests_or_external_users)
            (C(guest_or_external_user_types) as a list, C(external_tenants) with C(membership_kind) and C(members)).
        type: dict
      applications:
        description:
          - C(include_applications), C(exclude_applications) (names, appIds, V(All), V(None), V(Office365),
            V(MicrosoftAdminPortals)), C(include_user_actions), C(include_authentication_context_class_references),
            C(application_filter) (C(mode), C(rule)).
        type: dict
      client_app_types:
        description: V(all), V(browser), V(mobile_apps_and_desktop_clients), V(exchange_active_sync), V(other).
        type: list
        elements: str
      locations:
        description: C(include_locations), C(exclude_locations) (location names, ids, V(All), V(AllTrusted)).
        type: dict
      platforms:
        description: C(include_platforms), C(exclude_platforms).
        type: dict
      user_risk_levels:
        description: Risk levels.
        type: list
        elements: str
      sign_in_risk_levels:
        description: Risk levels.
        type: list
        elements: str
      service_principal_risk_levels:
        description: Risk levels.
        type: list
        elements: str
      devices:
        description: C(device_filter) with C(mode) and C(rule).
        type: dict
      client_applications:
        description: C(include_service_principals), C(exclude_service_principals), C(service_principal_filter).
        type: dict
  grant_controls:
    description: C(operator) (AND or OR), C(built_in_controls), C(authentication_strength) (id, or V(mfa),
      V(passwordless_mfa), V(phishing_resistant_mfa)), C(terms_of_use).
    type: dict
  session_controls:
    description:
      - C(sign_in_frequency) (C(frequency_interval) V(time_based) or V(every_time), C(type), C(value),
        C(authentication_type)), C(persistent_browser) (V(always) or V(never)), C(application_enforced_restrictions),
        C(cloud_app_security), C(disable_resilience_defaults).
    type: dict
  purge_exclusions:
    description: Replace the exclusions with exactly the task's, instead of adding to those already there.
    type: bool
    default: false
  break_glass_accounts:
    description:
      - UPNs or ids of emergency accounts. Enabling a policy whose grant is block, or that targets All users and
        All apps, fails unless each of them is excluded. Set once through module_defaults.
    type: list
    elements: str
    default: []
  allow_lockout_risk:
    description: Enable such a policy even though a break-glass account is not excluded.
    type: bool
    default: false
  naming_convention:
    description: V(microsoft) validates the display name against Microsoft's Conditional Access framework.
    type: str
    choices: [none, microsoft]
    default: none
author:
  - MSP Conditional Access contributors (@msp-conditional-access)
"""

EXAMPLES = r"""
- name: Part A - block CIPP technician sign-ins from outside the trusted location (report-only first)
  msp.conditional_access.ca_policy:
    display_name: Block CIPP Access - Outside Trusted IPs
    policy_state: report_only
    break_glass_accounts: [breakglass01@contoso-msp.onmicrosoft.com]
    conditions:
      users:
        include_groups: [CIPP Technicians]
        exclude_users: [breakglass01@contoso-msp.onmicrosoft.com]
      applications:
        include_applications: [All]
      client_app_types: [all]
      locations:
        include_locations: [All]
        exclude_locations: [Trusted - MSP Office]
    grant_controls:
      operator: OR
      built_in_controls: [block]

- name: Part B - CIPP service account, MFA on every sign-in, no location conditions
  msp.conditional_access.ca_policy:
    display_name: CIPP Service Account Conditional Access Policy
    policy_state: enabled
    break_glass_accounts: [breakglass01@contoso-msp.onmicrosoft.com]
    conditions:
      users:
        include_users: [cipp-svc@contoso-msp.onmicrosoft.com]
      applications:
        include_applications: [All]
      client_app_types: [all]
    grant_controls:
      operator: OR
      built_in_controls: [mfa]
    session_controls:
      sign_in_frequency:
        frequency_interval: every_time
        authentication_type: primary_and_secondary_authentication
"""

RETURN = r"""
policy:
  description: The policy as Graph has it after the task (predicted in check mode; empty after delete).
  returned: always
  type: dict
"""

from ansible_collections.msp.conditional_access.plugins.module_utils._module import GraphModule
from ansible_collections.msp.conditional_access.plugins.module_utils._policy import STATES, Policies


def main():
    module = GraphModule(
        argument_spec=dict(
            display_name=dict(type="str"),
            id=dict(type="str"),
            description=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            policy_state=dict(type="str", choices=list(STATES)),
            conditions=dict(type="dict", options=dict(
                users=dict(type="dict"),
                applications=dict(type="dict"),
                client_app_types=dict(type="list", elements="str"),
                locations=dict(type="dict"),
                platforms=dict(type="dict"),
                user_risk_levels=dict(type="list", elements="str"),
                sign_in_risk_levels=dict(type="list", elements="str"),
                service_principal_risk_levels=dict(type="list", elements="str"),
                devices=dict(type="dict"),
                client_applications=dict(type="dict"),
            )),
            grant_controls=dict(type="dict"),
            session_controls=dict(type="dict"),
            purge_exclusions=dict(type="bool", default=False),
            break_glass_accounts=dict(type="list", elements="str", default=[]),
            allow_lockout_risk=dict(type="bool", default=False),
            naming_convention=dict(type="str", default="none", choices=["none", "microsoft"]),
        ),
        required_one_of=[("display_name", "id")],
    )
    module.run(Policies(module).ensure)


if __name__ == "__main__":
    main()
