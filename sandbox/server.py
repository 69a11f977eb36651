"""The sandbox HTTPS server: login, Graph, CIPP-API and the /_sandbox control API on one loopback port."""

import copy
import re
import json
import os
import shlex
import ssl
import threading
import time
import uuid
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from . import gdap, tokens
from .evaluator import READ_ONLY_ACTIONS
from .graph import CA, LOCATION_TYPE_MISSING, LOCATION_TYPES, Graph, GraphFailure, fill_policy_defaults
from .validation import check_request

TENANT_KEYS = {"users": [], "groups": [], "servicePrincipals": [], "organization": [], "namedLocations": [],
               "policies": [], "subscribedSkus": [], "signIns": [], "authenticationStrengthPolicies": [],
               "agreements": [], "authenticationContextClassReferences": []}
FAULT_DEFAULTS = {"mmp_locked": True}
# read-only collections the v1.0 schema subset does not cover (policies refer to them by id): not schema-checked
OUTSIDE_SUBSET = re.compile(r"^/(policies/authenticationStrengthPolicies|identityGovernance/termsOfUse/agreements|"
                            r"identity/conditionalAccess/authenticationContextClassReferences)(/[^/]+)?$")


class State:
    """Everything the sandbox knows, under one lock."""

    def __init__(self, fixture_path):
        self.lock = threading.RLock()
        self.load(fixture_path)

    def load(self, fixture_path):
        with open(fixture_path) as handle:
            fixture = json.load(handle)
        self.fixture_path = fixture_path
        self.fixture = fixture
        self.apps = {a["client_id"]: copy.deepcopy(a) for a in fixture.get("apps", [])}
        self.tenants = {}
        for tid, data in fixture.get("tenants", {}).items():
            tenant = copy.deepcopy(TENANT_KEYS)
            tenant.update(copy.deepcopy({k: v for k, v in data.items() if k != "faults"}))
            tenant.setdefault("securityDefaults", {"isEnabled": False})
            tenant["deleted"] = {"policies": [], "namedLocations": []}
            # fixtures may be terse: store policies as Graph would have created them
            tenant["policies"] = [fill_policy_defaults(p) for p in tenant["policies"]]
            if not tenant["organization"]:
                tenant["organization"] = [{"id": tid, "displayName": data.get("display_name", tid)}]
            self.tenants[tid] = tenant
        self.faults = {None: dict(fixture.get("faults", {}))}
        for tid, data in fixture.get("tenants", {}).items():
            if data.get("faults"):
                self.faults[tid] = dict(data["faults"])
        self.log = []
        self.seq = 0
        self.counters = {"requests": defaultdict(int), "writes": defaultdict(int), "throttled": defaultdict(int)}
        self.graph_calls = defaultdict(int)
        self.ca_window = defaultdict(deque)
        self.lag = {}  # (tenant id, object id) -> reads still lagging
        self.hooks = []  # one-shot concurrent writers: see take_hook
        self.cipp = None
        if fixture.get("cipp") is not None:
            try:
                from .cipp import CippApi
            except ImportError:
                CippApi = None
            if CippApi is not None:
                self.cipp = CippApi(fixture["cipp"], self.record, app_setup=self.cipp_app_setup)

    def cipp_app_setup(self, client_id, app_name):
        """New-CIPPAPIConfig's side effects on an API client's app registration (cipp-api.md 1.3 item 2): adds a
        missing api://<appId> identifier URI (Repair-CippApiIdentifierUri) and creates a missing service principal
        in CIPP's tenant. Needs the CIPP app's Application.ReadWrite.All and Directory.ReadWrite.All."""
        done = {"identifier_uri_repaired": False, "service_principal_created": False}
        app = self.apps.get(client_id) or next((a for k, a in self.apps.items() if k.lower() == client_id.lower()), None)
        uri = "api://%s" % client_id
        if app is not None and "identifier_uris" in app and uri not in app["identifier_uris"]:
            app["identifier_uris"].append(uri)
            done["identifier_uri_repaired"] = True
        tenant = self.tenants.get(self.cipp.tenant_id if self.cipp else None)
        if tenant is not None and not any(str(sp.get("appId")).lower() == client_id.lower()
                                          for sp in tenant["servicePrincipals"]):
            tenant["servicePrincipals"].append({"id": str(uuid.uuid5(uuid.NAMESPACE_URL, "sp/" + client_id)),
                                                "appId": client_id, "displayName": app_name or client_id})
            done["service_principal_created"] = True
        return done

    def take_hook(self, tid, method, path):
        """The first hook waiting for this request, removed (``POST /_sandbox/hooks``): another writer (an admin in
        the portal, a second run) changes an object just before the request is answered."""
        for hook in self.hooks:
            if hook.get("tenant") in (None, tid) and hook.get("method", "GET") == method and hook["path"] == path:
                self.hooks.remove(hook)
                return hook
        return None

    def run_hook(self, tid, hook):
        from .graph import deep_merge

        kind, oid = hook["path"].rstrip("/").split("/")[-2:]
        target = next((o for o in self.tenants[tid].get(kind, []) if o["id"] == oid), None)
        if target is not None:
            deep_merge(target, hook.get("patch") or {})
            target["modifiedDateTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def faults_for(self, tid):
        merged = dict(FAULT_DEFAULTS)
        merged.update(self.faults.get(None, {}))
        merged.update(self.faults.get(tid, {}))
        return merged

    def record(self, **entry):
        self.seq += 1
        entry.update(seq=self.seq, time=time.time())
        self.log.append(entry)
        tid = entry.get("tenant")
        self.counters["requests"][tid] += 1
        if entry.get("write"):
            self.counters["writes"][tid] += 1
        if entry.get("status") == 429:
            self.counters["throttled"][tid] += 1
        return entry

    def throttled(self, tid, rps):
        """Sliding window per tenant: more than rps requests in the last second (1/rps s below 1) -> True."""
        span, limit = (1.0, int(rps)) if rps >= 1 else (1.0 / rps, 1)
        with self.lock:
            window = self.ca_window[tid]
            moment = time.monotonic()
            while window and moment - window[0] >= span:
                window.popleft()
            if len(window) >= limit:
                return True
            window.append(moment)
            return False

    # read-after-write lag
    def mark_written(self, tenant, oid, kind):
        tid = self.tid_of(tenant)
        lag = int(self.faults_for(tid).get("replication_lag") or 0)
        if lag:
            self.lag[(tid, oid)] = [lag, kind]

    def tid_of(self, tenant):
        return next(t for t, v in self.tenants.items() if v is tenant)

    def lagging_read(self, tenant, oid):
        key = (self.tid_of(tenant), oid)
        if key in self.lag and self.lag[key][0] > 0:
            self.lag[key][0] -= 1
            return True
        return False

    def lagging_location(self, tenant):
        tid = self.tid_of(tenant)

        def check(lid):
            entry = self.lag.get((tid, lid))
            if entry and entry[1] == "namedLocations" and entry[0] > 0:
                entry[0] -= 1
                return True
            return False
        return check


def login_error(code, text):
    """An Entra token-endpoint error body; error_codes carries the AADSTS number."""
    return {"error": code, "error_description": text, "error_codes": [int(re.match(r"AADSTS(\d+)", text).group(1))],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ"), "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4())}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "msp-ca-sandbox/1.0"

    def log_message(self, *args):  # quiet: the request log is the record
        pass

    # -- plumbing
    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status, body=None, headers=None, content_type="application/json"):
        raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        if raw or status not in (204,):
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if raw:
            self.wfile.write(raw)

    def _graph_error(self, status, code, message, headers=None):
        self.last_graph_error = {"code": code, "message": message}
        body = {"error": {"code": code, "message": message, "innerError": {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S"), "request-id": str(uuid.uuid4()),
            "client-request-id": self.headers.get("client-request-id") or str(uuid.uuid4())}}}
        self._send(status, body, headers)
        return status

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        raw = self._read_body()
        path = url.path
        if path.startswith("/_sandbox"):
            return self.control(method, path, query, raw)
        if path.startswith("/api/"):
            return self.cipp(method, path, query, raw)
        parts = path.strip("/").split("/")
        if parts[0] in ("v1.0", "beta"):
            return self.graph(method, parts[0], "/" + "/".join(parts[1:]), query, raw, url)
        if len(parts) >= 2:
            return self.login(method, parts[0], "/".join(parts[1:]), raw)
        self._send(404, {"error": "not found"})

    @property
    def state(self):
        return self.server.state

    @property
    def base(self):
        return "https://%s" % (self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_address[1])

    # -- login
    def login(self, method, tenant_id, rest, raw):
        state = self.state
        if rest in ("v2.0/.well-known/openid-configuration", ".well-known/openid-configuration"):
            base = "%s/%s" % (self.base, tenant_id)
            known = tenant_id in state.tenants
            with state.lock:
                state.record(tenant=tenant_id, api="login", method=method, path=self.path, query={},
                             status=200 if known else 400, write=False, body=None, version=None)
            if not known:
                return self._send(400, login_error("invalid_tenant", "AADSTS90002: Tenant '%s' not found. Check to "
                                                   "make sure you have the correct tenant ID and are signing into the "
                                                   "correct cloud." % tenant_id))
            return self._send(200, {
                "token_endpoint": base + "/oauth2/v2.0/token", "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                "issuer": "%s/%s/v2.0" % (self.base, tenant_id), "jwks_uri": base + "/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "token"], "tenant_region_scope": "EU"})
        if rest == "oauth2/v2.0/token" and method == "POST":
            form = dict(parse_qsl(raw.decode()))
            status, body = self.issue_token(tenant_id, form)
            with state.lock:
                state.record(tenant=tenant_id, api="login", method=method, path=self.path, query={}, status=status,
                             write=False, body={"client_id": form.get("client_id"), "scope": form.get("scope"),
                                                "grant_type": form.get("grant_type")}, version=None)
            return self._send(status, body)
        self._send(404, {"error": "not_found"})

    def issue_token(self, tenant_id, form):
        state = self.state

        def err(status, code, text):
            return status, login_error(code, text)
        with state.lock:
            if tenant_id not in state.tenants:
                return err(400, "invalid_request", "AADSTS90002: Tenant '%s' not found. Check to make sure you have "
                           "the correct tenant ID and are signing into the correct cloud." % tenant_id)
            faults = state.faults_for(tenant_id)
            app = state.apps.get(form.get("client_id"))
        if faults.get("token_error"):
            return err(401, "invalid_client", "AADSTS7000215: Invalid client secret provided (sandbox fault).")
        if form.get("grant_type") != "client_credentials":
            return err(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
        if app is None:
            return err(400, "unauthorized_client", "AADSTS700016: Application with identifier '%s' was not found in "
                       "the directory '%s'." % (form.get("client_id"), tenant_id))
        if "client_secret" in form:
            if form["client_secret"] != app.get("client_secret"):
                return err(401, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret "
                           "being sent in the request is the client secret value, not the client secret ID, for a "
                           "secret added to app '%s'." % app["client_id"])
        elif form.get("client_assertion"):
            problem = tokens.assertion_problem(form.get("client_assertion"), form.get("client_assertion_type"), app)
            if problem:
                return err(401, "invalid_client", problem)
        else:
            return err(401, "invalid_client", "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is "
                       "required for the 'client_credentials' grant type.")
        scope = form.get("scope") or ""
        if not any(word.endswith("/.default") for word in scope.split()):
            return err(400, "invalid_scope", "AADSTS1002012: The provided value for scope %s is not valid. Client "
                       "credential flows must have a scope value with /.default suffixed to the resource identifier "
                       "(application ID URI)." % scope)
        resource = tokens.audience_of(scope)
        if resource.startswith("api://"):
            # a scope names an app by its identifier URI: an app without api://<appId> (CIPP's RepairUri case)
            # has no such resource; apps without an identifier_uris list in the fixture accept any
            with state.lock:
                target = next((a for k, a in state.apps.items() if k.lower() == resource[len("api://"):].lower()), None)
                uris = None if target is None else target.get("identifier_uris")
            if uris is not None and resource not in uris:
                return err(400, "invalid_resource", "AADSTS500011: The resource principal named %s was not found in "
                           "the tenant named %s. This can happen if the application has not been installed by the "
                           "administrator of the tenant or consented to by any user in the tenant. You might have sent "
                           "your authentication request to the wrong tenant." % (resource, tenant_id))
        return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                     "access_token": tokens.issue(tenant_id, app, scope)}

    # -- Graph
    def graph(self, method, version, path, query, raw, url):
        state = self.state
        auth = self.headers.get("Authorization") or ""
        claims = tokens.decode_token(auth[7:]) if auth.startswith("Bearer ") else None
        tid = (claims or {}).get("tid")
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = {"__invalid_json__": True}
        entry = dict(tenant=tid, api="graph", method=method, path="/%s%s" % (version, path), query=query,
                     # a batch is no write of its own: its sub-requests are logged (and counted) one by one
                     write=method != "GET" and path.rstrip("/") not in READ_ONLY_ACTIONS and path != gdap.BATCH_PATH,
                     body=body, version=version)
        with state.lock:
            faults = state.faults_for(tid)
            state.graph_calls[tid] += 1
            call_no = state.graph_calls[tid]
        if faults.get("latency_ms"):
            time.sleep(float(faults["latency_ms"]) / 1000)
        every = int(faults.get("drop_connection_every") or 0)
        if every and call_no % every == 0:
            with state.lock:
                state.record(status=0, **dict(entry, write=False))
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.last_graph_error = None
        with state.lock:
            hook = state.take_hook(tid, method, path) if tid in state.tenants else None
            if hook:
                state.run_hook(tid, hook)
        status = self.graph_status(method, version, path, query, body, claims, tid, faults, call_no, url)
        if status >= 400 and self.last_graph_error:
            # the Graph error code and message, so a test can tell a 400 for 1038 from one for 1011
            entry["error"] = self.last_graph_error
        with state.lock:
            state.record(status=status, **dict(entry, write=entry["write"] and status < 400))

    def graph_status(self, method, version, path, query, body, claims, tid, faults, call_no, url):
        state = self.state
        if claims is None or claims.get("aud") not in ("https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"):
            return self._graph_error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
        if faults.get("forbidden"):
            return self._graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the "
                                     "operation.")
        after = faults.get("error_500_after")
        if after is not None and call_no > int(after):
            return self._graph_error(500, "InternalServerError", "An internal server error occurred (sandbox fault).")
        every = int(faults.get("unavailable_every") or 0)
        if every and call_no % every == 0:
            return self._graph_error(503, "ServiceUnavailable", "Service is temporarily unavailable.",
                                     {"Retry-After": faults.get("retry_after", 1)})
        if path.startswith(CA) and faults.get("throttle_rps"):
            if state.throttled(tid, float(faults["throttle_rps"])):
                # Conditional Access throttling sends no Retry-After (graph-ca.md 1.5)
                return self._graph_error(429, "TooManyRequests", "Too many requests.")
        if body and body.get("__invalid_json__"):
            return self._graph_error(400, "BadRequest", "Unable to read JSON request payload.")
        if (method in ("POST", "PATCH") and isinstance(body, dict) and re.match(CA + r"/namedLocations(/[^/]+)?$", path)
                and body.get("@odata.type") not in LOCATION_TYPES):
            # Graph answers a location without its derived type with 1042 before any schema check (M365DSC#1561)
            return self._graph_error(400, "BadRequest", LOCATION_TYPE_MISSING)
        # a batch's sub-requests are validated one by one; read-only collections outside the subset are not
        if self.server.validate and path != gdap.BATCH_PATH and not (method == "GET" and OUTSIDE_SUBSET.match(path)):
            refusal = check_request(method, "/v1.0" + path + ("?" + url.query if url.query else ""), body,
                                    "NamedLocation" if "namedLocations" in path else "ConditionalAccessPolicy")
            if refusal:
                return self._graph_error(*refusal)
        ctx = {"method": method, "version": version, "path": path, "query": query, "body": body, "claims": claims,
               "faults": faults, "base": self.base, "validate": self.server.validate,
               "prefer_unknown": "include-unknown-enum-members" in (self.headers.get("Prefer") or "")}
        with state.lock:
            tenant = state.tenants.get(tid)
            if tenant is None:
                return self._graph_error(401, "InvalidAuthenticationToken", "Tenant %s is not known." % tid)
            ctx["tenant"] = tenant
            try:
                status, out = Graph(state).handle(ctx)
            except GraphFailure as failure:
                return self._graph_error(failure.status, failure.code, failure.message, failure.headers)
        self._send(status, out)
        return status

    # -- CIPP-API
    def cipp(self, method, path, query, raw):
        state = self.state
        if state.cipp is None:
            return self._send(404, {"error": "CIPP-API is not part of this fixture"})
        auth = self.headers.get("Authorization") or ""
        claims = tokens.decode_token(auth[7:]) if auth.startswith("Bearer ") else None
        client_ip = (self.headers.get("X-Forwarded-For") or self.client_address[0]).split(",")[0].strip()
        with state.lock:
            status, headers, body = state.cipp.handle(method, path, query, dict(self.headers), raw, claims, client_ip)
        self._send(status, body, headers)

    # -- control API
    def control(self, method, path, query, raw):
        state = self.state
        body = json.loads(raw) if raw else {}
        parts = path.strip("/").split("/")[1:]
        with state.lock:
            if parts == ["log"] and method == "GET":
                since = int(query.get("since") or 0)
                tenant = query.get("tenant")
                entries = [e for e in state.log if e["seq"] > since and (tenant is None or e["tenant"] == tenant)]
                return self._send(200, {"entries": entries})
            if parts == ["counters"]:
                return self._send(200, {k: dict(v) for k, v in state.counters.items()})
            if parts == ["reset"] and method == "POST":
                state.load(body.get("fixture") or state.fixture_path)
                return self._send(200, {"reset": True, "fixture": state.fixture_path})
            if parts == ["faults"]:
                if method == "POST":
                    tid = body.pop("tenant", None)
                    state.faults.setdefault(tid, {}).update(body)
                return self._send(200, {str(k): v for k, v in state.faults.items()})
            if parts == ["hooks"]:
                if method == "POST":
                    state.hooks.append(body)
                return self._send(200, {"hooks": state.hooks})
            if parts == ["fixture"]:
                return self._send(200, state.fixture)
            if len(parts) >= 2 and parts[0] == "tenants":
                tenant = state.tenants.get(parts[1])
                if tenant is None:
                    return self._send(404, {"error": "unknown tenant"})
                if len(parts) == 2:
                    return self._send(200, tenant)
                if len(parts) == 4 and method == "PUT" and parts[2] in ("policies", "namedLocations", "users", "groups"):
                    items = tenant[parts[2]]
                    obj = dict(body, id=parts[3])
                    obj.setdefault("createdDateTime", "2026-01-01T00:00:00Z")
                    if parts[2] == "policies":
                        from .graph import fill_policy_defaults
                        obj = fill_policy_defaults(obj)
                    items[:] = [i for i in items if i["id"] != parts[3]] + [obj]
                    return self._send(200, obj)
                if len(parts) == 3 and parts[2] == "securityDefaults" and method in ("PUT", "POST"):
                    tenant["securityDefaults"].update(body)
                    return self._send(200, tenant["securityDefaults"])
            if parts == ["cipp"] and state.cipp is not None:
                if method == "POST":
                    state.cipp.update(body)
                return self._send(200, state.cipp.state())
        self._send(404, {"error": "unknown control path %s" % path})


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address, state, validate=True):
        super().__init__(address, Handler)
        self.state = state
        self.validate = validate


