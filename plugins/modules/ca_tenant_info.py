#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ca_tenant_info
short_description: Conditional Access readiness of a tenant (licences, security defaults, policy counts)
version_added: 0.1.0
description:
  - Reads what a tenant needs before Conditional Access policies can be managed, as in the prerequisites of
    the CIPP lock-down guide - an Entra ID P1 or P2 licence, security defaults turned off, the break-glass
    accounts, and an app that may read the policies.
  - Entra ID P1/P2 is detected from the service plans of the enabled subscribed SKUs
    (C(AAD_PREMIUM) 41781fb2-bc02-4b7c-bd55-b576c07bb09d, C(AAD_PREMIUM_P2) eec0eb4f-6444-4f95-aba0-50c24d67f998),
    so bundles such as Microsoft 365 Business Premium or E5 count.
  - Counts Conditional Access policies by state (and the Microsoft-managed ones) and named locations by kind.
  - Optionally looks up users (by UPN or id) and groups (by display name) to prove they exist.
  - A section the app may not read (HTTP 403) does not fail the task. It is reported under RV(permissions)
    with the permission it needs, and as a warning. A tenant that refuses the app's token (HTTP 401, or no token
    at all, that is not consented) returns the failed C(App consent) check in RV(checks). Other errors fail the task.
  - RV(checks) is the preflight's verdict (one named check per prerequisite, passed or not, and why), which the
    C(msp.conditional_access.preflight) role prints and asserts.
  - Never writes. One GET (or one paged list) per section, one per user and group.
extends_documentation_fragment:
  - msp.conditional_access.graph
  - msp.conditional_access.graph.actiongroup
  - msp.conditional_access.attributes.info_module
options:
  gather_subset:
    description:
      - The sections to read. Users and groups are read when O(users) or O(groups) is given.
    type: list
    elements: str
    choices: [licenses, security_defaults, policies, named_locations]
    default: [licenses, security_defaults, policies, named_locations]
  users:
    description:
      - UPNs or object ids of users that must exist, such as the break-glass accounts and the CIPP service account.
    type: list
    elements: str
  groups:
    description:
      - Display names of groups that must exist (exactly one group each), such as the CIPP technicians group.
    type: list
    elements: str
  tenant_role:
    description:
      - Which prerequisites RV(checks) holds. V(msp) is the MSP tenant (the lock-down guide's list, break-glass
        accounts included); V(client) is a client tenant (app consent, licence, security defaults, what the app
        may read).
    type: str
    choices: [msp, client]
    default: msp
  break_glass_accounts:
    description:
      - Emergency accounts (UPNs or ids) that must exist. With O(tenant_role=msp) an empty list is a failed check.
    type: list
    elements: str
    default: []
  service_account:
    description: The CIPP service account (UPN or id) that must exist.
    type: str
  required_permissions:
    description: Application permissions the Graph token must carry (checked when the token lists its roles).
    type: list
    elements: str
    default: [Policy.Read.All, Policy.ReadWrite.ConditionalAccess]
author:
  - MSP Conditional Access contributors (@msp-conditional-access)
"""

EXAMPLES = r"""
- name: Is the MSP tenant ready for Conditional Access?
  msp.conditional_access.ca_tenant_info:
    tenant_id: "{{ msp_tenant_id }}"
    users:
      - breakglass01@contoso-msp.onmicrosoft.com
      - cipp-svc@contoso-msp.onmicrosoft.com
    groups:
      - CIPP Technicians
  register: tenant

- name: Conditional Access needs Entra ID P1 and no security defaults
  ansible.builtin.assert:
    that:
      - tenant.licenses.entra_id_p1
      - not tenant.security_defaults_enabled
      - tenant.users | rejectattr('found') | list | length == 0

- name: Count policies in every client tenant
  msp.conditional_access.ca_tenant_info:
    tenant_id: "{{ tenant_id }}"
    gather_subset: [policies]
  register: counts
