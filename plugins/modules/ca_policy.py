#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ca_policy
short_description: Manage Entra ID Conditional Access policies
version_added: 0.1.0
description:
  - Creates, updates and deletes a Conditional Access policy. Options mirror Graph's
    C(conditionalAccessPolicy) in snake_case, so a Graph export maps one to one; M(msp.conditional_access.ca_policy_info)
    returns policies in exactly this form.
  - Names are accepted wherever Graph wants ids and are resolved through Graph. Users by UPN, groups by
    display name, directory roles by name or template id, named locations by display name, applications by display
    name or appId. A name that matches nothing, or more than one object, fails the task before anything is written.
  - Idempotent by O(display_name) (or O(id)). Two policies with the same display name fail the task, listing their ids.
  - "Update semantics: options the task omits keep Graph's value. Exclusions (every C(exclude_*) list and
    C(exclude_guests_or_external_users)) are added to those already on the policy, so a break-glass or service
    provider exclusion is never lost, unless O(purge_exclusions=true). O(grant_controls) and O(session_controls)
    are each replaced as a whole when given. Only changed properties are sent, and always the complete
    C(users) object."
  - New policies start in report-only mode unless O(policy_state) says otherwise; an omitted O(policy_state) leaves an
    existing policy's state alone.
  - Graph's rules are checked before any request. A sign-in frequency of every time outside risky users, risky
    sign-ins and Intune enrolment (the only cases Graph v1.0 documents) is written through the beta endpoint from the
    start, with a warning. Any other v1.0 refusal that names the beta endpoint (such as error 1038) is repeated
    there, and the warning quotes what Graph said.
  - Every write is read back and compared with what was asked; a write Graph accepted without storing it (or
    stored otherwise) fails the task instead of reporting a change.
  - Removing one session control while keeping others sends C(sessionControls) as null and then the complete new
    object (Graph removes session controls only with the whole object). A policy without grant controls cannot go
    without its session controls for that moment; then one PATCH is sent, and the read-back decides.
  - Microsoft-managed policies (display name starting with C(Microsoft-managed:)) only accept state and user exclusion
    changes, and cannot be deleted. Anything else is refused with a suggestion to clone the policy.
  - "Lockout guard, on every write that leaves a policy enabled (creating, enabling, purging exclusions, widening
    client app types, changing the grant): a grant an emergency account cannot satisfy (block, compliant or
    hybrid-joined device, approved client app, app protection policy; with OR, only when no alternative such as
    MFA is offered) fails unless every account in O(break_glass_accounts) is in its C(exclude_users) (or
    O(allow_lockout_risk=true)). With O(break_glass_accounts) empty, such a write is refused when the policy
    reaches All users or directory roles. MFA alone is not a lockout."
extends_documentation_fragment:
  - msp.conditional_access.graph
  - msp.conditional_access.graph.actiongroup
  - msp.conditional_access.attributes
