#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ca_client_exclusion
short_description: Exclude the MSP from every Conditional Access policy of a client tenant (Part D)
version_added: 0.1.0
description:
  - Makes every Conditional Access policy of one client tenant let the MSP in, so that CIPP (through GDAP or
    Direct Tenant mode) is not blocked by the client's own policies.
  - In V(gdap) mode the policy excludes "service provider users" of O(msp_tenant_id)
    (C(excludeGuestsOrExternalUsers) with C(serviceProvider) and the MSP tenant in an enumerated tenant list).
    A policy has only one such exclusion, so the MSP is merged into what is there and nothing is dropped.
    When the merge also excludes other guest types of the MSP tenant, or an existing exclusion of every
    external tenant already covers every service provider, the module says so in a warning and in the diff
    (a policy with a warning is shown in the diff even when nothing changes).
  - In V(direct) mode the policy excludes the CIPP service account (C(excludeUsers)).
  - A guest exclusion that names no tenant list does not count as excluding the MSP - it is completed with
    O(msp_tenant_id), as CIPP's own service exception does, with a warning naming the types it now limits.
  - Requests per run - one list of the policies (following paging); per policy that must change, a fresh read
    and one PATCH (the fresh read merges the exclusion into what the policy holds at that moment, so a
    concurrent change by another run or an admin is kept); one user lookup in V(direct) mode (a clone costs
    one POST and one PATCH). In diff mode, names of the exclusions are looked up once each. A compliant
    tenant gets no write.
    Conditional Access allows 1 request per second per tenant; the module paces itself. Run one task per
    client tenant (an inventory host per tenant) to work on several tenants in parallel.
  - The complete C(users) object is sent as plain JSON, so comma-separated guest type flags are kept exactly.
  - If some PATCHes fail, the task fails and its message and RV(policies) list which policies were
    changed and which not.
  - Graph v1.0 refuses some policies as preview features (error 1038, for example every-time sign-in frequency
    in Microsoft-managed risky sign-in policies). Such a write is sent again through C(/beta), with a warning.
extends_documentation_fragment:
  - msp.conditional_access.graph
  - msp.conditional_access.graph.actiongroup
  - msp.conditional_access.attributes
