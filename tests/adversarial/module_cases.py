"""Bad inputs for every module: (args, the option the error must name). Data only; harness.py runs them."""

from __future__ import annotations

import json

from .harness import REPO, Case

MSP = "11111111-1111-4111-8111-111111111111"
FABRIKAM = "22222222-2222-4222-8222-222222222222"
NORTHWIND = "33333333-3333-4333-8333-333333333333"
MISSING = "0badc0de-0000-4000-8000-000000000000"
CONTROLLER = "5e3c1a0d-7b2f-4c4e-9a51-00000000c1a5"
LOCATIONS = "/identity/conditionalAccess/namedLocations"
IP_TYPE = "#microsoft.graph.ipNamedLocation"

GRAPH_MODULES = {
    "ca_named_location": {"display_name": "Adversarial office", "ip_ranges": ["203.0.113.0/24"]},
    "ca_named_location_info": {},
    "ca_policy": {"display_name": "Adversarial policy", "policy_state": "report_only"},
    "ca_policy_info": {},
    "ca_client_exclusion": {"msp_tenant_id": MSP},
    "ca_client_exclusion_info": {"msp_tenant_id": MSP},
    "ca_tenant_info": {},
    "ca_what_if": {"scenarios": [{"name": "technician at home", "user": "alice@contoso-msp.onmicrosoft.com",
                                  "expect": "blocked"}]},
    "ca_signin_review": {},
    "ca_mfa_coverage_info": {},
    "ca_backup_restore": {"backup": "build/adversarial/backups/location.json"},  # written by OTHER_MODULES' first case
}
CIPP_MODULES = {
    "cipp_api_client_ips": {"api_client": "RMM integration", "allowed_ip_ranges": ["203.0.113.0/24"]},
    "cipp_api_client_ips_info": {},
}
TENANT_OF = {"ca_client_exclusion": FABRIKAM, "ca_client_exclusion_info": FABRIKAM}


def base(module):
    args = dict(GRAPH_MODULES[module] if module in GRAPH_MODULES else CIPP_MODULES.get(module, {}))
    args["tenant_id"] = TENANT_OF.get(module, MSP)
    return args


def case(case_id, module, option, *, also=(), env=None, check=False, setup=None, why="", drop=(), **args):
    merged = base(module)
    for key in drop:
        merged.pop(key, None)
    merged.update(args)
    return Case(id=case_id, target=module, args=merged, option=option, env=env or {}, check=check, setup=setup,
                also=tuple(also), why=why)


# -- the options every module shares: endpoints, tenant, credentials, TLS trust ---------------------------------------

def common(module):
    m = module
    cases = [
        case(m + ":graph-http", m, "graph_endpoint", also=("https://",), graph_endpoint="http://127.0.0.1:1"),
        case(m + ":graph-http-env", m, "graph_endpoint", also=("MSGRAPH_ENDPOINT", "https://"),
             env={"MSGRAPH_ENDPOINT": "http://graph.microsoft.com"}),
        case(m + ":authority-http", m, "authority_host", also=("https://",), authority_host="http://login.example.com"),
        case(m + ":authority-http-env", m, "authority_host", also=("AZURE_AUTHORITY_HOST",),
             env={"AZURE_AUTHORITY_HOST": "http://login.microsoftonline.com"}),
        case(m + ":tenant-garbage", m, "tenant_id", tenant_id="not a tenant!"),
        case(m + ":tenant-alias", m, "tenant_id", also=("names no tenant",), tenant_id="common"),
        case(m + ":client-id-not-guid", m, "client_id", client_id="my-app"),
        case(m + ":ca-bundle-missing", m, "REQUESTS_CA_BUNDLE", env={"REQUESTS_CA_BUNDLE": "/nonexistent/ca.pem"}),
        case(m + ":no-credentials", m, "client_secret", also=("AZURE_CLIENT_SECRET", "AZURE_CLIENT_ID"),
             env={"AZURE_CLIENT_ID": None, "AZURE_CLIENT_SECRET": None, "PATH": "/nonexistent"}),
    ]
    if m in GRAPH_MODULES:
        cases += [
            case(m + ":graph-version-in-url", m, "graph_endpoint", also=("API version",),
                 graph_endpoint="https://graph.microsoft.com/v1.0"),
            case(m + ":auth-method-choice", m, "auth_method", auth_method="password"),
        ]
    return cases


