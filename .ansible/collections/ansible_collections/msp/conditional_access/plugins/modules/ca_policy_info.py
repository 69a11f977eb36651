#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ca_policy_info
short_description: List Entra ID Conditional Access policies as ca_policy options, with names instead of ids
version_added: 0.1.0
description:
  - Lists policies, filtered by display name, id or state.
  - Each policy comes back in the option form of M(msp.conditional_access.ca_policy) (C(display_name),
    C(policy_state), C(conditions), C(grant_controls), C(session_controls)), with users shown by UPN and groups,
    roles, named locations and applications by name. That form is an export that M(msp.conditional_access.ca_policy)
    re-applies as it is. Each entry also carries C(graph), the policy exactly as Graph returns it.
  - An id that no longer resolves (a deleted user, for example) is shown as the id.
extends_documentation_fragment:
  - msp.conditional_access.graph
  - msp.conditional_access.graph.actiongroup
  - msp.conditional_access.attributes.info_module
options:
  display_name:
    description: Only the policies with exactly this display name.
    type: str
  id:
    description: Only the policy with this id (none when it does not exist).
    type: str
  policy_states:
    description: Only policies in these states.
    type: list
    elements: str
    choices: [enabled, disabled, report_only]
seealso:
  - module: msp.conditional_access.ca_policy
author:
  - MSP Conditional Access contributors (@msp-conditional-access)
"""

EXAMPLES = r"""
- name: Back up every policy of the tenant
  msp.conditional_access.ca_policy_info:
  register: backup

- name: Save the backup next to the playbook
  ansible.builtin.copy:
    content: "{{ backup.policies | to_nice_yaml }}"
    dest: "ca-policies-{{ tenant_id }}.yml"
    mode: "0600"
  delegate_to: localhost

- name: Report-only policies waiting to be enabled
  msp.conditional_access.ca_policy_info:
    policy_states: [report_only]
  register: pending
"""

RETURN = r"""
policies:
  description: The policies, sorted by display name.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Object id.
      type: str
    display_name:
      description: Display name.
      type: str
    description:
      description: Description, when the policy has one.
      type: str
    policy_state:
      description: V(enabled), V(disabled) or V(report_only).
      type: str
    managed:
      description: Whether this is a Microsoft-managed policy (only state and exclusions can change).
      type: bool
    conditions:
      description: The conditions as M(msp.conditional_access.ca_policy) options, with names.
      type: dict
      sample:
        users: {include_groups: [CIPP Technicians], exclude_users: [breakglass01@contoso-msp.onmicrosoft.com]}
        applications: {include_applications: [All]}
        locations: {include_locations: [All], exclude_locations: [Trusted - MSP Office]}
        client_app_types: [all]
    grant_controls:
      description: Grant controls as options, when the policy has any.
      type: dict
      sample: {operator: OR, built_in_controls: [block]}
    session_controls:
      description: Session controls as options, when the policy has any.
      type: dict
      sample: {sign_in_frequency: {is_enabled: true, frequency_interval: every_time}}
    created_date_time:
      description: When the policy was created.
      type: str
    modified_date_time:
      description: When the policy was last changed (null if never).
      type: str
    graph:
      description: The policy exactly as Graph returns it.
      type: dict
"""

from ansible_collections.msp.conditional_access.plugins.module_utils._module import GraphModule
from ansible_collections.msp.conditional_access.plugins.module_utils._policy import STATES, list_policies


def main():
    module = GraphModule(
        supports_check_mode=True,
        argument_spec=dict(
            display_name=dict(type="str"),
            id=dict(type="str"),
            policy_states=dict(type="list", elements="str", choices=list(STATES)),
        ),
        mutually_exclusive=[("display_name", "id")],
    )
    module.run(lambda: list_policies(module))


if __name__ == "__main__":
    main()
