"""Fixture builders: the demo fixture (python -m sandbox.fixtures writes demo.json) and large generated fleets."""

import copy
import json
import random
import sys
import uuid
from pathlib import Path

APP = {"client_id": "5e3c1a0d-7b2f-4c4e-9a51-00000000c1a5", "client_secret": "sandbox-only-secret-not-real",
       "display_name": "MSP Conditional Access automation",
       "roles": ["Policy.Read.All", "Policy.ReadWrite.ConditionalAccess", "Application.Read.All", "User.Read.All",
                 "Group.Read.All", "Organization.Read.All", "AuditLog.Read.All", "RoleManagement.Read.Directory",
                 "DelegatedAdminRelationship.Read.All", "CrossTenantInformation.ReadBasic.All", "Agreement.Read.All"]}
COMPLIANT_NETWORK_ID = "3d46dbda-8382-466a-856d-eb00cbc6b910"  # the sandbox's id for "All Compliant Network locations"
MSP = "11111111-1111-4111-8111-111111111111"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
SKU_P2 = {"skuId": "84a661c4-e949-4bd2-a560-ed7766fcaf2b", "skuPartNumber": "AAD_PREMIUM_P2", "capabilityStatus": "Enabled",
          "consumedUnits": 10, "servicePlans": [
              {"servicePlanId": "eec0eb4f-6444-4f95-aba0-50c24d67f998", "servicePlanName": "AAD_PREMIUM_P2",
               "provisioningStatus": "Success"},
              {"servicePlanId": "41781fb2-bc02-4b7c-bd55-b576c07bb09d", "servicePlanName": "AAD_PREMIUM",
               "provisioningStatus": "Success"}]}
SKU_P1 = {"skuId": "078d2b04-f1bd-4111-bbd4-b4b1b354cef4", "skuPartNumber": "AAD_PREMIUM", "capabilityStatus": "Enabled",
          "consumedUnits": 5, "servicePlans": [{"servicePlanId": "41781fb2-bc02-4b7c-bd55-b576c07bb09d",
                                                "servicePlanName": "AAD_PREMIUM", "provisioningStatus": "Success"}]}
FIRST_PARTY_APPS = [
    ("00000003-0000-0000-c000-000000000000", "Microsoft Graph"),
    ("00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online"),
    ("00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online"),
    ("797f4846-ba00-4fd7-ba43-dac1f8f63013", "Windows Azure Service Management API"),
    ("d414ee2d-73e5-4e5b-bb16-03ef55fea597", "Azure Static Web Apps"),
    ("cc15fd57-2c6c-4117-a88c-83b1d56b4bbe", "Microsoft Teams Services"),
    ("d3590ed6-52b3-4102-aeff-aad2292ab01c", "Microsoft Office"),
]


def gid(*parts):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "msp-ca-sandbox/" + "/".join(str(p) for p in parts)))


def users_block(**kw):
    block = {"includeUsers": [], "excludeUsers": [], "includeGroups": [], "excludeGroups": [], "includeRoles": [],
             "excludeRoles": [], "includeGuestsOrExternalUsers": None, "excludeGuestsOrExternalUsers": None}
    block.update(kw)
    return block


def policy(tid, name, users, state="enabled", grant=("mfa",), apps=("All",), client_app_types=("all",), **extra):
    body = {"id": gid(tid, "policy", name), "displayName": name, "state": state, "createdDateTime": "2026-01-05T10:00:00Z",
            "modifiedDateTime": None, "templateId": None, "description": None,
            "conditions": {"users": users,
                           "applications": {"includeApplications": list(apps), "excludeApplications": [],
                                            "includeUserActions": [], "includeAuthenticationContextClassReferences": [],
                                            "applicationFilter": None},
                           "clientAppTypes": list(client_app_types), "userRiskLevels": [], "signInRiskLevels": [],
                           "servicePrincipalRiskLevels": [], "platforms": None, "locations": None, "devices": None,
                           "clientApplications": None, "insiderRiskLevels": None, "authenticationFlows": None},
            "grantControls": {"operator": "OR", "builtInControls": list(grant), "customAuthenticationFactors": [],
                              "termsOfUse": [], "authenticationStrength": None},
            "sessionControls": None}
    body.update(extra)
    return body


