#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ca_policy_info
short_description: List Entra ID Conditional Access policies with names instead of ids
version_added: 0.1.0
description:
  - Lists policies, filtered by name, id or state, with users, groups, roles, locations and applications shown by
    name. Each entry also carries C(graph), the policy exactly as Graph returns it (a backup).
extends_documentation_fragment:
  - msp.conditional_access.graph
  - msp.conditional_access.graph.actiongroup
  - msp.conditional_access.attributes.info_module
options:
  display_name:
    description: Only policies with this display name.
    type: str
  id:
    description: Only the policy with this id.
    type: str
  policy_states:
    description: Only policies in these states.
    type: list
    elements: str
    choices: [enabled, disabled, report_only]
author:
  - MSP Conditional Access contributors (@msp-conditional-access)
"""

EXAMPLES = r"""
- name: Back up every policy of the tenant
  msp.conditional_access.ca_policy_info:
  register: backup
"""

RETURN = r"""
policies:
  description: The policies, readable, each with C(id) and the raw Graph object in C(graph).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.msp.conditional_access.plugins.module_utils._module import GraphModule
from ansible_collections.msp.conditional_access.plugins.module_utils._policy import list_policies


def main():
    module = GraphModule(
        argument_spec=dict(
            display_name=dict(type="str"),
            id=dict(type="str"),
            policy_states=dict(type="list", elements="str", choices=["enabled", "disabled", "report_only"]),
        ),
        mutually_exclusive=[("display_name", "id")],
    )
    p = module.params
    module.run(lambda: {"changed": False, "policies": list_policies(module, p["display_name"], p["id"], p["policy_states"])})


if __name__ == "__main__":
    main()