SHARED_EXTRA = [  # the same options once more, with inputs that used to escape as tracebacks
    case("ca_named_location:graph-bad-ipv6-url", "ca_named_location", "graph_endpoint", graph_endpoint="https://[::1"),
    case("ca_named_location:graph-bad-port", "ca_named_location", "graph_endpoint",
         graph_endpoint="https://graph.microsoft.com:99999"),
    case("ca_named_location:graph-no-host", "ca_named_location", "graph_endpoint", graph_endpoint="https://"),
    case("ca_named_location:graph-userinfo", "ca_named_location", "graph_endpoint",
         graph_endpoint="https://user:pass@graph.microsoft.com"),
    case("ca_named_location:graph-query", "ca_named_location", "graph_endpoint",
         graph_endpoint="https://graph.microsoft.com/?x=1"),
    case("ca_named_location:graph-ftp", "ca_named_location", "graph_endpoint", graph_endpoint="ftp://graph.microsoft.com"),
    case("ca_named_location:graph-schemeless", "ca_named_location", "graph_endpoint", graph_endpoint="graph.microsoft.com"),
    case("ca_named_location:authority-path", "ca_named_location", "authority_host",
         authority_host="https://login.microsoftonline.com/" + MSP),
    case("ca_named_location:authority-garbage", "ca_named_location", "authority_host", authority_host="https://exa mple"),
    case("ca_named_location:tenant-env", "ca_named_location", "tenant_id", also=("AZURE_TENANT_ID",),
         env={"AZURE_TENANT_ID": "contoso"}, drop=("tenant_id",)),
    case("ca_named_location:tenant-url", "ca_named_location", "tenant_id", tenant_id="https://login.microsoftonline.com"),
    case("ca_named_location:tenant-path", "ca_named_location", "tenant_id", tenant_id=MSP + "/../x"),
    case("ca_named_location:tenant-blank", "ca_named_location", "tenant_id", tenant_id="   "),
    case("ca_named_location:ssl-cert-file-missing", "ca_named_location", "SSL_CERT_FILE",
         env={"REQUESTS_CA_BUNDLE": None, "SSL_CERT_FILE": "/nonexistent/bundle.pem"}),
    case("ca_named_location:certificate-missing", "ca_named_location", "client_certificate_path",
         auth_method="certificate", client_certificate_path="/nonexistent/app.pem"),
    case("ca_named_location:certificate-missing-env", "ca_named_location", "client_certificate_path",
         also=("AZURE_CLIENT_CERTIFICATE_PATH",), env={"AZURE_CLIENT_CERTIFICATE_PATH": "/nonexistent/app.pem"},
         auth_method="certificate"),
    case("ca_named_location:secret-method-no-secret", "ca_named_location", "client_secret",
         also=("AZURE_CLIENT_SECRET",), env={"AZURE_CLIENT_SECRET": None}, auth_method="client_secret"),
    case("ca_named_location:wrong-secret", "ca_named_location", MSP, also=("AADSTS7000215",),
         client_secret="wrong-secret-value", why="a refused login names the tenant and the AADSTS code"),
    case("ca_named_location:unknown-tenant", "ca_named_location", "99999999-9999-4999-8999-999999999999",
         tenant_id="99999999-9999-4999-8999-999999999999"),
    case("ca_named_location:cloud-choice", "ca_named_location", "cloud", cloud="mars"),
    case("ca_named_location:access-token-blank", "ca_named_location", "access_token",
         auth_method="access_token", access_token=""),
]