options:
  display_name:
    description: Name of the policy. Required unless O(id) is given. With O(id), renames the policy.
    type: str
  id:
    description: Object id of the policy.
    type: str
  description:
    description: Free-text description.
    type: str
  state:
    description: V(absent) deletes the policy (Graph keeps it restorable for 30 days).
    type: str
    choices: [present, absent]
    default: present
  policy_state:
    description:
      - V(report_only) is Graph's C(enabledForReportingButNotEnforced). New policies default to V(report_only);
        omitted, an existing policy keeps its state.
    type: str
    choices: [enabled, disabled, report_only]
  allow_demotion:
    description:
      - V(false) never takes an enabled policy back to report-only or disabled through O(policy_state); the policy
        stays enabled (nothing changes, so no warning) and RV(demotion) records it. V(true) demotes it, with a
        warning and the state change in the diff.
    type: bool
    default: true
  conditions:
    description: "Graph's C(conditions) in snake_case. A condition given with no values (for example C(locations: {})) is cleared."
    type: dict
    suboptions:
      users:
        description: Who the policy applies to. Exclusions are merged into the policy's unless O(purge_exclusions=true).
        type: dict
        suboptions:
          include_users:
            description: UPNs or object ids, or V(All), V(None), V(GuestsOrExternalUsers).
            type: list
            elements: str
          exclude_users:
            description: UPNs or object ids, or V(GuestsOrExternalUsers).
            type: list
            elements: str
          include_groups:
            description: Group display names or object ids.
            type: list
            elements: str
          exclude_groups:
            description: Group display names or object ids.
            type: list
            elements: str
          include_roles:
            description: Directory role names (for example V(Global Administrator)) or role template ids.
            type: list
            elements: str
          exclude_roles:
            description: Directory role names or role template ids.
            type: list
            elements: str
          include_guests_or_external_users:
            description: Guest or external users to include.
            type: dict
            suboptions:
              guest_or_external_user_types:
                description: Graph's flags enum C(guestOrExternalUserTypes), as a list.
                type: list
                elements: str
                choices: [internal_guest, b2b_collaboration_guest, b2b_collaboration_member, b2b_direct_connect_user, other_external_user, service_provider]
              external_tenants:
                description: Which tenants the types apply to; needs C(guest_or_external_user_types).
                type: dict
                suboptions:
                  membership_kind:
                    description: V(all) tenants, or the V(enumerated) C(members). Defaults to V(enumerated) when members are given, else V(all).
                    type: str
                    choices: [all, enumerated]
                  members:
                    description: Tenant ids (only with V(enumerated)).
                    type: list
                    elements: str
          exclude_guests_or_external_users:
            description: Guest or external users to exclude (Part D excludes V(service_provider) users of the MSP tenant).
            type: dict
            suboptions:
              guest_or_external_user_types:
                description: Graph's flags enum C(guestOrExternalUserTypes), as a list.
                type: list
                elements: str
                choices: [internal_guest, b2b_collaboration_guest, b2b_collaboration_member, b2b_direct_connect_user, other_external_user, service_provider]
              external_tenants:
                description: Which tenants the types apply to; needs C(guest_or_external_user_types).
                type: dict
                suboptions:
                  membership_kind:
                    description: V(all) tenants, or the V(enumerated) C(members). Defaults to V(enumerated) when members are given, else V(all).
                    type: str
                    choices: [all, enumerated]
                  members:
                    description: Tenant ids (only with V(enumerated)).
                    type: list
                    elements: str
      applications:
        description:
          - What the policy applies to. Exactly one of C(include_applications), C(include_user_actions),
            C(include_authentication_context_class_references).
        type: dict
        suboptions:
          include_applications:
            description:
              - Application display names or appIds, or V(All), V(None), V(Office365), V(MicrosoftAdminPortals),
                V(AllAgentIdResources). A keyword Graph itself returned for this policy (one newer than this
                collection) is kept as it is, so an export of C(ca_policy_info) re-applies.
              - V(Azure Static Web Apps) is the first-party app that fronts the CIPP UI. Must not be empty.
            type: list
            elements: str
          exclude_applications:
            description: Application display names or appIds.
            type: list
            elements: str
          include_user_actions:
            description: User actions.
            type: list
            elements: str
            choices: ['urn:user:registersecurityinfo', 'urn:user:registerdevice']
          include_authentication_context_class_references:
            description: Authentication contexts, by display name or id (V(c1) to V(c99)).
            type: list
            elements: str
          application_filter:
            description: Filter on custom security attributes of applications.
            type: dict
            suboptions:
              mode:
                description: V(include) or V(exclude) what the rule matches.
                type: str
                choices: [include, exclude]
              rule:
                description: The filter rule, in Graph's rule syntax.
                type: str
      client_app_types:
        description: Client app types.
        type: list
        elements: str
        choices: [all, browser, mobile_apps_and_desktop_clients, exchange_active_sync, eas_supported, other]
      locations:
        description: Named locations.
        type: dict
        suboptions:
          include_locations:
            description:
              - Named location display names or ids, or V(All), V(AllTrusted).
              - Global Secure Access's compliant network location (a type only Graph's beta endpoint lists) is found by
                its name, such as V(All Compliant Network locations), or id.
            type: list
            elements: str
          exclude_locations:
            description: Named location display names or ids (the compliant network location too), or V(AllTrusted).
            type: list
            elements: str
      platforms:
        description: Device platforms.
        type: dict
        suboptions:
          include_platforms:
            description: Platforms to include.
            type: list
            elements: str
            choices: [android, ios, windows, windows_phone, macos, linux, all]
          exclude_platforms:
            description: Platforms to exclude.
            type: list
            elements: str
            choices: [android, ios, windows, windows_phone, macos, linux, all]
      user_risk_levels:
        description: User risk levels (needs Entra ID P2).
        type: list
        elements: str
        choices: [low, medium, high, hidden, none]
      sign_in_risk_levels:
        description: Sign-in risk levels (needs Entra ID P2).
        type: list
        elements: str
        choices: [low, medium, high, hidden, none]
      service_principal_risk_levels:
        description: Service principal risk levels (workload identities).
        type: list
        elements: str
        choices: [low, medium, high, none]
      insider_risk_levels:
        description: Insider risk levels (Graph flags enum).
        type: list
        elements: str
        choices: [minor, moderate, elevated]
      devices:
        description: Device condition.
        type: dict
        suboptions:
          device_filter:
            description: Filter on device properties.
            type: dict
            suboptions:
              mode:
                description: V(include) or V(exclude) what the rule matches.
                type: str
                choices: [include, exclude]
              rule:
                description: The filter rule, in Graph's rule syntax.
                type: str
      client_applications:
        description: Workload identities the policy applies to.
        type: dict
        suboptions:
          include_service_principals:
            description: Service principal display names or object ids, or V(ServicePrincipalsInMyTenant).
            type: list
            elements: str
          exclude_service_principals:
            description: Service principal display names or object ids.
            type: list
            elements: str
          service_principal_filter:
            description: Filter on service principal attributes.
            type: dict
            suboptions:
              mode:
                description: V(include) or V(exclude) what the rule matches.
                type: str
                choices: [include, exclude]
              rule:
                description: The filter rule, in Graph's rule syntax.
                type: str
      authentication_flows:
        description: Authentication flows.
        type: dict
        suboptions:
          transfer_methods:
            description: Transfer methods (Graph flags enum), for example V(device_code_flow) to block device code flow.
            type: list
            elements: str
            choices: [device_code_flow, authentication_transfer]
  grant_controls:
    description: Graph's C(grantControls), replaced as a whole when given.
    type: dict
    suboptions:
      operator:
        description: How the controls combine. Defaults to V(OR).
        type: str
        choices: [AND, OR]
      built_in_controls:
        description: Built-in controls. V(block) stands alone; V(password_change) needs V(mfa), operator V(AND), user risk and all applications.
        type: list
        elements: str
        choices: [block, mfa, compliant_device, domain_joined_device, approved_application, compliant_application, password_change, risk_remediation]
      authentication_strength:
        description: An authentication strength's display name or id, or V(mfa), V(passwordless_mfa), V(phishing_resistant_mfa) for the built-in ones.
        type: str
      terms_of_use:
        description: Terms of use agreements, by display name or id (needs C(Agreement.Read.All) to resolve names).
        type: list
        elements: str
      custom_authentication_factors:
        description: Custom authentication factors.
        type: list
        elements: str
  session_controls:
    description: Graph's C(sessionControls), replaced as a whole when given; C({}) clears them.
    type: dict
    suboptions:
      sign_in_frequency:
        description: Sign-in frequency.
        type: dict
        suboptions:
          is_enabled:
            description: Whether the control is on. Defaults to V(true).
            type: bool
          frequency_interval:
            description: V(every_time) requires a fresh sign-in every time and takes neither C(type) nor C(value). Defaults to V(time_based).
            type: str
            choices: [time_based, every_time]
          type:
            description: Unit of O(session_controls.sign_in_frequency.value), for V(time_based).
            type: str
            choices: [hours, days]
          value:
            description: Hours (1-23) or days (1-365), for V(time_based).
            type: int
          authentication_type:
            description: Which authentication the frequency applies to. Defaults to V(primary_and_secondary_authentication) for V(every_time).
            type: str
            choices: [primary_and_secondary_authentication, secondary_authentication]
      persistent_browser:
        description: Persistent browser session.
        type: dict
        suboptions:
          is_enabled:
            description: Whether the control is on. Defaults to V(true).
            type: bool
          mode:
            description:
              - V(always) keeps the user signed in after the browser is closed (persistent browser session);
                V(never) does not.
            type: str
            choices: [always, never]
      application_enforced_restrictions:
        description: Let the application enforce restrictions (SharePoint, Exchange). Not with V(every_time) sign-in frequency.
        type: dict
        suboptions:
          is_enabled:
            description: Whether the control is on. Defaults to V(true).
            type: bool
      cloud_app_security:
        description: Defender for Cloud Apps session control.
        type: dict
        suboptions:
          is_enabled:
            description: Whether the control is on. Defaults to V(true).
            type: bool
          cloud_app_security_type:
            description: Session policy type.
            type: str
            choices: [mcas_configured, monitor_only, block_downloads]
      disable_resilience_defaults:
        description: Disable resilience defaults. Not with V(every_time) sign-in frequency.
        type: bool
      secure_sign_in_session:
        description: Graph's C(secureSignInSession), the session control that binds sign-in sessions to the device.
        type: dict
        suboptions:
          is_enabled:
            description: Whether the control is on. Defaults to V(true).
            type: bool
  purge_exclusions:
    description:
      - Make the exclusions of every condition section the task gives exactly the task's (omitted C(exclude_*) lists
        become empty). By default they are added to the exclusions already on the policy.
    type: bool
    default: false
  break_glass_accounts:
    description:
      - UPNs or ids of emergency accounts. A write that leaves a policy enabled with a grant they cannot satisfy
        (block, compliant or hybrid-joined device, approved or compliant app) fails unless each of them is
        excluded. Usually set once through C(module_defaults).
      - With this list empty (the default), such a write is refused when the policy reaches All users or
        directory roles, because the module cannot check that no emergency account is locked out; give the
        accounts or set O(allow_lockout_risk=true).
    type: list
    elements: str
    default: []
  allow_lockout_risk:
    description: Write such a policy even though a break-glass account is not excluded (or none is given).
    type: bool
    default: false
  naming_convention:
    description:
      - V(microsoft) checks the display name against Microsoft's Conditional Access framework
        C(<CANumber>-<Persona>-<PolicyType>-<App>-<Platform>-<GrantControl>[-<Description>]), the number range of the
        persona (Global CA001-CA099, Internals CA100-CA199, Admins CA200-CA299, ...), and that the App, Platform and
        GrantControl parts describe the policy (C(AllApps) targets All applications, C(Block) blocks, ...).
    type: str
    choices: [none, microsoft]
    default: none
