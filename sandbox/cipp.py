"""CIPP-API ExecApiClient and /api/me, per ../shared/reference/cipp-api.md section 4 (and 1.3-1.6 for the quirks)."""

import ipaddress
import json
import re

DENIED = "Access to this CIPP API endpoint is not allowed, the API Client does not have the required permission"
IP_PATTERN = re.compile(r"^(?:(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?:/\d{1,2})?|(?:[0-9A-Fa-f]{1,4}:){1,7}[0-9A-Fa-f]{1,4}(?:/\d{1,3})?)$",
                        re.I)
ROLE_RANK = {"readonly": 1, "editor": 2, "admin": 3, "superadmin": 4}
ROLE_PERMISSIONS = {"readonly": set(), "editor": {"CIPP.Extension.ReadWrite"}, "admin": {"CIPP.Extension.ReadWrite"},
                    "superadmin": {"CIPP.Extension.ReadWrite"}}


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


def label_values(field):
    """$Request.Body.X.value: objects give their value; bare strings give nothing."""
    items = field if isinstance(field, list) else [field]
    return [i.get("value") for i in items if isinstance(i, dict) and i.get("value")]


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

    def state(self):
        return {"clients": list(self.clients.values()), "saved_client_ids": self.saved, "faults": self.faults}

    def update(self, changes):
        self.faults.update(changes.get("faults", {}))
        for row in changes.get("clients", []):
            self.clients[row["ClientId"].lower()] = dict(row)

    def respond(self, method, path, query, status, body, write=False, request_body=None, content_type="application/json"):
        self.record(tenant=self.tenant_id, api="cipp", method=method, path=path, query=query, status=status,
                    write=write, body=request_body, version=None)
        raw = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
        return status, {"Content-Type": content_type}, raw

    def handle(self, method, path, query, headers, raw, claims, client_ip):
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        caller = (claims or {}).get("appid", "")
        if claims is None or claims.get("aud") != "api://%s" % caller or caller not in self.saved:
            return self.respond(method, path, query, 401, None, request_body=body)  # EasyAuth: empty body
        forwarded = {k.lower(): v for k, v in headers.items()}.get("x-forwarded-for") or self.faults.get("forwarded_for") \
            or client_ip
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
        result, wrote = handler(body, role)
        return self.respond(method, path, query, 200, result, write=wrote, request_body=body)

    def list(self, body, role):
        if not self.clients:
            return None, False  # $Body never assigned: an empty 200
        return {"Results": [{"ClientId": c["ClientId"], "AppName": c.get("AppName"), "Role": c.get("Role") or None,
                             "IPRange": decode_ranges(c.get("IPRange")), "Enabled": bool(c.get("Enabled")),
                             "MCPAllowed": bool(c.get("MCPAllowed"))} for c in self.clients.values()]}, False

    def add_update(self, body, role):
        fields = {k.lower(): v for k, v in body.items()}
        requested_role = "".join(label_values(fields.get("role")))
        client_id = fields.get("clientid")
        client_id = client_id.get("value") if isinstance(client_id, dict) else client_id
        if not client_id:
            return {"Results": []}, False
        existing = self.clients.get(client_id.lower())
        for wanted in (requested_role, (existing or {}).get("Role") or ""):
            if wanted and role != "superadmin" and ROLE_RANK.get(wanted, 9) > ROLE_RANK.get(role, 0):
                return [{"resultText": "You do not have sufficient permissions to manage an API client with the '%s' "
                                       "role; it grants permissions beyond your own." % wanted, "state": "error"}], False
        if self.faults.get("api_config_fails"):
            return {"Results": [{"resultText": "Could not modify App Registrations. Check the CIPP documentation for API "
                                               "requirements. Error: Insufficient permissions to create API App.",
                                 "state": "error"}]}, False
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
        row.update(Role=requested_role, IPRange=encode_ranges(ranges), Enabled=fields.get("enabled") or False,
                   MCPAllowed=bool(fields.get("mcpallowed") or False))
        self.clients[client_id.lower()] = row
        return ["API client updated"] + warnings, True

    def get_config(self, body, role):
        return {"Results": {"ApiUrl": "https://cipp-sandbox.azurewebsites.net", "TenantID": self.tenant_id,
                            "ClientIDs": list(self.saved), "Enabled": bool(self.saved)}}, False

    def save(self, body, role):
        if self.faults.get("save_fails"):
            return {"Results": "Failed to save allowed API clients to Azure, ensure your function app has the appropriate "
                               "rights to make changes to the Authentication settings.", "Error": {"message": "Forbidden"}}, False
        self.saved = [c["ClientId"] for c in self.clients.values() if c.get("Enabled") is True]
        return {"Results": "API clients saved to Azure"}, True