options:
  msp_tenant_id:
    description:
      - Tenant id (GUID) of the MSP, the tenant whose service provider users are excluded.
      - O(tenant_id) is the client tenant the module works in.
      - In V(gdap) mode the id is looked up in Graph first (C(findTenantInformationByTenantId), application
        permission C(CrossTenantInformation.ReadBasic.All)); an id Graph does not know, or cannot confirm, is
        refused before anything is written.
    type: str
    required: true
  msp_tenant_name:
    description:
      - Display name of the MSP tenant. In V(gdap) mode the diff and warnings show the name Graph has for
        O(msp_tenant_id), and a name that contradicts it is refused (a valid but wrong id must not look right).
    type: str
  mode:
    description:
      - V(gdap) excludes service provider users of the MSP tenant.
      - V(direct) excludes the CIPP service account of this client tenant (CIPP's Direct Tenant mode).
    type: str
    choices: [gdap, direct]
    default: gdap
  service_account:
    description:
      - UPN or object id of the CIPP service account in the client tenant. Required when O(mode=direct).
      - The account is looked up once (by UPN or object id); one that does not exist in the tenant fails the task
        before anything is written, so a mistyped object id cannot be excluded in place of the real account.
      - The diff shows the account's UPN next to its object id.
    type: str
  state:
    description:
      - V(absent) removes only the MSP's own exclusion and leaves every other exclusion in place.
      - Graph does not record who added C(serviceProvider) to a shared exclusion. When that type still serves
        other tenants (or every tenant), it is kept and the module warns; see the notes.
    type: str
    choices: [present, absent]
    default: present
  scope:
    description:
      - V(targeting) changes only policies that can reach the MSP's users - those that include all users,
        any directory role, all guest/external users, or external users of all tenants (or the MSP's service
        provider users). In V(direct) mode also policies that include the service account or any group.
      - V(all) changes every policy.
      - With O(state=absent) every selected policy that carries the MSP exclusion is cleaned, whatever the scope.
    type: str
    choices: [targeting, all]
    default: targeting
  include_disabled:
    description:
      - Also change disabled policies (a disabled policy may be turned on tomorrow).
    type: bool
    default: true
  policies:
    description:
      - Limit the run to these policies, by display name (case-insensitive, surrounding blanks ignored) or id.
        A name that matches no policy or several policies fails the task before anything is written.
      - Not set, every policy is looked at; an empty list selects none.
    type: list
    elements: str
  managed_policies:
    description:
      - What to do with Microsoft-managed policies (display name starting with C(Microsoft-managed:), with or
        without the colon).
      - V(exclude) adds the exclusion like on any other policy (Microsoft allows exclusions on them).
      - V(skip) leaves them alone.
      - V(clone_and_disable) creates a copy named O(clone_prefix) + the name without C(Microsoft-managed:),
        with the MSP exclusion and the state O(clone_state) (default the original's), then disables the original.
        The copy is built from a C(/beta) read of the original, so no preview condition is lost, and is written
        through C(/beta). A later run finds the copy by that name and does nothing. A Microsoft-managed policy
        that is already disabled and has no copy is not cloned; it gets the exclusion instead.
      - The copy is the MSP's own policy; it no longer gets Microsoft's updates to the managed policy, nor Microsoft's
        automatic enablement (Microsoft turns report-only managed policies on by itself after a grace period). The
        result says so for every clone.
    type: str
    choices: [exclude, skip, clone_and_disable]
    default: exclude
  clone_prefix:
    description:
      - Prefix of the copies made by O(managed_policies=clone_and_disable).
    type: str
    default: "Clone - "
  clone_state:
    description:
      - State of the copies made by O(managed_policies=clone_and_disable); not set, the original's state.
    type: str
    choices: [enabled, disabled, report_only]
notes:
  - Policies the SharePoint admin center made (display name starting with C([SharePoint admin center]), its
    unmanaged-device access setting) get the exclusion like any other, with a warning; SharePoint rewrites them
    when that setting changes, so the exclusion can be lost then.
  - Every write is read back (one listing after the writes) and compared with what was asked; a write Graph
    accepted without storing it fails the policy instead of counting as a change.
  - O(state=absent) cannot always restore a policy to what it was before O(state=present). Graph does not record
    who added C(serviceProvider) to C(excludeGuestsOrExternalUsers). When O(state=present) added it to an exclusion
    that also names other tenants, or to an exclusion of every external tenant, O(state=absent) leaves
    C(serviceProvider) in place, so service provider users of those tenants stay excluded. The task warns for each
    such policy; remove C(serviceProvider) by hand (for example with M(msp.conditional_access.ca_policy) and
    O(msp.conditional_access.ca_policy#module:purge_exclusions=true)) if the MSP added it.
author:
  - MSP Conditional Access contributors (@msp-conditional-access)
"""

EXAMPLES = r"""
- name: Part D - let the MSP into every client policy (one host per client tenant)
  msp.conditional_access.ca_client_exclusion:
    tenant_id: "{{ client_tenant_id }}"
    msp_tenant_id: 2f4a9c5e-1111-4222-8333-944455556666
    msp_tenant_name: Contoso MSP

- name: Direct Tenant mode - exclude the CIPP service account
  msp.conditional_access.ca_client_exclusion:
    tenant_id: "{{ client_tenant_id }}"
    msp_tenant_id: 2f4a9c5e-1111-4222-8333-944455556666
    mode: direct
    service_account: cipp-svc@client.onmicrosoft.com

- name: Replace Microsoft-managed policies by copies that let the MSP in
  msp.conditional_access.ca_client_exclusion:
    tenant_id: "{{ client_tenant_id }}"
    msp_tenant_id: 2f4a9c5e-1111-4222-8333-944455556666
    managed_policies: clone_and_disable

- name: Take the MSP out again (other exclusions stay)
  msp.conditional_access.ca_client_exclusion:
    tenant_id: "{{ client_tenant_id }}"
    msp_tenant_id: 2f4a9c5e-1111-4222-8333-944455556666
    state: absent
"""

RETURN = r"""
policies:
  description: One entry per selected policy, in Graph's order.
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
      description: The policy's state before the task.
      type: str
    action:
      description:
        - V(excluded), V(already_excluded), V(skipped) (see RV(policies[].reason)), V(cloned), V(already_cloned),
          V(removed), V(already_absent); after a failure V(failed) or V(not_attempted).
      type: str
    reason:
      description: Why a policy was skipped, what a clone did, or the error of a failed change.
      type: str
      returned: when there is one
    warnings:
      description: What the merge did beyond the MSP (widened guest types, an exclusion of every tenant).
      type: list
      elements: str
  sample:
    - id: 7d4f0c53-0d1e-4a43-8f5e-3c0f4f1b9a10
      display_name: Require MFA for all users
      state: enabled
      action: excluded
      warnings: []
summary:
  description: Number of policies per action.
  returned: always
  type: dict
  sample: {"excluded": 3, "already_excluded": 10, "skipped": 2}
service_account_id:
  description: Object id of the service account (direct mode), else null.
  returned: always
  type: str
graph_requests:
  description: Graph requests this task sent to the tenant (token requests not counted).
  returned: always
  type: int
"""

from ansible_collections.msp.conditional_access.plugins.module_utils._exclusion import (
    ARGUMENT_SPEC,
    EXCLUSION_TARGET_REQUIRED_IF,
    ClientExclusion,
)
from ansible_collections.msp.conditional_access.plugins.module_utils._module import GraphModule


def main():
    module = GraphModule(supports_check_mode=True, argument_spec=ARGUMENT_SPEC, required_if=EXCLUSION_TARGET_REQUIRED_IF)
    module.run(ClientExclusion(module).run)


if __name__ == "__main__":
    main()