def make_tls(state_dir):
    """A throwaway CA and a localhost certificate (trustme); returns (ssl context, CA bundle path)."""
    import trustme

    ca = trustme.CA(organization_name="msp.conditional_access sandbox")
    cert = ca.issue_cert("localhost", "127.0.0.1", "::1")
    bundle = os.path.join(state_dir, "ca.pem")
    ca.cert_pem.write_to_path(bundle)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context, bundle


def serve(fixture, port=0, state_dir=".sandbox", validate=True, ready=None):
    os.makedirs(state_dir, exist_ok=True)
    state = State(fixture)
    if validate:
        from .validation import api
        api()  # load the schema once, before the first request
    server = SandboxServer(("127.0.0.1", port), state, validate=validate)
    context, bundle = make_tls(state_dir)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    url = "https://127.0.0.1:%d" % server.server_address[1]
    app = next(iter(state.apps.values()), {})
    env = {"AZURE_AUTHORITY_HOST": url, "MSGRAPH_ENDPOINT": url, "CIPP_API_URL": url, "REQUESTS_CA_BUNDLE": bundle,
           "SSL_CERT_FILE": bundle, "AZURE_CLIENT_ID": app.get("client_id", ""),
           "AZURE_CLIENT_SECRET": app.get("client_secret", "")}
    env_file = os.path.join(state_dir, "env.sh")
    with open(env_file, "w") as handle:
        handle.write("".join("export %s=%s\n" % (k, shlex.quote(v)) for k, v in env.items()))
    info = {"url": url, "ca_bundle": bundle, "env_file": env_file, "pid": os.getpid(), "env": env}
    if ready:
        ready(info)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
