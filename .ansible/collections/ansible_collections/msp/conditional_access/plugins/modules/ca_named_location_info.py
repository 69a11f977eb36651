#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ca_named_location_info
short_description: List Entra ID Conditional Access named locations
version_added: 0.1.0
description:
  - Lists IP and country named locations, optionally with the policies that use each one.
extends_documentation_fragment:
  - msp.conditional_access.graph
  - msp.conditional_access.graph.actiongroup
  - msp.conditional_access.attributes.info_module
options:
  display_name:
    description: Only locations with this display name.
    type: str
  id:
    description: Only the location with this id.
    type: str
  with_references:
    description: Add C(used_by), the policies that include or exclude each location (one more request).
    type: bool
    default: false
author:
  - MSP Conditional Access contributors (@msp-conditional-access)
"""

EXAMPLES = r"""
- name: Which policies use the office location?
  msp.conditional_access.ca_named_location_info:
    display_name: Trusted - MSP Office
    with_references: true
  register: office
"""

RETURN = r"""
named_locations:
  description: The locations, summarised.
  returned: always
  type: list
  elements: dict
  sample:
    - id: 0854951d-5fc0-4eb1-b392-9b2c9d7949c2
      display_name: Trusted - MSP Office
      type: ip
      is_trusted: true
      ip_ranges: [203.0.113.0/24]
      used_by: [{id: 5b3c..., display_name: CA100-Admins-...}]
"""

from ansible_collections.msp.conditional_access.plugins.module_utils._location import list_locations
from ansible_collections.msp.conditional_access.plugins.module_utils._module import GraphModule


def main():
    module = GraphModule(
        supports_check_mode=True,
        argument_spec=dict(
            display_name=dict(type="str"),
            id=dict(type="str"),
            with_references=dict(type="bool", default=False),
        ),
        mutually_exclusive=[("display_name", "id")],
    )
    p = module.params
    module.run(lambda: {"changed": False, "named_locations": list_locations(
        module.graph, p["display_name"], p["id"], p["with_references"])})


if __name__ == "__main__":
    main()
