"""Bad role variables for every role: the error must name the role variable. Data only; test_roles.py runs them."""

from __future__ import annotations

from .harness import Case
from .module_cases import CONTROLLER, EVERY_V4, MSP, NORTHWIND, put_location, put_policy_using

IN_USE = {"id": "dddddddd-0000-4000-8000-000000000001", "displayName": "Role trusted in use", "isTrusted": True,
          "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "198.51.100.0/24"}]}


def setup_in_use(sandbox):
    put_location(IN_USE)(sandbox)
    put_policy_using("AllTrusted")(sandbox)


def role(name, case_id, option, role_vars, also=(), setup=None, known_bug=""):
    """``known_bug``: why this case fails today and whose it is (the test is then a strict xfail)."""
    return Case(id="%s:%s" % (name, case_id), target="role:" + name, args=role_vars, option=option,
                also=tuple(also), setup=setup, why=known_bug)


TL = "trusted_location"
OK_LOCATION = {"name": "Role office", "ip_ranges": ["203.0.113.0/24"]}
TRUSTED_LOCATION = [
    role(TL, "not-a-list", "trusted_location_locations", {"trusted_location_locations": "Office"}),
    role(TL, "no-name", "trusted_location_locations", {"trusted_location_locations": [{"ip_ranges": ["203.0.113.0/24"]}]}),
    role(TL, "blank-name", "trusted_location_locations",
         {"trusted_location_locations": [{"name": "  ", "ip_ranges": ["203.0.113.0/24"]}]}),
    role(TL, "no-ranges", "trusted_location_locations", {"trusted_location_locations": [{"name": "Role office"}]}),
    role(TL, "empty-ranges", "trusted_location_locations",
         {"trusted_location_locations": [{"name": "Role office", "ip_ranges": []}]}),
    role(TL, "same-name-other-case", "trusted_location_locations",
         {"trusted_location_locations": [OK_LOCATION, {"name": "ROLE OFFICE ", "ip_ranges": ["198.51.100.0/24"]}]},
         also=("same name",)),
    role(TL, "second-entry-bad", "trusted_location_locations",
         {"trusted_location_locations": [OK_LOCATION, {"name": "Role DR", "ip_ranges": ["office"]}]},
         also=("office",)),
    role(TL, "prefix-8", "trusted_location_locations",
         {"trusted_location_locations": [{"name": "Role office", "ip_ranges": ["10.0.0.0/8"]}]}),
    role(TL, "zone-id", "trusted_location_locations",
         {"trusted_location_locations": [{"name": "Role office", "ip_ranges": ["fe80::1%eth0"]}]}),
    role(TL, "ipv4-mapped", "trusted_location_locations",
         {"trusted_location_locations": [{"name": "Role office", "ip_ranges": ["::ffff:203.0.113.10"]}]}),
    role(TL, "every-ipv4", "trusted_location_locations",
         {"trusted_location_locations": [{"name": "Role office", "ip_ranges": EVERY_V4}]}, also=("allow_any_ip",)),
    role(TL, "trusted-not-bool", "trusted", {"trusted_location_locations": [dict(OK_LOCATION, trusted="sometimes")]}),
    role(TL, "state-choice", "trusted_location_state", {"trusted_location_state": "deleted",
                                                        "trusted_location_locations": [OK_LOCATION]}),
    role(TL, "force-not-bool", "trusted_location_force", {"trusted_location_force": "maybe",
                                                          "trusted_location_locations": [OK_LOCATION]}),
    role(TL, "tenant-garbage", "trusted_location_tenant_id", {"trusted_location_tenant_id": "not a tenant",
                                                              "trusted_location_locations": [OK_LOCATION]}),
    role(TL, "delete-in-use", "trusted_location_force",
         {"trusted_location_state": "absent", "trusted_location_locations": [{"name": IN_USE["displayName"]}]},
         setup=setup_in_use),
]

TA = "technician_access"
TECHNICIAN = {"technician_access_break_glass_accounts": ["breakglass01@contoso-msp.onmicrosoft.com"],
              "technician_access_trusted_locations": ["Role office"]}
TECHNICIAN_ACCESS = [
    role(TA, "state-typo", "technician_policy_state", dict(TECHNICIAN, technician_policy_state="enable")),
    role(TA, "percent-word", "max_blocked_percent", dict(TECHNICIAN, max_blocked_percent="lots")),
    role(TA, "policy-state-choice", "technician_access_policy_state",
         dict(TECHNICIAN, technician_access_policy_state="on")),
    role(TA, "state-choice", "technician_access_state", dict(TECHNICIAN, technician_access_state="gone")),
    role(TA, "no-technicians", "technician_access_groups",
         dict(TECHNICIAN, technician_access_groups=[], technician_access_users=[])),
    role(TA, "no-locations", "technician_access_trusted_locations",
         dict(TECHNICIAN, technician_access_trusted_locations=[])),
    role(TA, "enabled-no-break-glass", "technician_access_break_glass_accounts",
         dict(TECHNICIAN, technician_access_policy_state="enabled", technician_access_break_glass_accounts=[])),
    role(TA, "groups-not-list", "technician_access_groups", dict(TECHNICIAN, technician_access_groups={"a": 1})),
    role(TA, "unknown-group", "technician_access_groups", dict(TECHNICIAN, technician_access_groups=["No such group"])),
    role(TA, "unknown-break-glass", "technician_access_break_glass_accounts",
         dict(TECHNICIAN, technician_access_break_glass_accounts=["nobody@contoso-msp.onmicrosoft.com"])),
    role(TA, "unknown-location", "technician_access_trusted_locations",
         dict(TECHNICIAN, technician_access_trusted_locations=["Nowhere"])),
    role(TA, "lockout-not-bool", "technician_access_allow_lockout_risk",
         dict(TECHNICIAN, technician_access_allow_lockout_risk="perhaps")),
    role(TA, "tenant-garbage", "technician_access_tenant_id", dict(TECHNICIAN, technician_access_tenant_id="x y")),
]

SA = "service_account_mfa"
SERVICE = {"service_account_mfa_account": "cipp-svc@contoso-msp.onmicrosoft.com", "service_account_mfa_msp_tenant_id": MSP}
SERVICE_ACCOUNT_MFA = [
    role(SA, "no-account", "service_account_mfa_account", dict(SERVICE, service_account_mfa_account="")),
    role(SA, "account-not-upn", "service_account_mfa_account", dict(SERVICE, service_account_mfa_account="cipp-svc")),
    role(SA, "account-unknown", "service_account_mfa_account",
         dict(SERVICE, service_account_mfa_account="nobody@contoso-msp.onmicrosoft.com")),
    role(SA, "policy-state-choice", "service_account_mfa_policy_state",
         dict(SERVICE, service_account_mfa_policy_state="on")),
    role(SA, "state-choice", "service_account_mfa_state", dict(SERVICE, service_account_mfa_state="gone")),
    role(SA, "common-state-typo", "service_account_policy_state", dict(SERVICE, service_account_policy_state="on")),
    role(SA, "managed-choice", "service_account_mfa_managed_policies",
         dict(SERVICE, service_account_mfa_managed_policies="delete")),
    role(SA, "msp-not-guid", "service_account_mfa_msp_tenant_id",
         dict(SERVICE, service_account_mfa_msp_tenant_id="contoso")),
    role(SA, "purge-not-bool", "service_account_mfa_purge_exclusions",
         dict(SERVICE, service_account_mfa_purge_exclusions="often")),
    role(SA, "tenant-garbage", "service_account_mfa_tenant_id", dict(SERVICE, service_account_mfa_tenant_id="x y")),
]

CA = "cipp_api_allowlist"
CIPP_CLIENT = {"client": "RMM integration", "ip_ranges": ["203.0.113.0/24"]}
CIPP_API_ALLOWLIST = [
    role(CA, "not-a-list", "cipp_api_allowlist_clients", {"cipp_api_allowlist_clients": "RMM integration"}),
    role(CA, "no-client", "cipp_api_allowlist_clients", {"cipp_api_allowlist_clients": [{"ip_ranges": ["203.0.113.0/24"]}]}),
    role(CA, "empty-ranges", "cipp_api_allowlist_clients",
         {"cipp_api_allowlist_clients": [dict(CIPP_CLIENT, ip_ranges=[])]}),
    role(CA, "bad-range", "cipp_api_allowlist_clients",
         {"cipp_api_allowlist_clients": [dict(CIPP_CLIENT, ip_ranges=["office"])]}),
    role(CA, "second-entry-bad", "cipp_api_allowlist_clients",
         {"cipp_api_allowlist_clients": [CIPP_CLIENT, {"client": "PSA integration", "ip_ranges": ["0.0.0.0/0"]}]}),
    role(CA, "duplicate-client", "cipp_api_allowlist_clients",
         {"cipp_api_allowlist_clients": [CIPP_CLIENT, dict(CIPP_CLIENT, ip_ranges=["198.51.100.0/24"])]}),
    role(CA, "unknown-client", "cipp_api_allowlist_clients",
         {"cipp_api_allowlist_clients": [dict(CIPP_CLIENT, client="No such app")]}),
    role(CA, "save-choice", "cipp_api_allowlist_save_azure_config",
         {"cipp_api_allowlist_clients": [CIPP_CLIENT], "cipp_api_allowlist_save_azure_config": "sometimes"}),
    role(CA, "controller-ip-word", "cipp_api_allowlist_controller_ip",
         {"cipp_api_allowlist_clients": [CIPP_CLIENT], "cipp_api_allowlist_controller_ip": "my laptop"}),
    role(CA, "self-lockout", "cipp_api_allowlist_force",
         {"cipp_api_allowlist_clients": [{"client": CONTROLLER, "ip_ranges": ["198.51.100.0/24"]}],
          "cipp_api_allowlist_controller_ip": "127.0.0.1"}),
    role(CA, "url-http", "cipp_api_allowlist_url",
         {"cipp_api_allowlist_clients": [CIPP_CLIENT], "cipp_api_allowlist_url": "http://cipp.example.com"}),
    role(CA, "force-not-bool", "cipp_api_allowlist_force",
         {"cipp_api_allowlist_clients": [CIPP_CLIENT], "cipp_api_allowlist_force": "maybe"}),
]

CE = "client_exclusion"
CLIENT = {"client_exclusion_msp_tenant_id": MSP, "client_exclusion_tenant_id": NORTHWIND}
CLIENT_EXCLUSION = [
    role(CE, "mode-typo", "access_mode", dict(CLIENT, access_mode="gdpa")),
    role(CE, "mode-choice", "client_exclusion_mode", dict(CLIENT, client_exclusion_mode="both")),
    role(CE, "no-msp", "msp_tenant_id", dict(CLIENT, client_exclusion_msp_tenant_id="")),
    role(CE, "msp-not-guid", "msp_tenant_id", dict(CLIENT, client_exclusion_msp_tenant_id="contoso")),
    role(CE, "direct-no-account", "cipp_service_account", dict(CLIENT, client_exclusion_mode="direct")),
    role(CE, "direct-account-unknown", "cipp_service_account",
         dict(CLIENT, client_exclusion_mode="direct", client_exclusion_service_account="nobody@northwind.onmicrosoft.com")),
    role(CE, "scope-choice", "client_exclusion_scope", dict(CLIENT, client_exclusion_scope="some")),
    role(CE, "managed-choice", "client_exclusion_managed_policies",
         dict(CLIENT, client_exclusion_managed_policies="delete")),
    role(CE, "clone-prefix-managed", "client_exclusion_clone_prefix",
         dict(CLIENT, client_exclusion_managed_policies="clone_and_disable",
              client_exclusion_clone_prefix="Microsoft-managed: ")),
    role(CE, "state-choice", "client_exclusion_state", dict(CLIENT, client_exclusion_state="gone")),
    role(CE, "tenant-garbage", "client_exclusion_tenant_id", dict(CLIENT, client_exclusion_tenant_id="x y")),
    role(CE, "gdap-in-msp", "client_exclusion_tenant_id", dict(CLIENT, client_exclusion_tenant_id=MSP)),
]


def all_cases():
    cases = TRUSTED_LOCATION + TECHNICIAN_ACCESS + SERVICE_ACCOUNT_MFA + CIPP_API_ALLOWLIST + CLIENT_EXCLUSION
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return cases
