# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CIPP-API client and the Part C logic (Allowed IP Ranges of API clients, Save Azure Configuration).

PRIVATE to the msp.conditional_access collection: the API may change without notice.

Follows CIPP-API's ExecApiClient as its source behaves (../shared/reference/cipp-api.md): AddUpdate replaces
Role, IPRange, Enabled and MCPAllowed at once, reads IPRange[].value only, drops invalid entries with a
warning (and saves the rest), and answers errors with HTTP 200 and ``state: error``.
"""

from __future__ import annotations

import ipaddress

from ansible.module_utils.basic import env_fallback

from ._auth import Authenticator, ca_bundle
from ._diff import make_diff
from ._module import InvalidOption, ModuleError
from ._resolve import is_guid

CIPP_ARGUMENT_SPEC = dict(
    cipp_api_url=dict(type="str", fallback=(env_fallback, ["CIPP_API_URL"])),
    cipp_api_scope=dict(type="str"),
)
DENIED_HINT = "denied: IP not allowed or missing permission"


def canonical_ranges(entries, option="allowed_ip_ranges"):
    """Validated networks; IPv4 as a.b.c.d/len, IPv6 fully exploded (CIPP's regex rejects '::')."""
    networks = []
    for entry in entries:
        try:
            network = ipaddress.ip_network(str(entry).strip(), strict=False)
        except ValueError:
            raise InvalidOption(option, entry, "not an IPv4/IPv6 address or CIDR range")
        if network not in networks:
            networks.append(network)
    networks.sort(key=lambda n: (n.version, n))
    return [n.exploded if n.version == 6 else str(n) for n in networks]


def current_ranges(row):
    """List's IPRange: ['Any'] means no restriction (an empty list here)."""
    ranges = row.get("IPRange") or ["Any"]
    if "Any" in ranges:
        return []
    try:
        return canonical_ranges(ranges, "IPRange (as stored in CIPP)")
    except InvalidOption:
        return sorted(ranges)  # something CIPP stored that never matches: show it as it is


def result_problems(body):
    """Entries of an ExecApiClient answer whose state is error or warning (HTTP is 200 either way)."""
    entries = body.get("Results") if isinstance(body, dict) else body
    if isinstance(entries, dict):
        entries = [entries]
    if isinstance(body, dict) and body.get("Error"):
        return [entries if isinstance(entries, str) else str(body["Error"])]
    problems = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("state") in ("error", "warning"):
            problems.append(entry.get("resultText") or str(entry))
    return problems


class CippClient:
    def __init__(self, params):
        if not params.get("cipp_api_url"):
            raise InvalidOption("cipp_api_url", None, "set it (or CIPP_API_URL) to the CIPP Function App URL")
        self.base = params["cipp_api_url"].rstrip("/")
        if self.base.endswith("/api"):
            self.base = self.base[:-4]
        self.auth = Authenticator(params)
        self.scope = params.get("cipp_api_scope") or "api://%s/.default" % params.get("client_id")
        self.requests = 0
        self._session = None
        self._token = None

    def call(self, method, action, body=None):
        import requests  # imported late: only the CIPP modules need it

        if self._session is None:
            self._session = requests.Session()
            self._session.verify = ca_bundle() or True
            self._token = self.auth.token(self.scope)
        url = "%s/api/ExecApiClient" % self.base
        headers = {"Authorization": "Bearer " + self._token, "Accept": "application/json"}
        self.requests += 1
        if method == "GET":
            response = self._session.get(url, params={"Action": action}, headers=headers, timeout=120)
        else:
            response = self._session.post(url, params={"Action": action}, json=dict(body or {}, Action=action),
                                          headers=headers, timeout=120)
        if response.status_code == 403:
            raise ModuleError("CIPP-API %s %s: %s (CIPP said: %s)" % (method, action, DENIED_HINT, response.text.strip()),
                              status=403)
        if response.status_code >= 400:
            text = response.text.strip()[:300]
            raise ModuleError("CIPP-API %s %s failed: HTTP %s %s" % (method, action, response.status_code, text),
                              status=response.status_code)
        return response.json() if response.content.strip() else None


class ApiClientIps:
    """Part C for one API client."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.warnings = []

    def find(self, rows):
        wanted = self.params["api_client"]
        if is_guid(wanted):
            matches = [r for r in rows if r["ClientId"].lower() == wanted.lower()]
        else:
            matches = [r for r in rows if r.get("AppName") == wanted]
        if len(matches) > 1:
            raise InvalidOption("api_client", wanted, "%d CIPP-API clients have this name (ids: %s); use the client id"
                                % (len(matches), ", ".join(r["ClientId"] for r in matches)))
        if not matches:
            raise InvalidOption("api_client", wanted, "no CIPP-API client with this id or name (known: %s)"
                                % ", ".join("%s (%s)" % (r.get("AppName"), r["ClientId"]) for r in rows))
        return matches[0]

    def desired(self, row):
        p = self.params
        desired = canonical_ranges(p["allowed_ip_ranges"])
        if not desired and not p.get("allow_any_ip"):
            raise InvalidOption("allowed_ip_ranges", [], "an empty list lets every IP in (CIPP treats it as Any); "
                                "set allow_any_ip=true if that is what you want")
        is_self = row["ClientId"].lower() == str(p.get("client_id") or "").lower()
        if is_self and desired and not p.get("force"):
            if p.get("controller_ip"):
                address = ipaddress.ip_address(p["controller_ip"])
                if not any(address in ipaddress.ip_network(r) for r in desired):
                    raise InvalidOption("allowed_ip_ranges", p["allowed_ip_ranges"], "would lock this controller "
                                        "(%s) out of its own API client; include it or set force=true" % p["controller_ip"])
            else:
                self.warnings.append("the target is this controller's own API client; set controller_ip so the module "
                                     "can refuse a list that would lock it out")
        return desired

    def ensure(self):
        client = CippClient(self.params)
        listed = client.call("GET", "List") or {}
        rows = listed.get("Results") or []
        row = self.find(rows)
        before = current_ranges(row)
        desired = self.desired(row)
        changed = before != desired
        if changed and not self.module.check_mode:
            body = {"ClientId": row["ClientId"],
                    "IPRange": [{"label": r, "value": r} for r in desired],
                    "Enabled": bool(row.get("Enabled")), "MCPAllowed": bool(row.get("MCPAllowed"))}
            if row.get("Role"):
                body["Role"] = {"label": row["Role"], "value": row["Role"]}
            problems = result_problems(client.call("POST", "AddUpdate", body))
            if problems:
                raise ModuleError("CIPP-API AddUpdate of %s did not apply cleanly: %s"
                                  % (row.get("AppName"), "; ".join(problems)))
            stored = current_ranges(self.find((client.call("GET", "List") or {}).get("Results") or []))
            if stored != desired:
                raise ModuleError("CIPP-API stored %s for %s, not the requested %s"
                                  % (stored or "Any", row.get("AppName"), desired or "Any"))
        saved = self.save_azure_config(client, rows)
        after_row = dict(row, IPRange=desired or ["Any"])
        result = {"changed": changed or saved, "saved_azure_config": saved,
                  "api_client": {"client_id": row["ClientId"], "app_name": row.get("AppName"), "role": row.get("Role"),
                                 "enabled": row.get("Enabled"), "allowed_ip_ranges": after_row["IPRange"]}}
        if self.module._diff:
            label = "CIPP-API client %r (%s)" % (row.get("AppName"), row["ClientId"])
            result["diff"] = make_diff({"allowed_ip_ranges": before or ["Any"]}, {"allowed_ip_ranges": desired or ["Any"]},
                                       label + " in CIPP", label + " (task)")
        if self.warnings:
            result["warnings"] = self.warnings
        return result

    def save_azure_config(self, client, rows):
        mode = self.params["save_azure_config"]
        if mode == "never":
            return False
        if mode == "auto":
            config = (client.call("GET", "GetAzureConfiguration") or {}).get("Results") or {}
            enabled = {r["ClientId"].lower() for r in rows if r.get("Enabled") is True}
            saved = {c.lower() for c in config.get("ClientIDs") or []}
            if enabled == saved:
                return False
        if self.module.check_mode:
            return True
        answer = client.call("POST", "SaveToAzure", {})
        problems = result_problems(answer)
        if problems:
            raise ModuleError("CIPP-API SaveToAzure failed: %s" % "; ".join(problems))
        self.warnings.append("Save Azure Configuration restarts CIPP; changes can take about 60 seconds")
        return True


def list_clients(module):
    rows = (CippClient(module.params).call("GET", "List") or {}).get("Results") or []
    return [{"client_id": r["ClientId"], "app_name": r.get("AppName"), "role": r.get("Role"),
             "enabled": r.get("Enabled"), "mcp_allowed": r.get("MCPAllowed"),
             "allowed_ip_ranges": r.get("IPRange"), "unrestricted": "Any" in (r.get("IPRange") or ["Any"])}
            for r in rows]