# -- ca_named_location -------------------------------------------------------------------------------------------------

def put_location(location):
    def setup(sandbox):
        sandbox.client.put_location(MSP, dict({"@odata.type": IP_TYPE, "isTrusted": False}, **location))
    return setup


def put_policy_using(location_id):
    def setup(sandbox):
        sandbox.client.put_policy(MSP, {
            "id": "aaaaaaaa-0000-4000-8000-%012d" % (len(location_id) % 7), "displayName": "Uses the location",
            "state": "disabled",
            "conditions": {"users": {"includeUsers": ["All"]}, "applications": {"includeApplications": ["All"]},
                           "clientAppTypes": ["all"],
                           "locations": {"includeLocations": ["All"], "excludeLocations": [location_id]}},
            "grantControls": {"operator": "OR", "builtInControls": ["block"]}})
    return setup


def both(*setups):
    def setup(sandbox):
        for step in setups:
            step(sandbox)
    return setup


TRUSTED = {"id": "bbbbbbbb-0000-4000-8000-000000000001", "displayName": "Adversarial trusted",
           "isTrusted": True, "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange",
                                            "cidrAddress": "198.51.100.0/24"}]}
USED = dict(TRUSTED, id="bbbbbbbb-0000-4000-8000-000000000002", displayName="Adversarial used by id", isTrusted=False)
COUNTRY = {"@odata.type": "#microsoft.graph.countryNamedLocation", "id": "bbbbbbbb-0000-4000-8000-000000000003",
           "displayName": "Adversarial countries", "countriesAndRegions": ["NL"],
           "includeUnknownCountriesAndRegions": False, "countryLookupMethod": "clientIpAddress"}
TWIN_A = dict(TRUSTED, id="bbbbbbbb-0000-4000-8000-000000000004", displayName="Adversarial Twin", isTrusted=False)
TWIN_B = dict(TRUSTED, id="bbbbbbbb-0000-4000-8000-000000000005", displayName="adversarial twin", isTrusted=False)

