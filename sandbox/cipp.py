"""CIPP-API ExecApiClient and /api/me, per ../shared/reference/cipp-api.md section 4 (and 1.3-1.6 for the quirks)."""

import fnmatch
import ipaddress
import json
import re
import time

DENIED = "Access to this CIPP API endpoint is not allowed, the API Client does not have the required permission"
IP_PATTERN = re.compile(r"^(?:(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?:/\d{1,2})?|(?:[0-9A-Fa-f]{1,4}:){1,7}[0-9A-Fa-f]{1,4}(?:/\d{1,3})?)$",
                        re.I)
SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
WRITE_ACTIONS = {"addupdate", "savetoazure"}
BUILT_IN_ROLES = ("superadmin", "admin", "editor", "readonly", "anonymous", "authenticated")
# CIPP's permissions (a representative subset of function-permissions.json) and the base roles of
# Config/cipp-roles.json as include/exclude patterns (cipp-api.md 1.1)
PERMISSIONS = ["CIPP.Core.Read", "CIPP.Core.ReadWrite", "CIPP.Extension.Read", "CIPP.Extension.ReadWrite",
               "CIPP.AppSettings.Read", "CIPP.AppSettings.ReadWrite", "CIPP.Admin.Read", "CIPP.Admin.ReadWrite",
               "CIPP.SuperAdmin.Read", "CIPP.SuperAdmin.ReadWrite", "Tenant.Standards.Read", "Tenant.Standards.ReadWrite",
               "Tenant.ConditionalAccess.Read", "Tenant.ConditionalAccess.ReadWrite"]
BASE_ROLES = {
    "readonly": (["*.Read"], ["CIPP.SuperAdmin.*", "CIPP.Admin.*", "CIPP.AppSettings.*"]),
    "editor": (["*.Read", "*.ReadWrite"], ["CIPP.SuperAdmin.*", "CIPP.Admin.*", "CIPP.AppSettings.*",
                                         "Tenant.Standards.ReadWrite"]),
    "admin": (["*"], ["CIPP.SuperAdmin.*"]),
    "superadmin": (["*"], []),
}
EXEC_API_CLIENT = "CIPP.Extension.ReadWrite"  # .ROLE of Invoke-ExecApiClient
RESTART_BODIES = {502: b"<html><head><title>502 - Web server received an invalid response while acting as a gateway "
                       b"or proxy server.</title></head></html>",
                  503: b"Function host is not running."}


def base_permissions(role):
    include, exclude = BASE_ROLES[role]
    return {p for p in PERMISSIONS if any(fnmatch.fnmatchcase(p, i) for i in include)
            and not any(fnmatch.fnmatchcase(p, e) for e in exclude)}
# tenant listing (issue 12): ListTenants / ListTenantGroups need CIPP.Core.Read (every base role has it); the list of
# excluded tenants (ExecExcludeTenant?List=true) needs CIPP.AppSettings.ReadWrite (admin and above)
TENANT_ENDPOINTS = {"listtenants": "CIPP.Core.Read", "listtenantgroups": "CIPP.Core.Read",
                    "execexcludetenant": "CIPP.AppSettings.ReadWrite"}


def encode_ranges(ranges):
    """PowerShell's "$(@($IpRange) | ConvertTo-Json -Compress)": one entry is a bare string, none is ""."""
    if not ranges:
        return ""
    if len(ranges) == 1:
        return json.dumps(ranges[0])
    return json.dumps(ranges, separators=(",", ":"))


def decode_ranges(stored):
    """@($Client.IPRange | ConvertFrom-Json); blank or unparseable reads back as Any."""
    try:
        value = json.loads(stored) if stored else None
    except ValueError:
        value = None
    if value is None or value == "":
        return ["Any"]
    return value if isinstance(value, list) else [value]


def ip_in_range(address, range_text):
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(range_text, strict=False)
    except ValueError:
        return False


