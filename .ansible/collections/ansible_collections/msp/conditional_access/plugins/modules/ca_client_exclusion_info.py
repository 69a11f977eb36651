#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ca_client_exclusion_info
short_description: Report which Conditional Access policies of a client tenant lack the MSP exclusion
version_added: 0.1.0
description:
  - Read-only companion of M(msp.conditional_access.ca_client_exclusion). Lists every policy of the client tenant
    with whether it can reach the MSP's users and whether the MSP (GDAP service provider users of
    O(msp_tenant_id), or the service account in V(direct) mode) is excluded.
  - One list request (plus one user lookup in O(mode=direct), by UPN or object id).
extends_documentation_fragment:
  - msp.conditional_access.graph
  - msp.conditional_access.graph.actiongroup
  - msp.conditional_access.attributes.info_module
options:
  msp_tenant_id:
    description: Tenant id (GUID) of the MSP.
    type: str
    required: true
  msp_tenant_name:
    description: Display name of the MSP tenant, shown next to its id.
    type: str
  mode:
    description: V(gdap) checks the service provider exclusion, V(direct) the service account exclusion.
    type: str
    choices: [gdap, direct]
    default: gdap
  service_account:
    description:
      - UPN or object id of the CIPP service account. Required when O(mode=direct).
      - An account that does not exist in the tenant fails the task.
    type: str
  policies:
    description: Limit the report to these policies (display names or ids).
    type: list
    elements: str
author:
  - MSP Conditional Access contributors (@msp-conditional-access)
"""

EXAMPLES = r"""
- name: Which client policies would block CIPP?
  msp.conditional_access.ca_client_exclusion_info:
    tenant_id: "{{ client_tenant_id }}"
    msp_tenant_id: 2f4a9c5e-1111-4222-8333-944455556666
  register: report

- name: Fail the audit when a targeting policy lacks the exclusion
  ansible.builtin.assert:
    that: report.missing | length == 0
    fail_msg: "Policies without the MSP exclusion: {{ report.missing | join(', ') }}"
"""

RETURN = r"""
policies:
  description: One entry per policy.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Policy id.
      type: str
    display_name:
      description: Policy name.
      type: str
    state:
      description: V(enabled), V(disabled) or V(enabledForReportingButNotEnforced) (report-only).
      type: str
    microsoft_managed:
      description: Whether the name starts with C(Microsoft-managed:).
      type: bool
    targeting:
      description: Whether the policy can reach the MSP's users.
      type: bool
    targeting_reason:
      description: Why it can (null when it cannot).
      type: str
    excluded:
      description: Whether the MSP is excluded.
      type: bool
    missing:
      description: Targeting and not excluded - the policies that can block CIPP.
      type: bool
    exclusions:
      description: The policy's user and guest exclusions, with the MSP tenant and service account named.
      type: dict
missing:
  description: Display names of the policies that can reach the MSP's users and do not exclude it.
  returned: always
  type: list
  elements: str
service_account_id:
  description: Object id of the service account (direct mode), else null.
  returned: always
  type: str
graph_requests:
  description: Graph requests sent.
  returned: always
  type: int
"""

from ansible_collections.msp.conditional_access.plugins.module_utils._exclusion import (
    EXCLUSION_TARGET_REQUIRED_IF,
    EXCLUSION_TARGET_SPEC,
    exclusion_report,
)
from ansible_collections.msp.conditional_access.plugins.module_utils._module import GraphModule


def main():
    module = GraphModule(supports_check_mode=True, argument_spec=EXCLUSION_TARGET_SPEC, required_if=EXCLUSION_TARGET_REQUIRED_IF)
    module.run(lambda: exclusion_report(module))


if __name__ == "__main__":
    main()