def msp_exclusion(tenant_ids, types="serviceProvider"):
    return {"guestOrExternalUserTypes": types, "externalTenants": {
        "@odata.type": "#microsoft.graph.conditionalAccessEnumeratedExternalTenants", "membershipKind": "enumerated",
        "members": list(tenant_ids)}}


def user(tid, upn, name):
    return {"id": gid(tid, "user", upn), "userPrincipalName": upn, "displayName": name, "accountEnabled": True}


def group(tid, name):
    return {"id": gid(tid, "group", name), "displayName": name, "securityEnabled": True}


def service_principals(tid):
    return [{"id": gid(tid, "sp", app_id), "appId": app_id, "displayName": name} for app_id, name in FIRST_PARTY_APPS]


CA_ADMIN, SECURITY_ADMIN = "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9", "194ae4cb-b126-40b2-bd5b-6091b380977d"
GLOBAL_READER, HELPDESK_ADMIN = "f2ef992c-3afb-46b9-b7cf-a126ee74c451", "729827e3-9c14-49f7-bb1b-9608f156bbb8"


def gdap_relationship(customer_tid, customer_name, name, role_ids, status="active",
                      end="2027-09-30T00:00:00Z", auto_extend="P180D"):
    """A delegatedAdminRelationship as Graph v1.0 returns it (fleet.md section 1)."""
    return {"id": gid("gdap", customer_tid, name) + "-" + gid("gdap-2", customer_tid, name),
            "displayName": name, "status": status, "duration": "P730D", "autoExtendDuration": auto_extend,
            "customer": {"tenantId": customer_tid, "displayName": customer_name},
            "accessDetails": {"unifiedRoles": [{"roleDefinitionId": r} for r in role_ids]},
            "createdDateTime": "2025-09-30T00:00:00Z", "activatedDateTime": "2025-09-30T01:00:00Z",
            "endDateTime": end, "lastModifiedDateTime": "2025-09-30T01:00:00Z"}


def cipp_tenant(tid, name, domain, direct=False, excluded=False):
    """A row of CIPP-API ListTenants (fleet.md section 2)."""
    return {"customerId": tid, "displayName": name, "defaultDomainName": domain,
            "initialDomainName": domain, "relationshipEnd": None if direct else "2027-09-30T00:00:00Z",
            "relationshipCount": 0 if direct else 1, "hasAutoExtend": not direct,
            "delegatedPrivilegeStatus": "directTenant" if direct else "granularDelegatedAdminPrivileges",
            "Excluded": excluded, "ExcludeUser": "admin@contoso-msp.onmicrosoft.com" if excluded else "",
            "ExcludeDate": "2026-10-01" if excluded else "", "GraphErrorCount": 0, "LastGraphError": "",
            "RequiresRefresh": False, "LastRefresh": "2026-11-30T06:00:00Z"}


def cipp_group(name, members, description="", group_type="static"):
    """A row of CIPP-API ListTenantGroups: members given as (tenant id, tenant) or (tenant id, name, domain)."""
    rows = []
    for member in members:
        tid, rest = member[0], member[1:]
        name_, domain = (rest[0]["display_name"], rest[0]["default_domain"]) if isinstance(rest[0], dict) else rest
        rows.append({"customerId": tid, "displayName": name_, "defaultDomainName": domain})
    return {"Id": gid("cipp-group", name), "Name": name, "Description": description, "GroupType": group_type,
            "Members": rows}


def client_tenant(tid, name, domain, policies, extra_users=()):
    return {"display_name": name, "default_domain": domain,
            "users": [user(tid, "admin@" + domain, "Tenant Admin"), user(tid, "breakglass@" + domain, "Break Glass")]
            + [user(tid, upn, label) for upn, label in extra_users],
            "groups": [group(tid, "All Staff"), group(tid, "Finance")],
            "servicePrincipals": service_principals(tid), "namedLocations": [], "policies": policies,
            "securityDefaults": {"isEnabled": False}, "subscribedSkus": [SKU_P1], "signIns": []}