def parse_body(raw):
    """Receive-CippHttpTrigger's ConvertFrom-Json: keys differing only by case make it throw (cipp-api.md 1.1)."""
    def no_case_duplicates(pairs):
        seen = set()
        for key, _value in pairs:
            if key.lower() in seen:
                raise ValueError("Cannot convert the JSON string because it contains keys with different casing. "
                                 "Please use the -AsHashTable switch instead. The key that was already added was: %s" % key)
            seen.add(key.lower())
        return dict(pairs)
    try:
        return json.loads(raw, object_pairs_hook=no_case_duplicates) if raw else {}
    except ValueError as exc:
        if "different casing" in str(exc):
            raise
        return {}


def label_values(field):
    """$Request.Body.X.value: objects give their value; bare strings give nothing."""
    items = field if isinstance(field, list) else [field]
    return [i.get("value") for i in items if isinstance(i, dict) and i.get("value")]


def refused(result):
    """An AddUpdate / SaveToAzure answer that reports an error: nothing was stored."""
    if isinstance(result, dict):
        if result.get("Error"):
            return True
        result = result.get("Results")
    items = result if isinstance(result, list) else [result]
    return any(isinstance(i, dict) and i.get("state") == "error" for i in items)


class CippApi:
    def __init__(self, config, record, app_setup=None):
        self.record = record
        self.app_setup = app_setup  # New-CIPPAPIConfig's side effects on the app registration (server.State)
        self.tenant_id = config.get("tenant_id")
        self.clients = {c["ClientId"].lower(): dict(c) for c in config.get("clients", [])}
        for client in self.clients.values():
            if isinstance(client.get("IPRange"), list):  # fixtures may list ranges; store them as CIPP does
                client["IPRange"] = encode_ranges(client["IPRange"])
        self.saved = list(config.get("saved_client_ids", [c["ClientId"] for c in self.clients.values() if c.get("Enabled")]))
        # custom roles: {name: {"Permissions": [...], "BlockedEndpoints": [...]}} (CIPP > Settings > Roles)
        self.custom_roles = {k.lower(): dict(v) for k, v in (config.get("custom_roles") or {}).items()}
        self.faults = dict(config.get("faults", {}))
        self.down_until = 0.0
        self.down_calls = 0
        self.setup_runs = []  # what each AddUpdate's API-client setup did to the app registration
        self.tenants = [dict(t) for t in config.get("tenants", [])]
        self.tenant_groups = [dict(g) for g in config.get("tenant_groups", [])]

    def state(self):
        return {"clients": list(self.clients.values()), "saved_client_ids": self.saved, "faults": self.faults,
                "tenants": self.tenants, "tenant_groups": self.tenant_groups, "custom_roles": self.custom_roles,
                "setup_runs": self.setup_runs, "restarting": max(0.0, self.down_until - time.monotonic())}

    def update(self, changes):
        self.faults.update(changes.get("faults", {}))
        for key in ("tenants", "tenant_groups"):
            if key in changes:
                setattr(self, key, [dict(t) for t in changes[key]])
        for row in changes.get("clients", []):
            self.clients[row["ClientId"].lower()] = dict(row)
        for name, role in (changes.get("custom_roles") or {}).items():
            self.custom_roles[name.lower()] = dict(role)

    # -- roles (Test-CIPPAccess, Get-CIPPRolePermissions, Test-CippApiClientRoleGrant)
    def permissions_of(self, role):
        """The permission set of a base or custom role; None when no such role exists."""
        role = (role or "").lower()
        if role in BASE_ROLES:
            return base_permissions(role)
        custom = self.custom_roles.get(role)
        if custom is None:
            return None
        return {p for p in PERMISSIONS if any(re.search(str(held), p) for held in custom.get("Permissions") or [])}

    def access_denied(self, role, endpoint, permission):
        """Test-CIPPAccess for an API client with ``role``: the 403 text, or None when the call may go on."""
        if role in BASE_ROLES:
            if permission not in base_permissions(role):
                return "Access to this CIPP API endpoint is not allowed, the '%s' base role does not have the required " \
                       "permission: %s" % (role, permission)
            return None
        custom = self.custom_roles.get(role.lower())
        if custom is None:
            # Get-CIPPRolePermissions throws, the catch continues, and with no permission set found the function
            # returns $true: a role that does not exist lets the call through (CIPP-API 10.8.2 as read) unless the
            # unknown_role_denied switch models the documented reading
            if self.faults.get("unknown_role_denied"):
                return "Access to this CIPP API endpoint is not allowed, you do not have the required permission: %s" \
                    % permission
            return None
        if permission not in (self.permissions_of(role) or set()):
            return "Access to this CIPP API endpoint is not allowed, you do not have the required permission: %s" \
                % permission
        if endpoint in (custom.get("BlockedEndpoints") or []):
            return "Access to this CIPP API endpoint is not allowed, the custom role '%s' has blocked this endpoint: %s" \
                % (role, endpoint)
        return None

    def grant_refusal(self, caller_role, wanted):
        """Test-CippApiClientRoleGrant: a caller may only give or touch roles within its own permission set."""
        if not wanted or caller_role == "superadmin":
            return None
        if wanted.lower() in ("anonymous", "authenticated"):
            return "The role '%s' cannot be assigned to an API client." % wanted
        needed = self.permissions_of(wanted)
        if needed is None:
            return "The role '%s' does not exist." % wanted
        if not needed <= (self.permissions_of(caller_role) or set()):
            return "You do not have sufficient permissions to manage an API client with the '%s' role; it grants " \
                   "permissions beyond your own." % wanted
        return None

    def respond(self, method, path, query, status, body, write=False, request_body=None, content_type="application/json"):
        self.record(tenant=self.tenant_id, api="cipp", method=method, path=path, query=query, status=status,
                    write=write, body=request_body, version=None)
        raw = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
        return status, {"Content-Type": content_type}, raw

    def audience_accepted(self, claims, caller):
        """EasyAuth's allowedAudiences hold api://<id> of each saved client; the registration's own client id (the
        first saved client) is accepted bare as well (bare_audience: registration | all | none)."""
        aud = claims.get("aud")
        if aud == "api://%s" % caller:
            return True
        mode = self.faults.get("bare_audience", "registration")
        if aud != caller or mode == "none":
            return False
        return mode == "all" or bool(self.saved) and self.saved[0].lower() == caller.lower()

    def handle(self, method, path, query, headers, raw, claims, client_ip):
        if time.monotonic() < self.down_until:
            # Save Azure Configuration restarts the Function App: the front end answers 502, then the host 503
            self.down_calls += 1
            status = 502 if self.down_calls % 2 else 503
            return self.respond(method, path, query, status, RESTART_BODIES[status], content_type="text/plain")
        # EasyAuth answers before CIPP runs: the token's audience must be a saved client's api://<appId>
        caller = (claims or {}).get("appid", "")
        saved = {c.lower() for c in self.saved}
        if claims is None or not self.audience_accepted(claims, caller) or caller.lower() not in saved:
            return self.respond(method, path, query, 401, None)  # EasyAuth: empty body
        try:
            body = parse_body(raw)
        except ValueError as exc:
            return self.respond(method, path, query, 500, str(exc).encode(), content_type="text/plain")
        if not isinstance(body, dict):
            body = {}
        version = {k.lower(): v for k, v in headers.items()}.get("x-cipp-version")
        if version is not None and not SEMVER.match(version.strip()):
            # New-CippCoreRequest casts it with [semver] outside any try block
            return self.respond(method, path, query, 500, ('Cannot convert value "%s" to type '
                                                           '"System.Management.Automation.SemanticVersion".' % version).encode(),
                                request_body=body, content_type="text/plain")
        # App Service's front end puts the caller's address in X-Forwarded-For; the sandbox plays that front end
        # unless front_end_xff is off, and then a request without the header has no address: 403 (cipp-api.md 4.2)
        front_end = client_ip if self.faults.get("front_end_xff", True) else ""
        forwarded = {k.lower(): v for k, v in headers.items()}.get("x-forwarded-for") or self.faults.get("forwarded_for") \
            or front_end
        address = re.sub(r"[\[\]]", "", re.sub(r"^(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]|[0-9a-fA-F:]+)(?::\d+)?$",
                                               r"\1", forwarded.split(",")[0].strip()))
        row = self.clients.get(caller.lower())
        role = (row or {}).get("Role") or "cipp-api"
        if row is not None:
            ranges = decode_ranges(row.get("IPRange"))
            if "Any" not in ranges and not any(address == r or ip_in_range(address, r) for r in ranges):
                return self.respond(method, path, query, 403, DENIED.encode(), request_body=body, content_type="text/plain")
        endpoint = path[len("/api/"):]
        if endpoint == "me":
            # appRole holds only the roles that are not built in (Test-CIPPAccess filters $DefaultRoles out)
            custom = [] if role.lower() in BUILT_IN_ROLES else [role]
            permissions = set()
            for name in custom:
                permissions |= self.permissions_of(name) or set()
            return self.respond(method, path, query, 200, {"clientPrincipal": {"appId": caller, "appRole": custom},
                                                           "permissions": sorted(permissions)})
        if endpoint.lower() in TENANT_ENDPOINTS:
            denial = self.access_denied(role, endpoint, TENANT_ENDPOINTS[endpoint.lower()])
            if denial:
                return self.respond(method, path, query, 403, denial.encode(), request_body=body, content_type="text/plain")
            return self.respond(method, path, query, 200, self.tenant_listing(endpoint.lower(), query))
        if endpoint.lower() != "execapiclient":
            return self.respond(method, path, query, 404, b"Endpoint not found", content_type="text/plain")
        denial = self.access_denied(role, "ExecApiClient", EXEC_API_CLIENT)
        if denial:
            return self.respond(method, path, query, 403, denial.encode(), request_body=body, content_type="text/plain")
        lowered = {k.lower(): v for k, v in query.items()}
        action = lowered.get("action") or next((v for k, v in body.items() if k.lower() == "action"), None)
        handler = {"list": self.list, "addupdate": self.add_update, "getazureconfiguration": self.get_config,
                   "savetoazure": self.save}.get(str(action).lower())
        if handler is None:
            return self.respond(method, path, query, 200, {"Results": "Invalid action"}, request_body=body)
        result = handler(body, role)
        # like Graph's log (write = a write request that was accepted): CIPP answers its errors with 200 as well,
        # so an error result is not a write (an MCP warning comes after the table was written: a write)
        return self.respond(method, path, query, 200, result,
                            write=str(action).lower() in WRITE_ACTIONS and not refused(result), request_body=body)

    def tenant_listing(self, endpoint, query):
        """ListTenants (excluded tenants hidden; AllTenantSelector adds the AllTenants pseudo-tenant first; tenantFilter
        by id or domain), ListTenantGroups, ExecExcludeTenant?List=true (the excluded tenants)."""
        lowered = {k.lower(): v for k, v in query.items()}
        if endpoint == "listtenantgroups":
            return {"Results": self.tenant_groups}
        if endpoint == "execexcludetenant":
            if str(lowered.get("list", "")).lower() != "true":
                return {"Results": "Only ExecExcludeTenant?List=true is served by the sandbox"}
            return [t for t in self.tenants if t.get("Excluded")]
        rows = [t for t in self.tenants if not t.get("Excluded")]
        wanted = str(lowered.get("tenantfilter") or "").lower()
        if wanted and wanted != "alltenants":
            rows = [t for t in rows if wanted in (str(t["customerId"]).lower(), str(t["defaultDomainName"]).lower())]
        if str(lowered.get("alltenantselector", "")).lower() == "true":
            rows = [{"customerId": "AllTenants", "defaultDomainName": "AllTenants", "displayName": "*All Tenants",
                     "Excluded": False}] + rows
        return rows

    def list(self, body, role):
        if not self.clients:
            return None  # $Body never assigned: an empty 200
        results = []
        for c in self.clients.values():
            ranges = decode_ranges(c.get("IPRange"))
            if ranges == []:
                # Get-CippApiClient before PR #472: "if (...Count -eq 0) { @('Any') }" never assigns, so the
                # row keeps its empty list and a stray 'Any' goes to the output
                results.append("Any")
            results.append({"ClientId": c["ClientId"], "AppName": c.get("AppName"), "Role": c.get("Role") or None,
                            "IPRange": ranges, "Enabled": c.get("Enabled"), "MCPAllowed": bool(c.get("MCPAllowed"))})
        return {"Results": results}

    def add_update(self, body, role):
        fields = {k.lower(): v for k, v in body.items()}
        requested_role = "".join(label_values(fields.get("role")))
        client_id = fields.get("clientid")
        client_id = client_id.get("value") if isinstance(client_id, dict) else client_id
        if not client_id:
            return {"Results": []}
        existing = self.clients.get(client_id.lower())
        for wanted in (requested_role, (existing or {}).get("Role") or ""):
            refusal = self.grant_refusal(role, wanted)
            if refusal:
                return [{"resultText": refusal, "state": "error"}]
        if self.faults.get("api_config_fails"):
            return {"Results": [{"resultText": "Could not modify App Registrations. Check the CIPP documentation for API "
                                               "requirements. Error: Insufficient permissions to create API App.",
                                 "state": "error"}]}
        if self.app_setup:  # New-CIPPAPIConfig -ClientId: identifier URI repair, service principal
            self.setup_runs.append(dict(self.app_setup(client_id, (existing or {}).get("AppName")), ClientId=client_id))
        ranges, warnings = [], []
        for ip in label_values(fields.get("iprange")):
            ip = ip.strip()
            if IP_PATTERN.match(ip):
                ranges.append(ip)
            else:
                warnings.append({"resultText": "'%s' is not a valid IP address or CIDR range." % ip, "state": "warning"})
        if self.faults.get("store_drops_last_range") and ranges:
            ranges = ranges[:-1]  # a storage fault for the read-back test
        row = existing or {"ClientId": client_id, "AppName": fields.get("appname")}
        mcp = bool(fields.get("mcpallowed") or False)
        row.update(Role=requested_role, IPRange=encode_ranges(ranges), Enabled=False if fields.get("enabled") is None else fields["enabled"],
                   MCPAllowed=mcp)
        self.clients[client_id.lower()] = row
        results = ["API client updated"]
        if mcp:
            # Set-CIPPMCPClientApp runs after the table was written; its failure is only a warning
            if self.faults.get("mcp_config_fails", True):
                results.append({"resultText": "Client saved, but MCP app configuration failed: Insufficient privileges "
                                              "to complete the operation.", "state": "warning"})
            else:
                results.append("MCP resource URIs and v2 tokens configured on the app registration. Run Save to Azure to "
                               "apply the changes.")
        return results + warnings

    def get_config(self, body, role):
        if self.faults.get("azure_config_fails"):
            return {"Results": {"Enabled": "Could not get API clients, ensure you have the appropriate rights to read the "
                                           "Authentication settings.", "Error": {"message": "Forbidden"}}}
        return {"Results": {"ApiUrl": "https://cipp-sandbox.azurewebsites.net", "TenantID": self.tenant_id,
                            "ClientIDs": list(self.saved), "Enabled": bool(self.saved)}}

    def save(self, body, role):
        if self.faults.get("save_fails"):
            return {"Results": "Failed to save allowed API clients to Azure, ensure your function app has the appropriate "
                               "rights to make changes to the Authentication settings.", "Error": {"message": "Forbidden"}}
        self.saved = [c["ClientId"] for c in self.clients.values() if c.get("Enabled") is True]
        # the new authsettingsV2 restarts the Function App ("may take up to 60 seconds"): restarting = N seconds
        self.down_until = time.monotonic() + float(self.faults.get("restarting") or 0)
        return {"Results": "API clients saved to Azure"}
