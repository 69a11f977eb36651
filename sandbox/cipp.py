"""CIPP-API ExecApiClient and /api/me, per ../shared/reference/cipp-api.md section 4 (and 1.3-1.6 for the quirks)."""

import ipaddress
import json
import re

DENIED = "Access to this CIPP API endpoint is not allowed, the API Client does not have the required permission"
IP_PATTERN = re.compile(r"^(?:(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?:/\d{1,2})?|(?:[0-9A-Fa-f]{1,4}:){1,7}[0-9A-Fa-f]{1,4}(?:/\d{1,3})?)$",
                        re.I)
SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
WRITE_ACTIONS = {"addupdate", "savetoazure"}
ROLE_RANK = {"readonly": 1, "editor": 2, "admin": 3, "superadmin": 4}
ROLE_PERMISSIONS = {"readonly": set(), "editor": {"CIPP.Extension.ReadWrite"}, "admin": {"CIPP.Extension.ReadWrite"},
                    "superadmin": {"CIPP.Extension.ReadWrite"}}
# tenant listing (issue 12): ListTenants / ListTenantGroups need CIPP.Core.Read (every base role has it); the list of
# excluded tenants (ExecExcludeTenant?List=true) needs CIPP.AppSettings.ReadWrite (admin and above)
TENANT_ENDPOINTS = {"listtenants": "CIPP.Core.Read", "listtenantgroups": "CIPP.Core.Read",
                    "execexcludetenant": "CIPP.AppSettings.ReadWrite"}
ROLE_GRANTS = {"readonly": {"CIPP.Core.Read"}, "editor": {"CIPP.Core.Read"},
               "admin": {"CIPP.Core.Read", "CIPP.AppSettings.ReadWrite"},
               "superadmin": {"CIPP.Core.Read", "CIPP.AppSettings.ReadWrite"}}


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
    def __init__(self, config, record):
        self.record = record
        self.tenant_id = config.get("tenant_id")
        self.clients = {c["ClientId"].lower(): dict(c) for c in config.get("clients", [])}
        for client in self.clients.values():
            if isinstance(client.get("IPRange"), list):  # fixtures may list ranges; store them as CIPP does
                client["IPRange"] = encode_ranges(client["IPRange"])
        self.saved = list(config.get("saved_client_ids", [c["ClientId"] for c in self.clients.values() if c.get("Enabled")]))
        self.faults = dict(config.get("faults", {}))
        self.tenants = [dict(t) for t in config.get("tenants", [])]
        self.tenant_groups = [dict(g) for g in config.get("tenant_groups", [])]

    def state(self):
        return {"clients": list(self.clients.values()), "saved_client_ids": self.saved, "faults": self.faults,
                "tenants": self.tenants, "tenant_groups": self.tenant_groups}

    def update(self, changes):
        self.faults.update(changes.get("faults", {}))
        for key in ("tenants", "tenant_groups"):
            if key in changes:
                setattr(self, key, [dict(t) for t in changes[key]])
        for row in changes.get("clients", []):
            self.clients[row["ClientId"].lower()] = dict(row)

    def respond(self, method, path, query, status, body, write=False, request_body=None, content_type="application/json"):
        self.record(tenant=self.tenant_id, api="cipp", method=method, path=path, query=query, status=status,
                    write=write, body=request_body, version=None)
        raw = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
        return status, {"Content-Type": content_type}, raw

    def handle(self, method, path, query, headers, raw, claims, client_ip):
        # EasyAuth answers before CIPP runs: the token's audience must be a saved client's api://<appId>
        caller = (claims or {}).get("appid", "")
        saved = {c.lower() for c in self.saved}
        if claims is None or claims.get("aud") != "api://%s" % caller or caller.lower() not in saved:
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
            return self.respond(method, path, query, 200, {"clientPrincipal": {"appId": caller, "appRole": [role]},
                                                           "permissions": sorted(ROLE_PERMISSIONS.get(role, set()))})
        if endpoint.lower() in TENANT_ENDPOINTS:
            needed = TENANT_ENDPOINTS[endpoint.lower()]
            if needed not in ROLE_GRANTS.get(role, set()):
                text = "Access to this CIPP API endpoint is not allowed, the '%s' base role does not have the required " \
                       "permission: %s" % (role, needed)
                return self.respond(method, path, query, 403, text.encode(), request_body=body, content_type="text/plain")
            return self.respond(method, path, query, 200, self.tenant_listing(endpoint.lower(), query))
        if endpoint.lower() != "execapiclient":
            return self.respond(method, path, query, 404, b"Endpoint not found", content_type="text/plain")
        if "CIPP.Extension.ReadWrite" not in ROLE_PERMISSIONS.get(role, set()):
            text = "Access to this CIPP API endpoint is not allowed, the '%s' base role does not have the required " \
                   "permission: CIPP.Extension.ReadWrite" % role
            return self.respond(method, path, query, 403, text.encode(), request_body=body, content_type="text/plain")
        lowered = {k.lower(): v for k, v in query.items()}
        action = lowered.get("action") or next((v for k, v in body.items() if k.lower() == "action"), None)
        handler = {"list": self.list, "addupdate": self.add_update, "getazureconfiguration": self.get_config,
                   "savetoazure": self.save}.get(str(action).lower())
        if handler is None:
            return self.respond(method, path, query, 200, {"Results": "Invalid action"}, request_body=body)
        result = handler(body, role)
        # like Graph's log (write = a write request that was accepted): CIPP answers its errors with 200 as well,
        # so an error result is not a write
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
            if wanted and role != "superadmin" and ROLE_RANK.get(wanted, 9) > ROLE_RANK.get(role, 0):
                return [{"resultText": "You do not have sufficient permissions to manage an API client with the '%s' "
                                       "role; it grants permissions beyond your own." % wanted, "state": "error"}]
        if self.faults.get("api_config_fails"):
            return {"Results": [{"resultText": "Could not modify App Registrations. Check the CIPP documentation for API "
                                               "requirements. Error: Insufficient permissions to create API App.",
                                 "state": "error"}]}
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
        row.update(Role=requested_role, IPRange=encode_ranges(ranges), Enabled=False if fields.get("enabled") is None else fields["enabled"],
                   MCPAllowed=bool(fields.get("mcpallowed") or False))
        self.clients[client_id.lower()] = row
        return ["API client updated"] + warnings

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
        return {"Results": "API clients saved to Azure"}