"""

RETURN = r"""
checks:
  description:
    - The preflight's verdict, one named check per prerequisite, in order. A tenant that gives the app no token
      (not consented) returns only the failed C(App consent) check instead of failing the task.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: What is checked, such as C(Security defaults) or C(Break-glass account breakglass01@contoso.com).
      type: str
    passed:
      description: Whether the prerequisite holds.
      type: bool
    reason:
      description: What was found, and what to change when it fails.
      type: str
  sample: [{"name": "Security defaults", "passed": false, "reason": "ENABLED: turn them off before using Conditional Access"}]
summary:
  description: "RV(checks) as printable lines, C(PASS <name>: <reason>) or C(FAIL <name>: <reason>)."
  returned: always
  type: list
  elements: str
  sample: ["PASS Entra ID P1/P2 licence: P2", "FAIL Security defaults: ENABLED: turn them off before using Conditional Access"]
tenant_id:
  description: The tenant that was read.
  returned: always
  type: str
licenses:
  description: Entra ID licensing (null when the SKUs could not be read).
  returned: when licenses is in O(gather_subset)
  type: dict
  contains:
    entra_id_p1:
      description: Whether an enabled SKU carries Entra ID P1 or P2 (Conditional Access needs P1).
      type: bool
    entra_id_p2:
      description: Whether an enabled SKU carries Entra ID P2 (risk conditions need it).
      type: bool
    skus:
      description: Every subscribed SKU with its status and the Entra ID plans it carries.
      type: list
      elements: dict
  sample: {"entra_id_p1": true, "entra_id_p2": false,
           "skus": [{"sku_part_number": "SPB", "capability_status": "Enabled", "entra_id_plans": ["AAD_PREMIUM"]}]}
security_defaults_enabled:
  description: Whether security defaults are on (they must be off for Conditional Access); null when unreadable.
  returned: when security_defaults is in O(gather_subset)
  type: bool
policies:
  description: Conditional Access policy counts (null when unreadable).
  returned: when policies is in O(gather_subset)
  type: dict
  sample: {"total": 7, "enabled": 4, "report_only": 2, "disabled": 1, "microsoft_managed": 1}
named_locations:
  description: Named location counts (null when unreadable).
  returned: when named_locations is in O(gather_subset)
  type: dict
  sample: {"total": 2, "ip": 1, "country": 1, "trusted": 1}
users:
  description: One entry per O(users) item. C(found) is null when users could not be read.
  returned: always
  type: list
  elements: dict
  sample: [{"ref": "breakglass01@contoso-msp.onmicrosoft.com", "found": true, "id": "0b1f...",
            "display_name": "Break Glass 01", "account_enabled": true}]
groups:
  description: One entry per O(groups) item; C(found) is true only for exactly one match.
  returned: always
  type: list
  elements: dict
  sample: [{"ref": "CIPP Technicians", "found": true, "ids": ["5e3c..."], "ambiguous": false}]
permissions:
  description: Per section read, V(ok) or why it was denied and which permission it needs.
  returned: always
  type: dict
  sample: {"licenses": "ok", "policies": "ok",
           "users": "denied (Authorization_RequestDenied): missing permission: resolving users needs User.Read.All ..."}
token_permissions:
  description: Application permissions (C(roles)) or delegated scopes of the Graph token, null when unreadable.
  returned: always
  type: list
  elements: str
graph_requests:
  description: Graph requests the task sent (token requests not counted).
  returned: always
  type: int
"""

from ansible_collections.msp.conditional_access.plugins.module_utils._module import GraphModule
from ansible_collections.msp.conditional_access.plugins.module_utils._tenant import TENANT_INFO_SPEC, TenantInfo


def main():
    module = GraphModule(supports_check_mode=True, argument_spec=TENANT_INFO_SPEC)
    module.run(TenantInfo(module).gather)


if __name__ == "__main__":
    main()