def sign_ins(tid, enforced_policy, users):
    """Sign-ins of the last days: each user once from the office (success) and once from elsewhere."""
    out = []
    for day, (address, result) in enumerate([("203.0.113.10", "success"), ("198.51.100.77", "failure")]):
        for number, person in enumerate(users):
            out.append({
                "id": gid(tid, "signin", day, number), "createdDateTime": "2026-11-%02dT09:%02d:00Z" % (18 + day, number),
                "userPrincipalName": person["userPrincipalName"], "userId": person["id"],
                "userDisplayName": person["displayName"], "appDisplayName": "Azure Static Web Apps",
                "appId": "d414ee2d-73e5-4e5b-bb16-03ef55fea597", "ipAddress": address,
                "conditionalAccessStatus": result,
                "status": {"errorCode": 0 if result == "success" else 53003, "failureReason": None},
                "appliedConditionalAccessPolicies": [
                    {"id": enforced_policy["id"], "displayName": enforced_policy["displayName"],
                     "enforcedGrantControls": ["Mfa"], "enforcedSessionControls": [], "result": result},
                    {"id": gid(tid, "policy", "report-only trusted location"),
                     "displayName": "CIPP technicians from trusted locations only (report-only)",
                     "enforcedGrantControls": ["Block"], "enforcedSessionControls": [],
                     "result": "reportOnlyNotApplied" if result == "success" else "reportOnlyFailure"}]})
    return out