NL = "ca_named_location"
EVERY_V4 = ["%d.%d.0.0/9" % (i // 2, (i % 2) * 128) for i in range(512)]
EVERY_V6 = ["%x::/9" % (i << 7) for i in range(512)]
NAMED_LOCATION = [
    case(NL + ":prefix-8", NL, "ip_ranges", also=("10.0.0.0/8",), ip_ranges=["10.0.0.0/8"]),
    case(NL + ":prefix-0", NL, "ip_ranges", ip_ranges=["0.0.0.0/0"]),
    case(NL + ":ipv6-prefix-0", NL, "ip_ranges", ip_ranges=["::/0"]),
    case(NL + ":ipv6-prefix-8", NL, "ip_ranges", ip_ranges=["2001::/8"]),
    case(NL + ":word", NL, "ip_ranges", also=("office",), ip_ranges=["office"]),
    case(NL + ":octet-300", NL, "ip_ranges", ip_ranges=["203.0.113.300"]),
    case(NL + ":prefix-33", NL, "ip_ranges", ip_ranges=["203.0.113.0/33"]),
    case(NL + ":prefix-negative", NL, "ip_ranges", ip_ranges=["203.0.113.0/-1"]),
    case(NL + ":two-slashes", NL, "ip_ranges", ip_ranges=["203.0.113.0/24/8"]),
    case(NL + ":leading-zero", NL, "ip_ranges", ip_ranges=["203.0.113.010"]),
    case(NL + ":zone-id", NL, "ip_ranges", also=("zone",), ip_ranges=["fe80::1%eth0"]),
    case(NL + ":zone-id-cidr", NL, "ip_ranges", also=("zone",), ip_ranges=["fe80::%2/64"]),
    case(NL + ":ipv4-mapped", NL, "ip_ranges", also=("203.0.113.10/32",), ip_ranges=["::ffff:203.0.113.10"]),
    case(NL + ":ipv4-mapped-range", NL, "ip_ranges", also=("IPv4-mapped",), ip_ranges=["::ffff:203.0.113.0/120"]),
    case(NL + ":blank-entry", NL, "ip_ranges", also=("blank",), ip_ranges=["203.0.113.0/24", ""]),
    case(NL + ":space-entry", NL, "ip_ranges", also=("blank",), ip_ranges=["   "]),
    case(NL + ":null-entry", NL, "ip_ranges", ip_ranges=[None]),
    case(NL + ":empty-list", NL, "ip_ranges", also=("at least one",), ip_ranges=[]),
    case(NL + ":cover-ipv4", NL, "ip_ranges", also=("allow_any_ip", "IPv4"), ip_ranges=EVERY_V4),
    case(NL + ":cover-ipv6", NL, "ip_ranges", also=("allow_any_ip", "IPv6"), ip_ranges=EVERY_V6),
    case(NL + ":too-many", NL, "ip_ranges", also=("2000",),
         ip_ranges=["100.%d.%d.0/24" % (i // 250, i % 250) for i in range(2001)]),
    case(NL + ":blank-name", NL, "display_name", also=("blank",), display_name=""),
    case(NL + ":space-name", NL, "display_name", also=("blank",), display_name="   "),
    case(NL + ":newline-name", NL, "display_name", also=("control",), display_name="Office\nEvil"),
    case(NL + ":id-not-guid", NL, "id", id="office", drop=("display_name",)),
    case(NL + ":id-path", NL, "id", id="../policies", drop=("display_name",)),
    case(NL + ":id-query", NL, "id", id=MISSING + "?$select=id", drop=("display_name",)),
    case(NL + ":id-unknown", NL, "id", also=(MISSING,), id=MISSING, drop=("display_name",)),
    case(NL + ":no-name-no-id", NL, "display_name", drop=("display_name",)),
    case(NL + ":countries-word", NL, "countries_and_regions", countries_and_regions=["Netherlands"],
         drop=("ip_ranges",)),
    case(NL + ":countries-digits", NL, "countries_and_regions", countries_and_regions=["N1"], drop=("ip_ranges",)),
    case(NL + ":countries-empty", NL, "countries_and_regions", countries_and_regions=[], drop=("ip_ranges",)),
    case(NL + ":countries-and-ranges", NL, "countries_and_regions", countries_and_regions=["NL"]),
    case(NL + ":country-trusted", NL, "is_trusted", countries_and_regions=["NL"], is_trusted=True, drop=("ip_ranges",)),
    case(NL + ":lookup-choice", NL, "country_lookup_method", country_lookup_method="gps"),
    case(NL + ":country-options-on-ip", NL, "countries_and_regions", include_unknown_countries_and_regions=True),
    case(NL + ":trusted-not-bool", NL, "is_trusted", is_trusted="maybe"),
    case(NL + ":state-choice", NL, "state", state="deleted"),
    case(NL + ":unknown-option", NL, "ip_range", ip_range=["203.0.113.0/24"]),
    case(NL + ":new-without-ranges", NL, "ip_ranges", drop=("ip_ranges",)),
    case(NL + ":type-change", NL, "ip_ranges", also=("country",), setup=put_location(COUNTRY),
         display_name=COUNTRY["displayName"]),
    case(NL + ":ambiguous-name", NL, "display_name", also=(TWIN_A["id"], TWIN_B["id"]),
         setup=both(put_location(TWIN_A), put_location(TWIN_B)), display_name="ADVERSARIAL TWIN"),
    case(NL + ":delete-all-trusted", NL, "force", also=("Uses the location",),
         setup=both(put_location(TRUSTED), put_policy_using("AllTrusted")), display_name=TRUSTED["displayName"],
         state="absent", drop=("ip_ranges",), why="a trusted location is used through AllTrusted"),
    case(NL + ":delete-used-by-id", NL, "force", also=("Uses the location",),
         setup=both(put_location(USED), put_policy_using(USED["id"])), display_name=USED["displayName"],
         state="absent", drop=("ip_ranges",)),
    case(NL + ":delete-used-by-id-check", NL, "force", check=True,
         setup=both(put_location(USED), put_policy_using(USED["id"])), id=USED["id"], state="absent",
         drop=("ip_ranges", "display_name")),
]

NLI = "ca_named_location_info"
NAMED_LOCATION_INFO = [
    case(NLI + ":id-not-guid", NLI, "id", id="office"),
    case(NLI + ":id-path", NLI, "id", id="x/../../policies"),
    case(NLI + ":blank-name", NLI, "display_name", display_name=" "),
    case(NLI + ":name-and-id", NLI, "display_name", display_name="x", id=MISSING),
    case(NLI + ":refs-not-bool", NLI, "with_references", with_references="often"),
]

# -- ca_policy / ca_policy_info ----------------------------------------------------------------------------------------
P = "ca_policy"
ALL_USERS = {"users": {"include_users": ["All"]}, "applications": {"include_applications": ["All"]}}
POLICY = [
    case(P + ":blank-name", P, "display_name", display_name=""),
    case(P + ":tab-name", P, "display_name", display_name="CA001\tx"),
    case(P + ":id-not-guid", P, "id", id="CA001"),
    case(P + ":id-path", P, "id", id="../namedLocations"),
    case(P + ":state-choice", P, "policy_state", policy_state="on"),
    case(P + ":naming-choice", P, "naming_convention", naming_convention="strict"),
    case(P + ":unknown-user", P, "include_users", also=("nobody@contoso-msp.onmicrosoft.com",),
         conditions={"users": {"include_users": ["nobody@contoso-msp.onmicrosoft.com"]},
                     "applications": {"include_applications": ["All"]}}),
    case(P + ":unknown-group", P, "include_groups",
         conditions={"users": {"include_groups": ["No Such Group"]}, "applications": {"include_applications": ["All"]}}),
    case(P + ":unknown-location", P, "exclude_locations",
         conditions=dict(ALL_USERS, locations={"include_locations": ["All"], "exclude_locations": ["Nowhere"]})),
    case(P + ":platform-choice", P, "include_platforms",
         conditions=dict(ALL_USERS, platforms={"include_platforms": ["beos"]})),
    case(P + ":client-app-choice", P, "client_app_types", conditions=dict(ALL_USERS, client_app_types=["fax"])),
    case(P + ":risk-choice", P, "user_risk_levels", conditions=dict(ALL_USERS, user_risk_levels=["extreme"])),
    case(P + ":grant-choice", P, "built_in_controls", conditions=ALL_USERS,
         grant_controls={"operator": "OR", "built_in_controls": ["pray"]}),
    case(P + ":operator-choice", P, "operator", conditions=ALL_USERS,
         grant_controls={"operator": "XOR", "built_in_controls": ["mfa"]}),
    case(P + ":conditions-unknown-key", P, "userz", conditions={"userz": {}}),
    case(P + ":frequency-not-int", P, "value", conditions=ALL_USERS,
         session_controls={"sign_in_frequency": {"is_enabled": True, "type": "hours", "value": "soon"}}),
    case(P + ":guest-type-choice", P, "guest_or_external_user_types",
         conditions={"users": {"include_guests_or_external_users": {"guest_or_external_user_types": ["alien"]}},
                     "applications": {"include_applications": ["All"]}}),
    case(P + ":unknown-strength", P, "authentication_strength", conditions=ALL_USERS,
         grant_controls={"operator": "OR", "authentication_strength": "Super strong"}),
    case(P + ":break-glass-unknown", P, "break_glass_accounts", policy_state="enabled",
         conditions=ALL_USERS, grant_controls={"operator": "OR", "built_in_controls": ["block"]},
         break_glass_accounts=["nobody@contoso-msp.onmicrosoft.com"]),
    case(P + ":block-all-no-break-glass", P, "break_glass_accounts", policy_state="enabled",
         conditions=ALL_USERS, grant_controls={"operator": "OR", "built_in_controls": ["block"]}),
    case(P + ":microsoft-name", P, "display_name", naming_convention="microsoft", display_name="Block stuff"),
]
PI = "ca_policy_info"
POLICY_INFO = [
    case(PI + ":id-not-guid", PI, "id", id="CA001"),
    case(PI + ":id-query", PI, "id", id=MISSING + "?$expand=x"),
    case(PI + ":blank-name", PI, "display_name", display_name=""),
    case(PI + ":states-choice", PI, "policy_states", policy_states=["on"]),
    case(PI + ":name-and-id", PI, "display_name", display_name="x", id=MISSING),
]

# -- ca_client_exclusion / _info -----------------------------------------------------------------------------------------
CE = "ca_client_exclusion"
CEI = "ca_client_exclusion_info"


def exclusion(module):
    m = module
    return [
        case(m + ":msp-not-guid", m, "msp_tenant_id", msp_tenant_id="contoso-msp.onmicrosoft.com"),
        case(m + ":msp-blank", m, "msp_tenant_id", msp_tenant_id=""),
        case(m + ":msp-missing", m, "msp_tenant_id", drop=("msp_tenant_id",)),
        case(m + ":mode-choice", m, "mode", mode="both"),
        case(m + ":direct-no-account", m, "service_account", mode="direct", tenant_id=NORTHWIND),
        case(m + ":account-path", m, "service_account", mode="direct", tenant_id=NORTHWIND,
             service_account="../groups"),
        case(m + ":account-query", m, "service_account", mode="direct", tenant_id=NORTHWIND,
             service_account="cipp-direct@northwind.onmicrosoft.com?$select=id"),
        case(m + ":account-no-domain", m, "service_account", mode="direct", tenant_id=NORTHWIND,
             service_account="cipp-direct"),
        case(m + ":account-unknown", m, "service_account", mode="direct", tenant_id=NORTHWIND,
             service_account="nobody@northwind.onmicrosoft.com"),
        case(m + ":account-unknown-guid", m, "service_account", mode="direct", tenant_id=NORTHWIND,
             service_account=MISSING),
        case(m + ":gdap-in-msp", m, "tenant_id", tenant_id=MSP),
        case(m + ":blank-policy", m, "policies", policies=[""]),
    ]


EXCLUSION = exclusion(CE) + exclusion(CEI) + [
    case(CE + ":managed-choice", CE, "managed_policies", managed_policies="delete"),
    case(CE + ":scope-choice", CE, "scope", scope="some"),
    case(CE + ":clone-prefix-managed", CE, "clone_prefix", managed_policies="clone_and_disable",
         clone_prefix="Microsoft-managed: "),
    case(CE + ":clone-prefix-empty", CE, "clone_prefix", managed_policies="clone_and_disable", clone_prefix=""),
    case(CE + ":state-choice", CE, "state", state="gone"),
    case(CE + ":include-disabled-not-bool", CE, "include_disabled", include_disabled="sometimes"),
]

# -- ca_tenant_info --------------------------------------------------------------------------------------------------
TI = "ca_tenant_info"
TENANT_INFO = [
    case(TI + ":subset-choice", TI, "gather_subset", gather_subset=["everything"]),
    case(TI + ":user-not-upn", TI, "users", users=["alice"]),
    case(TI + ":user-path", TI, "users", users=["../groups"]),
    case(TI + ":user-query", TI, "users", users=["alice@contoso-msp.onmicrosoft.com?$select=id"]),
    case(TI + ":user-blank", TI, "users", users=[""]),
    case(TI + ":group-blank", TI, "groups", groups=["  "]),
    case(TI + ":users-not-list", TI, "users", users={"a": 1}),
]

# -- cipp_api_client_ips / _info -------------------------------------------------------------------------------------------
C = "cipp_api_client_ips"
CI = "cipp_api_client_ips_info"


def cipp_common(module):
    m = module
    return [
        case(m + ":cipp-http", m, "cipp_api_url", also=("https://",), cipp_api_url="http://cipp.example.com"),
        case(m + ":cipp-http-env", m, "cipp_api_url", also=("CIPP_API_URL",),
             env={"CIPP_API_URL": "http://cipp.example.com"}),
        case(m + ":cipp-missing", m, "cipp_api_url", env={"CIPP_API_URL": None}),
        case(m + ":cipp-userinfo", m, "cipp_api_url", cipp_api_url="https://a:b@cipp.example.com"),
        case(m + ":cipp-schemeless", m, "cipp_api_url", cipp_api_url="cipp.example.com"),
    ]


CIPP = cipp_common(C) + cipp_common(CI) + [
    case(C + ":empty", C, "allowed_ip_ranges", also=("allow_any_ip",), allowed_ip_ranges=[]),
    case(C + ":any-v4", C, "allowed_ip_ranges", also=("allow_any_ip",), allowed_ip_ranges=["0.0.0.0/0"]),
    case(C + ":any-v6", C, "allowed_ip_ranges", allowed_ip_ranges=["::/0"]),
    case(C + ":halves-v4", C, "allowed_ip_ranges", also=("allow_any_ip",),
         allowed_ip_ranges=["0.0.0.0/1", "128.0.0.0/1"]),
    case(C + ":halves-v6", C, "allowed_ip_ranges", also=("IPv6",), allowed_ip_ranges=["::/1", "8000::/1"]),
    case(C + ":zone-id", C, "allowed_ip_ranges", also=("zone",), allowed_ip_ranges=["fe80::1%eth0"]),
    case(C + ":ipv4-mapped", C, "allowed_ip_ranges", also=("IPv4",), allowed_ip_ranges=["::ffff:198.51.100.7"]),
    case(C + ":word", C, "allowed_ip_ranges", allowed_ip_ranges=["office"]),
    case(C + ":blank", C, "allowed_ip_ranges", allowed_ip_ranges=[" "]),
    case(C + ":unknown-client", C, "api_client", api_client="No such app"),
    case(C + ":unknown-client-id", C, "api_client", api_client=MISSING),
    case(C + ":missing-client", C, "api_client", drop=("api_client",)),
    case(C + ":missing-ranges", C, "allowed_ip_ranges", drop=("allowed_ip_ranges",)),
    case(C + ":controller-ip-word", C, "controller_ip", controller_ip="my laptop"),
    case(C + ":controller-ip-cidr", C, "controller_ip", controller_ip="203.0.113.0/24"),
    case(C + ":self-lockout", C, "allowed_ip_ranges", also=("127.0.0.1", "force"), api_client=CONTROLLER,
         client_id=CONTROLLER, controller_ip="127.0.0.1", allowed_ip_ranges=["198.51.100.0/24"]),
    case(C + ":save-choice", C, "save_azure_config", save_azure_config="sometimes"),
    case(C + ":any-not-bool", C, "allow_any_ip", allow_any_ip="yes please"),
]


# -- the modules of the other issues: what-if, sign-in review, MFA coverage, restore, report ----------------------------
WI = "ca_what_if"
SR = "ca_signin_review"
MC = "ca_mfa_coverage_info"
BR = "ca_backup_restore"
RP = "ca_report"
BACKUPS = REPO / "build" / "adversarial" / "backups"


def backup_file(name, record):
    """setup: a backup file holding ``record`` (text as is when it is a str)."""
    def setup(sandbox):
        BACKUPS.mkdir(parents=True, exist_ok=True)
        (BACKUPS / name).write_text(record if isinstance(record, str) else json.dumps(record))
    return setup


LOCATION_RECORD = {"format": 1, "tenant_id": MSP, "kind": "named_location", "id": TRUSTED["id"], "object": TRUSTED}
OTHER_MODULES = [
    case(BR + ":missing", BR, "backup", backup="/nonexistent/backup"),
    case(WI + ":no-scenarios", WI, "scenarios", drop=("scenarios",)),
    case(WI + ":scenario-no-name", WI, "name", scenarios=[{"user": "alice@contoso-msp.onmicrosoft.com",
                                                           "expect": "mfa"}]),
    case(WI + ":expect-choice", WI, "expect", scenarios=[{"name": "x", "expect": "maybe"}]),
    case(WI + ":bad-ip", WI, "ip_address", scenarios=[{"name": "x", "user": "alice@contoso-msp.onmicrosoft.com",
                                                       "ip_address": "203.0.113.300", "expect": "blocked"}]),
    case(WI + ":guest-type-choice", WI, "external_user_type",
         scenarios=[{"name": "x", "external_user_type": "alien", "expect": "blocked"}]),
    case(WI + ":unknown-user", WI, "user", also=("nobody@contoso-msp.onmicrosoft.com",),
         scenarios=[{"name": "x", "user": "nobody@contoso-msp.onmicrosoft.com", "expect": "blocked"}]),
    case(SR + ":window-not-int", SR, "window_days", window_days="a week"),
    case(SR + ":window-zero", SR, "window_days", window_days=0),
    case(SR + ":since-word", SR, "since", since="yesterday"),
    case(SR + ":user-not-upn", SR, "users", users=["alice"]),
    case(SR + ":percent-word", SR, "max_blocked_percent", max_blocked_percent="lots"),
    case(MC + ":msp-not-guid", MC, "msp_tenant_id", msp_tenant_id="contoso"),
    case(MC + ":direct-no-account", MC, "service_account", mode="direct"),
    case(MC + ":account-path", MC, "service_account", mode="direct", service_account="../groups"),
    case(MC + ":mode-choice", MC, "mode", mode="both"),
    case(BR + ":not-json", BR, "backup", setup=backup_file("not-json.json", "{ not json"),
         backup=str(BACKUPS / "not-json.json")),
    case(BR + ":not-a-backup", BR, "backup", setup=backup_file("other.json", {"hello": "world"}),
         backup=str(BACKUPS / "other.json")),
    case(BR + ":other-tenant", BR, "backup", also=(FABRIKAM,),
         setup=backup_file("fabrikam.json", dict(LOCATION_RECORD, tenant_id=FABRIKAM)),
         backup=str(BACKUPS / "fabrikam.json")),
    case(BR + ":no-kind", BR, "backup",
         setup=backup_file("no-kind.json", {k: v for k, v in LOCATION_RECORD.items() if k != "kind"}),
         backup=str(BACKUPS / "no-kind.json")),
    case(BR + ":id-path", BR, "backup", setup=backup_file("id-path.json", dict(LOCATION_RECORD, id="../policies")),
         backup=str(BACKUPS / "id-path.json")),
    case(BR + ":kinds-choice", BR, "kinds", kinds=["everything"]),
    case(RP + ":tenants-missing", RP, "tenants", drop=("tenant_id",)),
    case(RP + ":tenants-not-list", RP, "tenants", tenants="all", drop=("tenant_id",)),
    case(RP + ":days-not-int", RP, "expiring_days", tenants=[], expiring_days="soon", drop=("tenant_id",)),
]


def all_cases():
    backup_file("location.json", LOCATION_RECORD)(None)  # the backup every other ca_backup_restore case names
    cases = []
    for module in list(GRAPH_MODULES) + list(CIPP_MODULES):
        cases += common(module)
    cases += SHARED_EXTRA + OTHER_MODULES + NAMED_LOCATION + NAMED_LOCATION_INFO + POLICY + POLICY_INFO + EXCLUSION + TENANT_INFO + CIPP
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return cases
