# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CIPP-API client and the Part C logic (Allowed IP Ranges of API clients, Save Azure Configuration).

PRIVATE to the msp.conditional_access collection: the API may change without notice.

Follows CIPP-API's ExecApiClient as its source behaves (shared/reference/cipp-api.md): AddUpdate replaces
Role, IPRange, Enabled and MCPAllowed at once, reads IPRange[].value only, drops invalid entries with a
warning (and saves the rest), and answers errors with HTTP 200 and ``state: error``.
"""

from __future__ import annotations

import ipaddress

from ansible.module_utils.basic import env_fallback

from ._auth import AuthError, Authenticator, ca_bundle
from ._backup import save_cipp_client
from ._diff import make_diff
from ._graph import WriteGate
from ._inputs import display_text, networks
from ._module import InvalidOption, ModuleError
from ._resolve import is_guid

CIPP_ARGUMENT_SPEC = dict(
    cipp_api_url=dict(type="str", fallback=(env_fallback, ["CIPP_API_URL"])),
    cipp_api_scope=dict(type="str"),
)
# CIPP's 403 texts (Test-CIPPAccess / New-CippCoreRequest), each with what it means for the caller
DENIALS = (
    ("the API Client does not have the required permission", "ip_blocked",
     "CIPP refused this API client's address: the caller is outside the client's Allowed IP Ranges"),
    ("base role does not have the required permission", "role",
     "the API client's CIPP base role lacks the permission this call needs"),
    ("you do not have the required permission", "role",
     "the API client's custom CIPP role lacks the permission this call needs"),
    ("has blocked this endpoint", "role", "the API client's custom CIPP role blocks this endpoint"),
    ("Access to this tenant is not allowed", "tenant", "the API client's CIPP role does not allow this tenant"),
    ("subscription has ended", "subscription", "the hosted CIPP subscription has ended"),
)
RESTART_STATUSES = (502, 503)  # what the Function App answers while it restarts after Save Azure Configuration
MCP_WARNING = "Client saved, but MCP app configuration failed"
UNAUTHORIZED_HINT = ("the Function App's authentication refused the token: is the client enabled in CIPP and saved to Azure "
                     "(Save Azure Configuration), and is the scope api://<client id>/.default?")
ANY = "Any"
# How List shows a client's ranges. "deny_all" is a row holding a literal "[]": CIPP-API up to PR #472 (CyberDrain/CIPP)
# reads it back as an empty list, which refuses every request instead of meaning Any.
ANY_IP, DENY_ALL, RESTRICTED = "any", "deny_all", "restricted"


# -- pure logic ------------------------------------------------------------------------------------------------------

def canonical_ranges(entries, option="allowed_ip_ranges", allow_any_ip=False, warn=None):
    """Validated, deduplicated, sorted networks (see _inputs.networks) as CIPP's regex accepts them.

    IPv4 as a.b.c.d/len; IPv6 fully exploded (CIPP rejects any '::' with a warning and drops the entry).
    Results and diffs show them compressed (``shown``), as every other range of the collection.
    """
    return [n.exploded if n.version == 6 else str(n)
            for n in networks(option, entries, allow_any_ip=allow_any_ip, warn=warn)]


def client_rows(listed):
    """The API clients of a List answer.

    An empty table gives an empty 200 body. A row holding "[]" makes CIPP-API (before PR #472) emit a stray
    "Any" string among the rows: only objects with a ClientId are clients.
    """
    if listed is None:
        return []
    rows = listed.get("Results") if isinstance(listed, dict) else None
    if not isinstance(rows, list):
        raise ModuleError("CIPP-API List answered something that is not a client list: %s" % str(listed)[:300])
    return [r for r in rows if isinstance(r, dict) and r.get("ClientId")]


def read_ranges(row):
    """(kind, canonical ranges) of a List row: ["Any"] is any IP, [] refuses every request (see DENY_ALL)."""
    ranges = row.get("IPRange")
    if ranges is None or ranges == "" or ANY in (ranges if isinstance(ranges, list) else [ranges]):
        return ANY_IP, []
    if not isinstance(ranges, list):
        ranges = [ranges]
    if not ranges:
        return DENY_ALL, []
    try:
        return RESTRICTED, canonical_ranges(ranges, "IPRange (as stored in CIPP)", allow_any_ip=True)
    except InvalidOption:
        return RESTRICTED, sorted(str(r) for r in ranges)  # stored entries that never match: shown as they are


def shown(kind, ranges):
    """The ranges as CIPP's List shows them, for diff and results."""
    return [ANY] if kind == ANY_IP else [display_text(r) for r in ranges]


def result_problems(body):
    """Texts of an ExecApiClient answer that reports a failure (the HTTP status is 200 either way).

    Entries may come as a bare array or wrapped in {"Results": ...}, each a string or a {resultText, state} object.
    """
    if isinstance(body, dict) and body.get("Error"):
        results = body.get("Results")
        return [results if isinstance(results, str) else str(body["Error"])]
    entries = body.get("Results") if isinstance(body, dict) else body
    if isinstance(entries, dict):
        if entries.get("Error"):
            return [" ".join(str(v) for k, v in entries.items() if k != "Error" and isinstance(v, str))
                    or str(entries["Error"])]
        entries = [entries]
    if isinstance(entries, str):
        return [entries] if entries == "Invalid action" else []
    problems = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and str(entry.get("state", "")).lower() in ("error", "warning"):
            problems.append(entry.get("resultText") or str(entry))
    return problems


def classify_denial(text):
    """(kind, meaning) of a CIPP 403 text: ip_blocked, role, tenant, subscription or unknown."""
    for fragment, kind, meaning in DENIALS:
        if fragment.lower() in (text or "").lower():
            return kind, meaning
    return "unknown", "CIPP refused the call"


def only_mcp_warnings(problems):
    """True when every problem is CIPP's MCP warning, which comes after the table was written (cipp-api.md 1.3)."""
    return bool(problems) and all(p.startswith(MCP_WARNING) for p in problems)


def find_client(rows, wanted):
    """The row of ``api_client``: by client id (GUID, any case) or exact app name; ambiguous or missing fails."""
    if is_guid(wanted):
        matches = [r for r in rows if str(r["ClientId"]).lower() == wanted.lower()]
    else:
        matches = [r for r in rows if r.get("AppName") == wanted]
    if len(matches) > 1:
        raise InvalidOption("api_client", wanted, "%d CIPP-API clients have this name (ids: %s); use the client id"
                            % (len(matches), ", ".join(r["ClientId"] for r in matches)))
    if not matches:
        raise InvalidOption("api_client", wanted, "no CIPP-API client with this id or name (known: %s)"
                            % (", ".join("%s (%s)" % (r.get("AppName"), r["ClientId"]) for r in rows) or "none"))
    return matches[0]


def plan_ranges(row, params, caller_id):
    """What the task wants for ``row``: raises InvalidOption for bad input, before anything is sent.

    Returns a dict with before/after kinds and ranges, ``changed`` and ``locks_out_controller`` (forced).
    """
    warnings = []
    desired = canonical_ranges(params["allowed_ip_ranges"], allow_any_ip=bool(params.get("allow_any_ip")),
                               warn=warnings.append)
    if not desired and not params.get("allow_any_ip"):
        raise InvalidOption("allowed_ip_ranges", [], "an empty list lets every IP in (CIPP treats it as Any); "
                            "set allow_any_ip=true if that is what you want")
    controller = None
    if params.get("controller_ip"):
        try:
            controller = ipaddress.ip_address(str(params["controller_ip"]).strip())
        except ValueError:
            raise InvalidOption("controller_ip", params["controller_ip"], "not an IPv4/IPv6 address")
    before_kind, before = read_ranges(row)
    after_kind = RESTRICTED if desired else ANY_IP
    plan = {"before_kind": before_kind, "before": before, "after_kind": after_kind, "after": desired,
            "changed": (before_kind, before) != (after_kind, desired), "is_self": False,
            "locks_out_controller": False, "warnings": warnings}
    plan["is_self"] = bool(caller_id) and str(row["ClientId"]).lower() == str(caller_id).lower()
    if plan["is_self"] and desired and plan["changed"]:
        inside = controller is not None and any(controller in ipaddress.ip_network(r) for r in desired)
        if not inside and not params.get("force"):
            if controller is None:
                raise InvalidOption("controller_ip", None, "%r is this controller's own API client: set controller_ip "
                                    "to the address CIPP sees this controller call from (it must be inside "
                                    "allowed_ip_ranges), or set force=true" % row.get("AppName"))
            raise InvalidOption("allowed_ip_ranges", params["allowed_ip_ranges"], "would lock this controller "
                                "(%s) out of its own API client; include it or set force=true" % controller)
        plan["locks_out_controller"] = not inside
    return plan


def azure_config_pending(rows, config):
    """True when the enabled clients differ from the saved Azure configuration (the CIPP UI's 'unsaved' rule)."""
    enabled = {str(r["ClientId"]).lower() for r in rows if r.get("Enabled") is True}
    saved = {str(c).lower() for c in config.get("ClientIDs") or []}
    return enabled != saved


def add_update_body(row, ranges):
    """AddUpdate replaces Role, IPRange, Enabled and MCPAllowed: send all back as they are, only IPRange changes.

    Never CIPPAPI (ResetSecret would delete every secret of the app) nor AppName (used for new apps only).
    """
    body = {"ClientId": row["ClientId"],
            "IPRange": [{"label": r, "value": r} for r in ranges],  # CIPP reads .value: bare strings clear the list
            # as listed: CIPP stores Enabled as sent (missing = false) and casts MCPAllowed to bool
            "Enabled": False if row.get("Enabled") is None else row["Enabled"],
            "MCPAllowed": False if row.get("MCPAllowed") is None else row["MCPAllowed"]}
    if row.get("Role"):
        body["Role"] = {"label": row["Role"], "value": row["Role"]}
    return body


def public_client(row, saved_ids=None):
    """A List row for output: no secrets (List has none), names users know."""
    kind, ranges = read_ranges(row)
    client = {"client_id": row["ClientId"], "app_name": row.get("AppName"), "role": row.get("Role"),
              "enabled": row.get("Enabled") is True, "mcp_allowed": row.get("MCPAllowed") is True,
              "allowed_ip_ranges": shown(kind, ranges), "unrestricted": kind == ANY_IP, "denies_all": kind == DENY_ALL}
    if saved_ids is not None:
        client["saved_to_azure"] = str(row["ClientId"]).lower() in saved_ids
    return client


# -- HTTP ------------------------------------------------------------------------------------------------------------

class CippClient:
    """ExecApiClient over HTTPS with the caller's own API client token; TLS always verified."""

    def __init__(self, params):
        if not params.get("cipp_api_url"):
            raise InvalidOption("cipp_api_url", None, "set it (or CIPP_API_URL) to the CIPP Function App URL")
        self.base = params["cipp_api_url"].rstrip("/")
        if self.base.endswith("/api"):
            self.base = self.base[:-4]
        self.auth = Authenticator(params)
        problem = self.auth.credential_problem()
        if problem:  # before the scope: "no credentials" is the thing to fix
            raise AuthError(problem)
        self.scope = params.get("cipp_api_scope")
        if not self.scope:
            if not params.get("client_id") and self.auth.method != "access_token":
                raise InvalidOption("cipp_api_scope", None, "set it, or client_id (the scope is then api://<client_id>/.default)")
            self.scope = "api://%s/.default" % params.get("client_id")
        self.requests = 0
        self.gate = WriteGate()  # writes only through GraphModule.write (the chokepoint)
        self._session = None
        self._token = None

    def _send(self, method, endpoint, params=None, json_body=None):
        import requests  # imported late: only the CIPP modules need it

        if self._session is None:
            self._session = requests.Session()
            self._session.verify = ca_bundle() or True
            self._token = self.auth.token(self.scope)
        self.gate.check(method, endpoint)
        url = "%s/api/%s" % (self.base, endpoint)
        # No X-CIPP-Version: CIPP casts it to [semver] outside any try block.
        headers = {"Authorization": "Bearer " + self._token, "Accept": "application/json"}
        self.requests += 1
        what = "CIPP-API %s %s%s" % (method, endpoint, " " + params["Action"] if params and "Action" in params else "")
        try:
            response = self._session.request(method, url, params=params, json=json_body, headers=headers, timeout=120)
        except requests.RequestException as exc:
            raise ModuleError("%s: no answer from %s (%s)" % (what, self.base, exc.__class__.__name__ + ": " + str(exc)[:200]))
        text = response.text.strip()
        if response.status_code == 401:
            raise ModuleError("%s: HTTP 401, %s" % (what, UNAUTHORIZED_HINT), status=401)
        if response.status_code == 403:
            kind, meaning = classify_denial(text)
            raise ModuleError("%s: HTTP 403, %s (CIPP said: %s)" % (what, meaning, text[:300]), status=403, denial=kind)
        if response.status_code >= 400:
            raise ModuleError("%s failed: HTTP %s %s" % (what, response.status_code, text[:300]), status=response.status_code)
        if not text:
            return None
        try:
            return response.json()
        except ValueError:
            raise ModuleError("%s: the answer is not JSON: %s" % (what, text[:300]), status=response.status_code)

    def call(self, method, action, body=None):
        """ExecApiClient ``action``; POST bodies carry the action too, as CIPP's UI sends them."""
        if method == "GET":
            return self._send("GET", "ExecApiClient", params={"Action": action})
        return self._send("POST", "ExecApiClient", params={"Action": action}, json_body=dict(body or {}, Action=action))

    def request(self, method, action, body=None):
        """What the write chokepoint calls: ExecApiClient ``action``."""
        return self.call(method, action, body)

    def me(self):
        return self._send("GET", "me") or {}

    def get(self, endpoint, **params):
        """GET any CIPP-API endpoint (ListTenants, ListTenantGroups, ...) with query parameters."""
        return self._send("GET", endpoint, params=params or None)

    def wait_until_answering(self, budget, sleep=None, clock=None):
        """After Save Azure Configuration the Function App restarts (the UI warns of up to 60 s) and answers 502/503:
        probe /api/me until it answers otherwise, for at most ``budget`` seconds. Returns the seconds waited."""
        import time

        sleep, clock = sleep or time.sleep, clock or time.monotonic
        start, pause, last = clock(), 1.0, None
        while True:
            try:
                self._send("GET", "me")
                return round(clock() - start, 1)
            except ModuleError as exc:
                status = exc.details.get("status")
                if status not in RESTART_STATUSES and status is not None:
                    return round(clock() - start, 1)  # it answers (a 401/403 is an answer, judged by the next call)
                last = str(exc)
            if clock() - start + pause > budget:
                raise ModuleError("CIPP did not answer within %s s after Save Azure Configuration (it restarts the "
                                  "Function App); last answer: %s. Raise restart_timeout or check the Function App"
                                  % (budget, last), status=503)
            sleep(pause)
            pause = min(pause * 2, 8.0)

    def clients(self):
        return client_rows(self.call("GET", "List"))

    def azure_config(self):
        answer = self.call("GET", "GetAzureConfiguration") or {}
        config = answer.get("Results") if isinstance(answer, dict) else None
        problems = result_problems(answer)
        if problems or not isinstance(config, dict) or "ClientIDs" not in config:
            raise ModuleError("CIPP-API GetAzureConfiguration failed: %s" % ("; ".join(problems) or str(answer)[:300]),
                              status=200)
        return config


# -- Part C ----------------------------------------------------------------------------------------------------------

class ApiClientIps:
    """Part C for one API client: List, compare as sets of networks, AddUpdate, read back, Save Azure Configuration."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.warnings = []

    def caller_id(self, client):
        """The controller's own client id: the client_id option, else who CIPP says we are (/api/me)."""
        if self.params.get("client_id"):
            return self.params["client_id"]
        return ((client.me().get("clientPrincipal") or {}).get("appId")) or None

    def ensure(self):
        client = CippClient(self.params)
        rows = client.clients()
        row = find_client(rows, self.params["api_client"])
        caller = self.caller_id(client)
        plan = plan_ranges(row, self.params, caller)
        self.warnings.extend(plan["warnings"])
        save = self.save_needed(client, rows)
        if save:
            self.refuse_dropping_caller(rows, caller)  # before any write
        result = {"changed": plan["changed"] or save, "saved_azure_config": save}
        if not self.module.check_mode:
            if save and plan["locks_out_controller"]:
                self.save_azure_config(client, result)  # afterwards CIPP will refuse this controller
            if plan["changed"]:
                self.write(client, row, plan)
            if save and not plan["locks_out_controller"]:
                self.save_azure_config(client, result)
        after = dict(row, IPRange=shown(plan["after_kind"], plan["after"]))
        result["api_client"] = public_client(after)
        if self.module._diff:
            label = "CIPP-API client %r (%s)" % (row.get("AppName"), row["ClientId"])
            result["diff"] = make_diff({"allowed_ip_ranges": shown(plan["before_kind"], plan["before"])},
                                       {"allowed_ip_ranges": shown(plan["after_kind"], plan["after"])},
                                       label + " in CIPP", label + " (task)")
        if plan["before_kind"] == DENY_ALL:
            self.warnings.append("CIPP stored an empty list for %s, which refuses every request (CIPP-API before "
                                 "CyberDrain/CIPP PR #472)" % row.get("AppName"))
        if self.warnings:
            result["warnings"] = self.warnings
        return result

    def write(self, client, row, plan):
        """AddUpdate, then judge by what CIPP stored: its answer may carry a warning written after the table was."""
        save_cipp_client(self.module, self.params.get("tenant_id"), row)
        answer = self.module.write("POST", "AddUpdate", add_update_body(row, plan["after"]), client=client, current=row)
        problems = result_problems(answer)
        try:
            stored = read_ranges(find_client(client.clients(), row["ClientId"]))
        except ModuleError as exc:
            if plan["locks_out_controller"] and exc.details.get("denial") == "ip_blocked" and (
                    not problems or only_mcp_warnings(problems)):
                self.warnings.append("as forced, this controller is now outside the client's ranges: CIPP refused the "
                                     "read-back (%s)" % "; ".join([str(exc)] + problems))
                return
            raise
        applied = stored == (plan["after_kind"], plan["after"])
        if problems and not (applied and only_mcp_warnings(problems)):
            raise ModuleError("CIPP-API AddUpdate of %r did not apply cleanly (%s): %s"
                              % (row.get("AppName"), "the ranges were stored" if applied else "CIPP holds %s"
                                 % shown(*stored), "; ".join(problems)))
        if problems:
            self.warnings.append("CIPP stored the ranges of %r but warned: %s" % (row.get("AppName"), "; ".join(problems)))
        if not applied:
            raise ModuleError("CIPP-API stored %s for %r, not the requested %s"
                              % (shown(*stored), row.get("AppName"), shown(plan["after_kind"], plan["after"])))

    def save_needed(self, client, rows):
        mode = self.params["save_azure_config"]
        if mode == "never":
            return False
        if mode == "always":
            return True
        try:
            return azure_config_pending(rows, client.azure_config())
        except ModuleError as exc:
            if exc.details.get("status") != 200:
                raise  # no answer, 401/403/5xx: CIPP itself refused, the write would fail too
            # an IP change takes effect without a save: do not fail it because the save state is unreadable
            self.warnings.append("could not tell whether Save Azure Configuration is pending, so it did not run (%s)"
                                 % exc)
            return False

    def refuse_dropping_caller(self, rows, caller):
        """Save Azure Configuration keeps only enabled clients: never let it drop this controller's own."""
        if not caller:
            return
        own = [r for r in rows if str(r["ClientId"]).lower() == str(caller).lower()]
        if not own or own[0].get("Enabled") is not True:
            raise InvalidOption("save_azure_config", self.params["save_azure_config"], "Save Azure Configuration would "
                                "drop this controller's own API client %s from the Function App's allowed clients (%s "
                                "in CIPP), and every later call would get 401; enable it in CIPP first, or set "
                                "save_azure_config=never" % (caller, "not enabled" if own else "not listed"))

    def save_azure_config(self, client, result):
        problems = result_problems(self.module.write("POST", "SaveToAzure", {}, client=client))
        if problems:
            raise ModuleError("CIPP-API SaveToAzure failed: %s" % "; ".join(problems))
        result["restart_wait_seconds"] = client.wait_until_answering(self.params.get("restart_timeout") or 120)
        self.warnings.append("Save Azure Configuration restarted CIPP; it answered again after %s s"
                             % result["restart_wait_seconds"])


def list_clients(module):
    """cipp_api_client_ips_info: every client with ranges, role and enabled flag, and whether a save is pending."""
    client = CippClient(module.params)
    rows = client.clients()
    try:
        config = client.azure_config()
    except ModuleError as exc:  # the list is still worth having when the Function App cannot read its auth settings
        return {"changed": False, "api_clients": [public_client(r) for r in rows], "azure_config_pending": None,
                "warnings": [str(exc)]}
    saved = {str(c).lower() for c in config.get("ClientIDs") or []}
    return {"changed": False, "api_clients": [public_client(r, saved) for r in rows],
            "azure_config_pending": azure_config_pending(rows, config)}