def demo():
    msp_domain = "contoso-msp.onmicrosoft.com"
    msp_users = [user(MSP, "breakglass01@" + msp_domain, "Break Glass 01"),
                 user(MSP, "breakglass02@" + msp_domain, "Break Glass 02"),
                 user(MSP, "cipp-svc@" + msp_domain, "CIPP Service Account"),
                 user(MSP, "alice@" + msp_domain, "Alice (technician)"),
                 user(MSP, "bob@" + msp_domain, "Bob (technician)")]
    msp = {"display_name": "Contoso MSP", "default_domain": msp_domain, "users": msp_users,
           "groups": [dict(group(MSP, "CIPP Technicians"), members=[msp_users[3]["id"], msp_users[4]["id"]]),
                      group(MSP, "All MSP Staff")],
           "servicePrincipals": service_principals(MSP) + [
               {"id": gid(MSP, "sp", "cipp-sam"), "appId": gid(MSP, "app", "cipp-sam"), "displayName": "CIPP-SAM"}],
           "namedLocations": [], "securityDefaults": {"isEnabled": False}, "subscribedSkus": [SKU_P2],
           # what a policy may name instead of an id (Microsoft365DSC resolves these by display name)
           "authenticationStrengthPolicies": [
               {"id": gid(MSP, "strength", "technicians"), "displayName": "Technicians: FIDO2 or Windows Hello",
                "description": "Custom strength for MSP technicians", "policyType": "custom",
                "requirementsSatisfied": "mfa", "allowedCombinations": ["fido2", "windowsHelloForBusiness"]}],
           "agreements": [{"id": gid(MSP, "agreement", "acceptable use"), "displayName": "MSP acceptable use",
                           "isViewingBeforeAcceptanceRequired": True, "isPerDeviceAcceptanceRequired": False}],
           "authenticationContextClassReferences": [
               {"id": "c1", "displayName": "Privileged actions", "description": "Step-up for admin actions",
                "isAvailable": True},
               {"id": "c2", "displayName": "Sensitive data", "description": None, "isAvailable": True}],
           "policies": [policy(MSP, "CA001-Global-BaseProtection-AllApps-AnyPlatform-MFA",
                               users_block(includeUsers=["All"], excludeUsers=[msp_users[0]["id"], msp_users[1]["id"]]),
                               state="enabled")]}
    msp["signIns"] = sign_ins(MSP, msp["policies"][0], msp_users[2:])
    fab, nwd, tsp, wgv = ("22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333",
                          "44444444-4444-4444-8444-444444444444", "55555555-5555-4555-8555-555555555555")
    tenants = {
        MSP: msp,
        fab: dict(client_tenant(fab, "Fabrikam", "fabrikam.onmicrosoft.com", [
            policy(fab, "Require MFA for all users", users_block(
                includeUsers=["All"], excludeUsers=[gid(fab, "user", "breakglass@fabrikam.onmicrosoft.com")])),
            policy(fab, "Block legacy authentication", users_block(includeUsers=["All"]), grant=("block",),
                   client_app_types=("exchangeActiveSync", "other")),
            policy(fab, "Admins need MFA", users_block(includeRoles=[GLOBAL_ADMIN]), state="enabledForReportingButNotEnforced"),
            policy(fab, "Finance MFA", users_block(includeGroups=[gid(fab, "group", "Finance")])),
            policy(fab, "Guests blocked (old)", users_block(includeUsers=["All"], excludeGuestsOrExternalUsers={
                "guestOrExternalUserTypes": "internalGuest,b2bCollaborationGuest",
                "externalTenants": {"@odata.type": "#microsoft.graph.conditionalAccessAllExternalTenants",
                                    "membershipKind": "all"}}), state="disabled", grant=("block",)),
        ]), namedLocations=[{  # Global Secure Access made it; Graph lists it on beta only
            "@odata.type": "#microsoft.graph.compliantNetworkNamedLocation", "id": COMPLIANT_NETWORK_ID,
            "displayName": "All Compliant Network locations", "compliantNetworkType": "allTenantCompliantNetworks",
            "isTrusted": True, "createdDateTime": "2026-01-02T00:00:00Z", "modifiedDateTime": None}]),
        nwd: client_tenant(nwd, "Northwind (Direct Tenant mode)", "northwind.onmicrosoft.com", [
            policy(nwd, "Require MFA for everyone", users_block(includeUsers=["All"])),
            policy(nwd, "Block outside Netherlands", users_block(includeUsers=["All"]), grant=("block",),
                   state="enabledForReportingButNotEnforced"),
        ], extra_users=[("cipp-direct@northwind.onmicrosoft.com", "CIPP Direct Tenant account")]),
        tsp: client_tenant(tsp, "Tailspin Toys", "tailspin.onmicrosoft.com", [
            policy(tsp, "Microsoft-managed: Multifactor authentication for admins accessing Admin Portals",
                   users_block(includeRoles=[GLOBAL_ADMIN]), apps=("MicrosoftAdminPortals",),
                   state="enabledForReportingButNotEnforced", templateId=None),
            policy(tsp, "MFA for all", users_block(includeUsers=["All"])),
        ]),
        wgv: client_tenant(wgv, "Woodgrove Bank", "woodgrove.onmicrosoft.com", [
            policy(wgv, "MFA all users (already excludes the MSP)",
                   users_block(includeUsers=["All"], excludeGuestsOrExternalUsers=msp_exclusion([MSP]))),
            policy(wgv, "Partner tenant excluded", users_block(includeUsers=["All"], excludeGuestsOrExternalUsers=msp_exclusion(
                ["99999999-9999-4999-8999-999999999999"], "b2bCollaborationGuest"))),
        ]),
    }
    cipp = {"tenant_id": MSP, "clients": [
        # the controller's own API client (the fixture's app), allowed from loopback, where the sandbox sees it
        {"ClientId": APP["client_id"], "AppName": "Ansible controller", "Role": "editor",
         "IPRange": ["127.0.0.1/32", "203.0.113.10/32"], "Enabled": True, "MCPAllowed": False},
        {"ClientId": gid(MSP, "cipp-client", "rmm"), "AppName": "RMM integration", "Role": "readonly", "IPRange": [],
         "Enabled": True, "MCPAllowed": False},
        {"ClientId": gid(MSP, "cipp-client", "psa"), "AppName": "PSA integration", "Role": "editor",
         "IPRange": ["198.51.100.20/32"], "Enabled": False, "MCPAllowed": False}]}
    # tenant discovery (issue 12): GDAP relationships of the MSP, and CIPP's tenant list and groups
    msp["delegatedAdminRelationships"] = [
        gdap_relationship(fab, "Fabrikam", "Fabrikam GDAP CA", [CA_ADMIN, GLOBAL_READER]),
        gdap_relationship(tsp, "Tailspin Toys", "Tailspin GDAP security", [SECURITY_ADMIN]),
        gdap_relationship(wgv, "Woodgrove Bank", "Woodgrove GDAP CA", [CA_ADMIN]),
        gdap_relationship(wgv, "Woodgrove Bank", "MLT_Woodgrove_transition", [GLOBAL_ADMIN]),
    ]
    cipp["tenants"] = [cipp_tenant(tid, tenants[tid]["display_name"], tenants[tid]["default_domain"],
                                   direct=tid == nwd) for tid in (fab, nwd, tsp, wgv)]
    cipp["tenant_groups"] = [cipp_group("Pilot ring", [(fab, tenants[fab])]),
                             cipp_group("Banks", [(wgv, tenants[wgv])])]
    return {"msp_tenant_id": MSP, "apps": [APP], "cipp": cipp, "tenants": tenants}


