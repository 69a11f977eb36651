#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ca_mfa_coverage_info
short_description: Partner (CSP) MFA audit - are All users covered by MFA, and where are the holes?
version_added: 0.2.0
description:
  - Microsoft requires MFA for every account of a partner tenant, guests included, with no exclusions. This module
    checks whether an B(enabled) Conditional Access policy covers All users (guests included) for all applications
    and requires MFA or an authentication strength, and lists every hole by name - excluded users, groups, roles
    and guests, trusted-location and other location exemptions, excluded applications, narrowing conditions
    (client apps, platforms, device filters, risk), OR grants that let another control stand in for MFA,
    report-only or disabled coverage, and the security defaults state.
  - Break-glass accounts (O(break_glass_accounts)) are holes too, unless an enabled policy of their own (naming
    them in its included users) requires the phishing-resistant MFA authentication strength for all applications.
  - A hole that another enabled MFA policy for all applications closes (it includes the excluded user, group or
    role, or All users without that exclusion) is not listed.
  - In a client tenant the same figure shows the client's MFA posture. The MSP's own exclusion there (Part D,
    service provider users of O(msp_tenant_id), or O(service_account) in direct mode) is listed as a
    C(sanctioned) hole, and RV(scubagear) / RV(maester) declare it to those audit tools.
  - Says plainly what Graph cannot show, above all the legacy per-user MFA trusted IPs (RV(not_visible)).
  - Never writes. One policy list, one security defaults read, and name lookups (cached) for what is shown.
extends_documentation_fragment:
  - msp.conditional_access.graph
  - msp.conditional_access.graph.actiongroup
  - msp.conditional_access.attributes.info_module
options:
  break_glass_accounts:
    description: UPNs or object ids of the tenant's break-glass (emergency access) accounts. Each must exist.
    type: list
    elements: str
    default: []
  msp_tenant_id:
    description: The MSP's tenant id, to recognise its sanctioned service provider exclusion in a client tenant.
    type: str
  msp_tenant_name:
    description: The MSP tenant's name, shown next to its id.
    type: str
  mode:
    description:
      - How the MSP reaches this client tenant (Part D), for the ScubaGear and Maester exports. Leave unset in the MSP
        tenant.
    type: str
    choices: [gdap, direct]
  service_account:
    description: UPN or object id of the CIPP service account excluded in O(mode=direct).
    type: str
  tenant_name:
    description: A name for the tenant in the exports' comments.
    type: str
seealso:
  - module: msp.conditional_access.ca_policy_info
  - module: msp.conditional_access.ca_client_exclusion_info
author:
  - MSP Conditional Access contributors (@msp-conditional-access)
"""

EXAMPLES = r"""
- name: Partner MFA audit of the MSP tenant
  msp.conditional_access.ca_mfa_coverage_info:
    tenant_id: "{{ msp_tenant_id }}"
    break_glass_accounts: "{{ msp_break_glass_accounts }}"
  register: mfa

- name: Fail when the partner tenant has an MFA hole
  ansible.builtin.assert:
    that: mfa.covered
    fail_msg: "{{ mfa.holes | map(attribute='name') | join(', ') }}"

- name: MFA posture of a client tenant, with the ScubaGear declaration of the GDAP exclusion
  msp.conditional_access.ca_mfa_coverage_info:
    tenant_id: "{{ tenant_id }}"
    msp_tenant_id: "{{ msp_tenant_id }}"
    mode: gdap
  register: client_mfa
"""

RETURN = r"""
status:
  description:
    - V(covered), V(sanctioned_only) (covered; the only holes are the MSP's sanctioned exclusion), V(holes),
      V(report_only) (only report-only or disabled policies would cover All users), V(security_defaults) or V(none).
  returned: always
  type: str
status_text:
  description: The status in words.
  returned: always
  type: str
covered:
  description: True for V(covered) and V(sanctioned_only).
  returned: always
  type: bool
baseline_policy:
  description: The enabled All users / all applications MFA policy the holes are counted against (null if none).
  returned: always
  type: str
holes:
  description: Every hole, by name.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description:
        - V(excluded_user), V(excluded_group), V(excluded_role), V(excluded_guests), V(trusted_location),
          V(excluded_location), V(location), V(excluded_application), V(client_app_types), V(platforms),
          V(device_filter), V(risk), V(grant), V(report_only), V(disabled), V(break_glass) or V(no_policy).
      type: str
    name:
      description: Who or what is left out, by name (UPN, group, role, location or application name).
      type: str
    policy:
      description: The policy the hole is in.
      type: str
    detail:
      description: Why it is a hole.
      type: str
    sanctioned:
      description: The MSP's own exclusion (Part D) in a client tenant.
      type: bool
  sample: [{"kind": "trusted_location", "name": "Trusted - MSP Office", "policy": "CA001 MFA", "sanctioned": false,
            "detail": "MFA skipped from this trusted location"}]
open_holes:
  description: Holes that are not sanctioned.
  returned: always
  type: int
break_glass:
  description: One entry per break-glass account - C(account), C(id), C(protected), C(policy), C(detail).
  returned: always
  type: list
  elements: dict
security_defaults_enabled:
  description: Whether security defaults are on (null when unreadable).
  returned: always
  type: bool
not_visible:
  description: What Graph cannot show and has to be checked by hand.
  returned: always
  type: list
  elements: str
scubagear:
  description: ScubaGear YAML (C(Aad.<check>.CapExclusions)) declaring the sanctioned exclusions; null if none.
  returned: always
  type: str
maester:
  description: A C(maester-config.json) fragment with the emergency access accounts.
  returned: always
  type: dict
maester_note:
  description: Why Maester MT.1016 fails with a GDAP exclusion and what to do (null in other modes).
  returned: always
  type: str
graph_requests:
  description: Graph requests sent.
  returned: always
  type: int
"""

from ansible_collections.msp.conditional_access.plugins.module_utils._mfa import MfaCoverage
from ansible_collections.msp.conditional_access.plugins.module_utils._module import GraphModule


def main():
    module = GraphModule(
        supports_check_mode=True,
        argument_spec=dict(
            break_glass_accounts=dict(type="list", elements="str", default=[]),
            msp_tenant_id=dict(type="str"),
            msp_tenant_name=dict(type="str"),
            mode=dict(type="str", choices=["gdap", "direct"]),
            service_account=dict(type="str"),
            tenant_name=dict(type="str"),
        ),
        required_if=[("mode", "direct", ("service_account",))],
    )
    module.run(MfaCoverage(module).run)


if __name__ == "__main__":
    main()
