#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cipp_api_client_ips_info
short_description: List CIPP-API clients with their Allowed IP Ranges
version_added: 0.1.0
description:
  - Lists every CIPP-API client with role, enabled flag and ranges, and flags the unrestricted ones. No secrets.
extends_documentation_fragment:
  - msp.conditional_access.graph
  - msp.conditional_access.cipp
  - msp.conditional_access.cipp.actiongroup
  - msp.conditional_access.attributes.info_module
author:
  - MSP Conditional Access contributors (@msp-conditional-access)
"""

EXAMPLES = r"""
- name: Which CIPP-API clients accept calls from any IP?
  msp.conditional_access.cipp_api_client_ips_info:
  register: cipp_clients
"""

RETURN = r"""
api_clients:
  description: The API clients.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.msp.conditional_access.plugins.module_utils._cipp import CIPP_ARGUMENT_SPEC, list_clients
from ansible_collections.msp.conditional_access.plugins.module_utils._module import GraphModule


def main():
    module = GraphModule(argument_spec=dict(CIPP_ARGUMENT_SPEC))
    module.run(lambda: {"changed": False, "api_clients": list_clients(module)})


if __name__ == "__main__":
    main()