def generate(n_tenants, n_policies, seed=1):
    """A fleet: the demo MSP tenant plus n_tenants - 1 client tenants with n_policies policies each, of mixed shapes."""
    rng = random.Random(seed)
    base = demo()
    fixture = {"msp_tenant_id": MSP, "apps": base["apps"], "tenants": {MSP: copy.deepcopy(base["tenants"][MSP])}}
    shapes = ["all", "all", "roles", "group", "all_excluded", "guests_all", "other_tenant", "disabled"]
    for index in range(1, n_tenants):
        tid = gid("fleet", seed, index)
        domain = "client%03d.onmicrosoft.com" % index
        policies = []
        for number in range(n_policies):
            shape = rng.choice(shapes)
            name = "CA%03d-%s-policy-%02d" % (number, shape, number)
            if shape == "roles":
                users = users_block(includeRoles=[GLOBAL_ADMIN])
            elif shape == "group":
                users = users_block(includeGroups=[gid(tid, "group", "Finance")])
            elif shape == "all_excluded":
                users = users_block(includeUsers=["All"], excludeGuestsOrExternalUsers=msp_exclusion([MSP]))
            elif shape == "guests_all":
                users = users_block(includeUsers=["All"], excludeGuestsOrExternalUsers={
                    "guestOrExternalUserTypes": "internalGuest,b2bCollaborationGuest",
                    "externalTenants": {"@odata.type": "#microsoft.graph.conditionalAccessAllExternalTenants",
                                        "membershipKind": "all"}})
            elif shape == "other_tenant":
                users = users_block(includeUsers=["All"], excludeGuestsOrExternalUsers=msp_exclusion(
                    ["99999999-9999-4999-8999-999999999999"], "b2bCollaborationGuest"))
            else:
                users = users_block(includeUsers=["All"], excludeUsers=[gid(tid, "user", "breakglass@" + domain)])
            policies.append(policy(tid, name, users, state="disabled" if shape == "disabled" else "enabled"))
        fixture["tenants"][tid] = client_tenant(tid, "Client %03d" % index, domain, policies)
    return fixture


OTHER_TENANT = "99999999-9999-4999-8999-999999999999"
LITWARE, ADVENTURE = "66666666-6666-4666-8666-666666666666", "77777777-7777-4777-8777-777777777777"


