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
  - Lists every CIPP-API client with its role, enabled flag and Allowed IP Ranges, flags the ones any IP may use, and
    tells whether Save Azure Configuration is pending. No secrets (CIPP's list holds none).
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
    tenant_id: "{{ msp_tenant_id }}"
  register: cipp_clients

- name: Report them
  ansible.builtin.debug:
    msg: "{{ cipp_clients.api_clients | selectattr('unrestricted') | map(attribute='app_name') | list }}"
"""

RETURN = r"""
api_clients:
  description: The API clients, in CIPP's order.
  returned: always
  type: list
  elements: dict
  contains:
    client_id:
      description: Application (client) id.
      type: str
    app_name:
      description: Name of the API client in CIPP.
      type: str
    role:
      description: CIPP role, or null when the client has none (CIPP then uses the C(cipp-api) role).
      type: str
    enabled:
      description: Whether the client is enabled in CIPP.
      type: bool
    mcp_allowed:
      description: Whether the client may use CIPP's MCP endpoint.
      type: bool
    allowed_ip_ranges:
      description: The ranges, IPv6 fully expanded as CIPP stores them; V([Any]) means unrestricted.
      type: list
      elements: str
    unrestricted:
      description: Whether the client may call from any IP.
      type: bool
    denies_all:
      description: Whether CIPP holds an empty list for the client, which refuses every request.
      type: bool
    saved_to_azure:
      description: Whether the client is in the saved Azure configuration (absent when that could not be read).
      type: bool
      returned: when GetAzureConfiguration answered
azure_config_pending:
  description: Whether the enabled clients differ from the saved Azure configuration (null when it could not be read).
  returned: always
  type: bool
"""

from ansible_collections.msp.conditional_access.plugins.module_utils._cipp import CIPP_ARGUMENT_SPEC, list_clients
from ansible_collections.msp.conditional_access.plugins.module_utils._module import GraphModule


def main():
    module = GraphModule(supports_check_mode=True, argument_spec=dict(CIPP_ARGUMENT_SPEC))
    module.run(lambda: list_clients(module))


if __name__ == "__main__":
    main()