notes:
  - Conditional Access allows 1 request per second per tenant; the module paces its requests.
seealso:
  - module: msp.conditional_access.ca_policy_info
  - module: msp.conditional_access.ca_named_location
author:
  - MSP Conditional Access contributors (@msp-conditional-access)
"""

EXAMPLES = r"""
- name: Part A - block CIPP technician sign-ins from outside the trusted location (report-only first)
  msp.conditional_access.ca_policy:
    display_name: Block CIPP Access - Outside Trusted IPs
    policy_state: report_only
    break_glass_accounts: [breakglass01@contoso-msp.onmicrosoft.com]
    conditions:
      users:
        include_groups: [CIPP Technicians]
        exclude_users: [breakglass01@contoso-msp.onmicrosoft.com]
      applications:
        include_applications: [All]
      client_app_types: [all]
      locations:
        include_locations: [All]
        exclude_locations: [Trusted - MSP Office]
    grant_controls:
      operator: OR
      built_in_controls: [block]

- name: Part A, narrower - only the CIPP UI (Azure Static Web Apps), enabled after validation
  msp.conditional_access.ca_policy:
    display_name: Block CIPP UI - Outside Trusted IPs
    policy_state: enabled
    break_glass_accounts: [breakglass01@contoso-msp.onmicrosoft.com]
    conditions:
      users:
        include_groups: [CIPP Technicians]
        exclude_users: [breakglass01@contoso-msp.onmicrosoft.com]
      applications:
        include_applications: [Azure Static Web Apps]
      locations:
        include_locations: [All]
        exclude_locations: [Trusted - MSP Office]
    grant_controls:
      built_in_controls: [block]