def exclusion():
    """Client-exclusion fixture (issue #4): Litware with 120 policies of every exclusion shape, Adventure Works small.

    Litware's named policies come first (CA001-CA008), then fillers CA100-CA211 alternate between
    "already excludes the MSP" and "targets only a group", so a listing needs two pages.
    """
    base = demo()
    fixture = {"msp_tenant_id": MSP, "apps": base["apps"], "tenants": {MSP: base["tenants"][MSP]}}
    for tid, name, domain in ((LITWARE, "Litware", "litware.onmicrosoft.com"),
                              (ADVENTURE, "Adventure Works", "adventureworks.onmicrosoft.com")):
        tenant = client_tenant(tid, name, domain, [], extra_users=[("cipp-svc@" + domain, "CIPP service account")])
        tenant["subscribedSkus"] = [SKU_P2]
        fixture["tenants"][tid] = tenant
    breakglass = [gid(LITWARE, "user", "breakglass@litware.onmicrosoft.com")]
    finance = gid(LITWARE, "group", "Finance")
    guests_all = {"guestOrExternalUserTypes": "internalGuest,b2bCollaborationGuest",
                  "externalTenants": {"@odata.type": "#microsoft.graph.conditionalAccessAllExternalTenants",
                                      "membershipKind": "all"}}
    named = [
        policy(LITWARE, "CA001 Require MFA for all users", users_block(includeUsers=["All"], excludeUsers=breakglass)),
        policy(LITWARE, "CA002 Already excludes the MSP", users_block(
            includeUsers=["All"], excludeUsers=breakglass, excludeGuestsOrExternalUsers=msp_exclusion([MSP]))),
        policy(LITWARE, "CA003 Guests excluded everywhere", users_block(
            includeUsers=["All"], excludeUsers=breakglass, excludeGuestsOrExternalUsers=guests_all)),
        policy(LITWARE, "CA004 Partner guests excluded", users_block(
            includeUsers=["All"], excludeUsers=breakglass,
            excludeGuestsOrExternalUsers=msp_exclusion([OTHER_TENANT], "b2bCollaborationGuest"))),
        policy(LITWARE, "Microsoft-managed: Multifactor authentication for admins accessing Admin Portals",
               users_block(includeRoles=[GLOBAL_ADMIN]), apps=("MicrosoftAdminPortals",),
               state="enabledForReportingButNotEnforced"),
        policy(LITWARE, "CA006 Finance group only", users_block(includeGroups=[finance])),
        policy(LITWARE, "CA007 Block legacy authentication (off)", users_block(includeUsers=["All"], excludeUsers=breakglass),
               state="disabled", grant=("block",), client_app_types=("exchangeActiveSync", "other")),
        policy(LITWARE, "CA008 Admins MFA", users_block(includeRoles=[GLOBAL_ADMIN])),
    ]
    fillers = []
    for number in range(100, 100 + 120 - len(named)):
        if number % 2:
            users = users_block(includeUsers=["All"], excludeUsers=breakglass,
                                excludeGuestsOrExternalUsers=msp_exclusion([MSP]))
            fillers.append(policy(LITWARE, "CA%03d filler already excluded" % number, users))
        else:
            fillers.append(policy(LITWARE, "CA%03d filler group only" % number, users_block(includeGroups=[finance])))
    fixture["tenants"][LITWARE]["policies"] = named + fillers
    fixture["tenants"][ADVENTURE]["policies"] = [
        policy(ADVENTURE, "AW001 Require MFA", users_block(includeUsers=["All"])),
        policy(ADVENTURE, "AW002 Already excludes the MSP", users_block(
            includeUsers=["All"], excludeGuestsOrExternalUsers=msp_exclusion([MSP]))),
        policy(ADVENTURE, "AW003 Finance only", users_block(includeGroups=[gid(ADVENTURE, "group", "Finance")])),
    ]
    return fixture


