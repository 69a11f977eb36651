#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cipp_api_client_ips
short_description: Set the Allowed IP Ranges of a CIPP-API client (Part C)
version_added: 0.1.0
description:
  - Sets the exact list of IP ranges a CIPP-API client may call from, through CIPP's own ExecApiClient endpoint,
    and runs Save Azure Configuration when CIPP's saved client list is out of date.
  - The client's role, enabled flag and MCP setting are sent back unchanged; only the ranges change.
  - Entries are validated locally first. CIPP would drop invalid entries with a warning and save the rest,
    and an all-invalid list would leave the client open to every IP. IPv6 is sent fully expanded, because CIPP
    rejects C(::) notation.
  - The stored ranges are read back after writing; a mismatch fails the task.
extends_documentation_fragment:
  - msp.conditional_access.graph
  - msp.conditional_access.cipp
  - msp.conditional_access.cipp.actiongroup
  - msp.conditional_access.attributes
options:
  api_client:
    description: The API client to restrict, by client id (GUID) or app name. Ambiguous or unknown names fail.
    type: str
    required: true
  allowed_ip_ranges:
    description: The complete list of IPv4/IPv6 addresses or CIDR ranges the client may call from.
    type: list
    elements: str
    required: true
  allow_any_ip:
    description: Allow an empty O(allowed_ip_ranges), which CIPP treats as any IP.
    type: bool
    default: false
  save_azure_config:
    description:
      - V(auto) runs Save Azure Configuration only when the enabled clients differ from the saved configuration,
        as the CIPP UI does. IP changes themselves take effect without it.
    type: str
    choices: [auto, always, never]
    default: auto
  controller_ip:
    description:
      - Public address this controller calls CIPP from. When the target is the controller's own API client, a
        list that does not contain it is refused unless O(force=true).
    type: str
  force:
    description: Apply a list that would lock the controller out of its own API client.
    type: bool
    default: false
author:
  - MSP Conditional Access contributors (@msp-conditional-access)
"""

EXAMPLES = r"""
- name: Part C - restrict the RMM integration's API client to the office IPs
  msp.conditional_access.cipp_api_client_ips:
    tenant_id: "{{ msp_tenant_id }}"
    api_client: RMM integration
    allowed_ip_ranges:
      - 203.0.113.10/32
      - 203.0.113.0/24
      - 2001:db8:10::/48

- name: Part C - the controller's own client, never locking itself out; then Save Azure Configuration if needed
  msp.conditional_access.cipp_api_client_ips:
    tenant_id: "{{ msp_tenant_id }}"
    api_client: "{{ lookup('env', 'AZURE_CLIENT_ID') }}"
    allowed_ip_ranges: [203.0.113.10/32]
    controller_ip: 203.0.113.10
    save_azure_config: auto
"""

RETURN = r"""
api_client:
  description: The client after the task (ranges predicted in check mode). C(allowed_ip_ranges) of C([Any]) means unrestricted.
  returned: always
  type: dict
saved_azure_config:
  description: Whether Save Azure Configuration ran (or would run, in check mode).
  returned: always
  type: bool
"""

from ansible_collections.msp.conditional_access.plugins.module_utils._cipp import CIPP_ARGUMENT_SPEC, ApiClientIps
from ansible_collections.msp.conditional_access.plugins.module_utils._module import GraphModule


def main():
    spec = dict(CIPP_ARGUMENT_SPEC)
    spec.update(
        api_client=dict(type="str", required=True),
        allowed_ip_ranges=dict(type="list", elements="str", required=True),
        allow_any_ip=dict(type="bool", default=False),
        save_azure_config=dict(type="str", default="auto", choices=["auto", "always", "never"]),
        controller_ip=dict(type="str"),
        force=dict(type="bool", default=False),
    )
    module = GraphModule(argument_spec=spec)
    module.run(ApiClientIps(module).ensure)


if __name__ == "__main__":
    main()