- name: Part B - CIPP service account, MFA on every sign-in, no location conditions
  msp.conditional_access.ca_policy:
    display_name: CIPP Service Account Conditional Access Policy
    policy_state: enabled
    break_glass_accounts: [breakglass01@contoso-msp.onmicrosoft.com]
    conditions:
      users:
        include_users: [cipp-svc@contoso-msp.onmicrosoft.com]
      applications:
        include_applications: [All]
      client_app_types: [all]
    grant_controls:
      operator: OR
      built_in_controls: [mfa]
    session_controls:
      sign_in_frequency:
        frequency_interval: every_time
        authentication_type: primary_and_secondary_authentication

- name: Framework policy - block legacy authentication for everyone, named by Microsoft's convention
  msp.conditional_access.ca_policy:
    display_name: CA002-Global-AttackSurfaceReduction-AllApps-AnyPlatform-Block-LegacyAuthentication
    naming_convention: microsoft
    policy_state: report_only
    conditions:
      users:
        include_users: [All]
        exclude_users: [breakglass01@contoso-msp.onmicrosoft.com, breakglass02@contoso-msp.onmicrosoft.com]
      applications:
        include_applications: [All]
      client_app_types: [exchange_active_sync, other]
    grant_controls:
      built_in_controls: [block]

- name: Framework policy - admins need a phishing-resistant authentication strength
  msp.conditional_access.ca_policy:
    display_name: CA200-Admins-IdentityProtection-AllApps-AnyPlatform-MFA-PhishingResistant
    naming_convention: microsoft
    conditions:
      users:
        include_roles: [Global Administrator, Conditional Access Administrator, Security Administrator]
        exclude_users: [breakglass01@contoso-msp.onmicrosoft.com]
      applications:
        include_applications: [All]
    grant_controls:
      authentication_strength: phishing_resistant_mfa