def inventory_fleet(today=None, customers=100):
    """Tenant discovery (issue 12): the demo fixture's apps and MSP tenant, 120 GDAP relationships over ``customers``
    customers (plus one MLT_-only customer) and a CIPP tenant list with groups, an excluded and a direct tenant.

    Dates are relative to ``today`` (a datetime.date; default: the real today) so "ends in 10 days" stays true.
    Customer n is client%03d.onmicrosoft.com, id inventory_customer(n). Relationships (customers=100):
    one per customer, plus for 1 an expired one, for 2-18 a helpdesk one, for 19 an MLT_ one, and 101 has only an
    MLT_ one. 20 has no CA role, 21 ends in 10 days without auto-extend, 22 ends in 10 days with auto-extend, 23 is
    'expiring' (20 days, no auto-extend), 24 is terminated, 25 is unknown to findTenantInformationByTenantId.
    """
    import datetime

    today = today or datetime.date.today()

    def day(offset):
        return (today + datetime.timedelta(days=offset)).isoformat() + "T00:00:00Z"

    base = demo()
    msp = copy.deepcopy(base["tenants"][MSP])
    rels, directory = [], {}
    for n in range(1, customers + 2):
        tid, name = inventory_customer(n), "Client %03d" % n
        if n != 25:
            directory[tid] = {"displayName": name, "defaultDomainName": "client%03d.onmicrosoft.com" % n,
                              "federationBrandName": None}
        if n > customers:
            rels.append(gdap_relationship(tid, name, "MLT_client%03d" % n, [GLOBAL_ADMIN]))
            continue
        roles, status, end, extend = [CA_ADMIN], "active", day(400), "P180D"
        if n == 20:
            roles = [HELPDESK_ADMIN, GLOBAL_READER]
        elif n in (21, 22):
            end, extend = day(10), "PT0S" if n == 21 else "P180D"
        elif n == 23:
            status, end, extend = "expiring", day(20), "PT0S"
        elif n == 24:
            status, end = "terminated", day(-5)
        rels.append(gdap_relationship(tid, name, "GDAP client%03d" % n, roles, status=status, end=end,
                                      auto_extend=extend))
        if n == 1:
            rels.append(gdap_relationship(tid, name, "GDAP client001 (2024)", [GLOBAL_ADMIN], status="expired",
                                          end=day(-30), auto_extend="PT0S"))
        elif 2 <= n <= 18:
            rels.append(gdap_relationship(tid, name, "GDAP client%03d helpdesk" % n, [HELPDESK_ADMIN], end=day(300)))
        elif n == 19:
            rels.append(gdap_relationship(tid, name, "MLT_client019", [GLOBAL_ADMIN]))
    msp["delegatedAdminRelationships"] = rels
    direct = inventory_customer(900)
    directory[direct] = {"displayName": "Direct Client", "defaultDomainName": "direct001.onmicrosoft.com"}

    def row(n, **kw):
        tid = direct if n == 900 else inventory_customer(n)
        return cipp_tenant(tid, directory[tid]["displayName"], directory[tid]["defaultDomainName"], **kw)
    expiring_row = dict(row(3), relationshipEnd=day(10), hasAutoExtend=False)
    cipp = dict(base["cipp"], tenants=[row(1), row(2), expiring_row, row(4, excluded=True), row(900, direct=True)],
                tenant_groups=[cipp_group("Pilot ring", [(inventory_customer(n),) + tuple(
                                   directory[inventory_customer(n)][k] for k in ("displayName", "defaultDomainName"))
                                   for n in (1, 2)]),
                               cipp_group("Finance & Legal", [(inventory_customer(2), "Client 002",
                                                               "client002.onmicrosoft.com"),
                                                              (direct, "Direct Client", "direct001.onmicrosoft.com")])])
    return {"msp_tenant_id": MSP, "apps": base["apps"], "cipp": cipp, "tenants": {MSP: msp},
            "tenant_directory": directory}


def inventory_customer(n):
    return gid("inventory", "customer", n)


BUILDERS = {"demo": demo, "exclusion": exclusion}


def write_all(folder=Path(__file__).parent / "fixtures"):
    """python -m sandbox.fixtures [folder]: (re)write demo.json and exclusion.json."""
    for name, build in BUILDERS.items():
        out = Path(folder) / ("%s.json" % name)
        out.write_text(json.dumps(build(), indent=1) + "\n")
        print(out)


if __name__ == "__main__":
    write_all(*sys.argv[1:2])
