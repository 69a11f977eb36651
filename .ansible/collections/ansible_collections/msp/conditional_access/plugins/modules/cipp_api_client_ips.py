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
  - Sets the exact list of IP ranges a CIPP-API client may call from, through CIPP's own C(ExecApiClient) endpoint
    (what CIPP > Integrations > CIPP-API > Actions > Edit > Allowed IP Ranges does), and runs Save Azure Configuration
    when CIPP's saved client list is out of date.
  - The client's role, enabled flag and MCP setting are sent back unchanged; only the ranges change. The module never
    resets the client's secret.
  - Entries are validated locally first, and nothing is sent if one is invalid. CIPP would drop invalid entries with a
    warning and save the rest, and an all-invalid list would leave the client open to every IP. IPv6 is sent fully
    expanded, because CIPP rejects C(::) notation.
  - Ranges are compared as sets of networks, so order, duplicates, bare addresses and IPv6 notation do not cause changes.
  - The stored ranges are read back after writing; a mismatch fails the task. CIPP answers errors with HTTP 200 and a
    C(state) of C(error) or C(warning); any of them fails the task with CIPP's own text.
  - IP ranges take effect on the next request without Save Azure Configuration; that only syncs which clients are enabled.
extends_documentation_fragment:
  - msp.conditional_access.graph
  - msp.conditional_access.cipp
  - msp.conditional_access.cipp.actiongroup
  - msp.conditional_access.attributes
options:
  api_client:
    description: The API client to restrict, by client id (GUID) or exact app name. Ambiguous or unknown names fail.
    type: str
    required: true
  allowed_ip_ranges:
    description:
      - The complete list of IPv4/IPv6 addresses or CIDR ranges the client may call from. A bare address means a single host.
      - An empty list, or a C(/0) range, lets every IP in and is refused unless O(allow_any_ip=true).
    type: list
    elements: str
    required: true
  allow_any_ip:
    description: Allow an empty O(allowed_ip_ranges) (CIPP then accepts the client from any IP) or a C(/0) range.
    type: bool
    default: false
  save_azure_config:
    description:
      - V(auto) runs Save Azure Configuration only when the enabled clients differ from the saved configuration,
        as the CIPP UI does. V(always) runs it every time (and reports a change). V(never) leaves it alone.
      - Save Azure Configuration restarts CIPP; changes can take about 60 seconds.
    type: str
    choices: [auto, always, never]
    default: auto
  controller_ip:
    description:
      - Public address this controller calls CIPP from. When the target is the controller's own API client, a
        list that does not contain it is refused unless O(force=true).
      - Without it, the module warns when the target is the controller's own client.
    type: str
  force:
    description:
      - Apply a list that would lock the controller out of its own API client. The read-back is then refused by
        CIPP, which the module reports as a warning.
    type: bool
    default: false
author:
  - MSP Conditional Access contributors (@msp-conditional-access)
"""

EXAMPLES = r"""
# Part C, steps 1-5 for one client: CIPP > Integrations > CIPP-API > Edit > Allowed IP Ranges (the office range
# of Step 1, IPv6 in any notation), Save, then Save Azure Configuration when CIPP's saved client list is out of date.
- name: Restrict the RMM integration's CIPP-API client to the office
  msp.conditional_access.cipp_api_client_ips:
    tenant_id: "{{ msp_tenant_id }}"
    api_client: RMM integration
    allowed_ip_ranges:
      - 203.0.113.0/24
      - 2001:db8:10::/48
    save_azure_config: auto

# "The allowlist is per API client ... clients with no IP ranges specified are accessible from any IP":
# restrict each one. controller_ip guards this controller's own client: a list without it is refused.
- name: List the CIPP-API clients
  msp.conditional_access.cipp_api_client_ips_info:
    tenant_id: "{{ msp_tenant_id }}"
  register: cipp_clients

- name: Restrict every CIPP-API client individually
  msp.conditional_access.cipp_api_client_ips:
    tenant_id: "{{ msp_tenant_id }}"
    api_client: "{{ item.client_id }}"
    allowed_ip_ranges: [203.0.113.0/24, 2001:db8:10::/48]
    controller_ip: 203.0.113.10
  loop: "{{ cipp_clients.api_clients }}"
  loop_control:
    label: "{{ item.app_name }}"
"""

RETURN = r"""
api_client:
  description: The client after the task (predicted in check mode). No secrets.
  returned: always
  type: dict
  contains:
    client_id:
      description: Application (client) id of the API client.
      type: str
      sample: 00000000-0000-4000-8000-000000000000
    app_name:
      description: Name of the API client in CIPP.
      type: str
      sample: RMM integration
    role:
      description: CIPP role of the client (unchanged by this module).
      type: str
      sample: readonly
    enabled:
      description: Whether the client is enabled in CIPP (unchanged by this module).
      type: bool
    mcp_allowed:
      description: Whether the client may use CIPP's MCP endpoint (unchanged by this module).
      type: bool
    allowed_ip_ranges:
      description: The ranges as CIPP lists them; V([Any]) means unrestricted.
      type: list
      elements: str
      sample: [203.0.113.0/24, 2001:0db8:0010:0000:0000:0000:0000:0000/48]
    unrestricted:
      description: Whether the client may call from any IP.
      type: bool
    denies_all:
      description: Whether CIPP holds an empty list for the client, which refuses every request (CIPP-API before PR
        472 of CyberDrain/CIPP).
      type: bool
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
    module = GraphModule(supports_check_mode=True, argument_spec=spec)
    module.run(ApiClientIps(module).ensure)


if __name__ == "__main__":
    main()