- name: Make the break-glass exclusions exactly these two, dropping any other excluded user
  msp.conditional_access.ca_policy:
    display_name: CA001-Global-BaseProtection-AllApps-AnyPlatform-MFA
    purge_exclusions: true
    conditions:
      users:
        exclude_users: [breakglass01@contoso-msp.onmicrosoft.com, breakglass02@contoso-msp.onmicrosoft.com]

- name: Re-apply a backup taken with ca_policy_info
  msp.conditional_access.ca_policy:
    display_name: "{{ item.display_name }}"
    description: "{{ item.description | default(omit) }}"
    policy_state: "{{ item.policy_state }}"
    conditions: "{{ item.conditions }}"
    grant_controls: "{{ item.grant_controls | default(omit) }}"
    session_controls: "{{ item.session_controls | default(omit) }}"
  loop: "{{ backup.policies | rejectattr('managed') }}"
  loop_control:
    label: "{{ item.display_name }}"

- name: Delete a policy
  msp.conditional_access.ca_policy:
    display_name: Block CIPP Access - Outside Trusted IPs
    state: absent
"""

RETURN = r"""
demotion:
  description: Set when O(policy_state) asked to take an enabled policy back - C(from), C(to) and C(applied).
  returned: when an enabled policy was (or would have been) demoted
  type: dict
  sample: {"from": "enabled", "to": "report_only", "applied": false}
policy:
  description:
    - The policy as Graph has it after the task (read back after an update; the create response after a create;
      predicted in check mode; empty after delete).
  returned: always
  type: dict
  sample:
    id: 0d1f0a47-9d55-4e4b-9d4b-2c8d7a1d3f10
    displayName: Block CIPP Access - Outside Trusted IPs
    state: enabledForReportingButNotEnforced
    conditions:
      users: {includeGroups: [5b0c3c41-1b57-4a43-a07a-0e7e3b0f6a11], excludeUsers: [8a1a8d9e-55c5-4f3f-9e4a-9c1e3d6f7a01]}
      applications: {includeApplications: [All]}
      locations: {includeLocations: [All], excludeLocations: [6d3a4c52-0b1e-4f0e-8c0a-6b2f0f5f2b33]}
      clientAppTypes: [all]
    grantControls: {operator: OR, builtInControls: [block]}
"""

from ansible_collections.msp.conditional_access.plugins.module_utils._module import GraphModule
from ansible_collections.msp.conditional_access.plugins.module_utils._policy import ARGUMENT_SPEC, Policies


def main():
    module = GraphModule(supports_check_mode=True, argument_spec=ARGUMENT_SPEC, required_one_of=[("display_name", "id")])
    module.run(Policies(module).ensure)


if __name__ == "__main__":
    main()
