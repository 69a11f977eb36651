# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Microsoft Graph HTTP client shared by every module of the collection.

PRIVATE to the msp.conditional_access collection: the API may change without notice.

The transport is msgraph-core's middleware pipeline (kiota RetryHandler for 429/503/504,
redirects, telemetry) over httpx; bodies are plain JSON dicts because msgraph-sdk models
drop multi-value flags enums such as ``guestOrExternalUserTypes``. On top of the pipeline
this client adds what Conditional Access needs and the SDK does not know:

* pacing: CA endpoints allow 1 request/second per tenant and their 429s carry no
  Retry-After, so requests to ``/identity/conditionalAccess`` are spaced out;
* read-after-write lag: a GET right after a write, or a policy naming a location created a
  moment ago, may see 404 / error 1040 for a few seconds; callers opt in to bounded retries;
* one clear error message per failure, with the CA service code and a hint (for a 403, the
  permission of the endpoint that refused);
* retries in one place (``Retries``): kiota's retry handler (429/503/504), dropped connections and
  read-after-write lag all ask the same object whether a retry fits the task's time budget, and it records
  every retry with its reason, so the module can tell the user (``GraphModule.run`` warns).
"""

from __future__ import annotations

import json
import os
import re
import ssl
import time
import uuid
from urllib.parse import urlsplit

GRAPH_VERSIONS = ("v1.0", "beta")
CA_PATH_PREFIX = "/identity/conditionalAccess"
SERVICE_CODE = re.compile(r"^\s*(\d{4})\s*:")

GDAP_READ = "; through GDAP the relationship also needs a role that can read it (Directory Readers or above)"
# A 403 names the permission of the endpoint that refused, by path prefix (graph-ca.md 1.4).
FORBIDDEN_HINTS = (
    (CA_PATH_PREFIX, "missing permission: the app needs Policy.Read.All, Policy.ReadWrite.ConditionalAccess and "
                     "Application.Read.All (admin consent in this tenant); through GDAP the relationship needs the "
                     "Conditional Access Administrator (or Security Administrator) role"),
    ("/policies/", "missing permission: reading tenant policies needs Policy.Read.All" + GDAP_READ),
    ("/users", "missing permission: resolving users needs User.Read.All (or Directory.Read.All)" + GDAP_READ),
    ("/groups", "missing permission: resolving groups needs GroupMember.Read.All (or Directory.Read.All)"
                + GDAP_READ),
    (("/directoryRoles", "/roleManagement"), "missing permission: resolving roles needs RoleManagement.Read.Directory "
                                             "(or Directory.Read.All)" + GDAP_READ),
    (("/servicePrincipals", "/applications"), "missing permission: resolving applications needs "
                                              "Application.Read.All" + GDAP_READ),
    ("/subscribedSkus", "missing permission: reading licences needs Organization.Read.All (or Directory.Read.All)"
                        + GDAP_READ),
    ("/auditLogs", "missing permission: reading sign-ins needs AuditLog.Read.All (and a Security Reader or "
                   "Reports Reader role through GDAP)"),
    ("/tenantRelationships/findTenantInformationByTenantId",
     "missing permission: reading other tenants' basic information needs CrossTenantInformation.ReadBasic.All"),
    ("/tenantRelationships", "missing permission: reading GDAP relationships needs DelegatedAdminRelationship.Read.All "
                             "in the MSP (partner) tenant"),
)
CODE_HINTS = {
    "Authentication_RequestFromNonPremiumTenantOrB2CTenant":
        "the tenant has no Entra ID P1/P2 licence, which sign-in logs need",
}
HINTS = {
    401: "the token was rejected: check tenant_id, client_id and the credential, and that the app "
         "registration is consented in this tenant",
    429: "throttled: Conditional Access allows 1 request/second per tenant and the retries ran out; "
         "run fewer tasks against this tenant at once",
}
SERVICE_HINTS = {
    1007: "the request body does not match Graph's schema for this object",
    1011: "includeApplications must not be empty",
    1032: "passwordChange must be combined with mfa (AND), user risk and all applications",
    1038: "the policy uses a feature that v1.0 does not accept; the beta endpoint is needed",
    1039: "user or sign-in risk conditions need an Entra ID P2 licence",
    1040: "the named location does not exist, or was created moments ago and has not replicated yet",
    1042: "a named location needs a derived @odata.type (ipNamedLocation or countryNamedLocation)",
    1150: "client application conditions need a Workload Identities Premium licence",
}


# Set by the controller when modules run inside its worker processes (plugins/plugin_utils/_in_process.py):
# last(tenant) / mark(tenant, time.monotonic()) of the tenant's last CA request, shared by the run's tasks.
PACER = None


class GraphError(Exception):
    """A failed Graph request, rendered as one readable line."""

    def __init__(self, status, code, message, method=None, url=None, tenant_id=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message or ""
        self.method = method
        self.url = url
        self.tenant_id = tenant_id
        match = SERVICE_CODE.match(self.message)
        self.service_code = int(match.group(1)) if match else None

    @property
    def hint(self):
        known = SERVICE_HINTS.get(self.service_code) or CODE_HINTS.get(self.code)
        if known:
            return known
        if self.status == 403:
            path = re.sub(r"^.*?/(v1\.0|beta)(?=/)", "", urlsplit(self.url or "").path)
            return next((text for prefix, text in FORBIDDEN_HINTS if path.startswith(prefix)), FORBIDDEN_HINTS[0][1])
        return HINTS.get(self.status)

    def __str__(self):
        where = "%s %s" % (self.method, _path_of(self.url)) if self.method else "Graph request"
        tenant = " (tenant %s)" % self.tenant_id if self.tenant_id else ""
        status = "HTTP %s %s" % (self.status, self.code) if self.status else self.code
        text = "%s%s failed: %s: %s" % (where, tenant, status, self.message)
        return text + (" Hint: %s." % self.hint if self.hint else "")

    def details(self):
        return {"status": self.status, "graph_code": self.code, "service_code": self.service_code}


def _path_of(url):
    parts = urlsplit(url or "")
    return parts.path + ("?" + parts.query if parts.query else "")


def error_from_response(status, raw, method, url, tenant_id):
    """Turn a Graph error body (new or old CA form) into a GraphError."""
    code, message = "HTTP%s" % status, ""
    try:
        err = json.loads(raw or b"{}").get("error") or {}
        code = err.get("code") or code
        message = err.get("message") or ""
        inner = err.get("innerError") or err.get("innererror") or {}
        # older CA answers put "NNNN: text" in innerError.message behind a generic message
        if inner.get("message") and not SERVICE_CODE.match(message):
            message = "%s (%s)" % (inner["message"], message) if message else inner["message"]
    except (ValueError, AttributeError):
        message = (raw or b"")[:300].decode("utf-8", "replace")
    return GraphError(status, code, message, method, url, tenant_id)


class Retries:
    """The one retry policy of a task: each wait capped, no retry that would end past the task's deadline,
    and a record of every retry made (what, why, how long), which the module reports as a warning."""

    def __init__(self, budget=600.0, max_wait=30.0):
        self.budget = budget
        self.max_wait = max_wait
        self.deadline = time.monotonic() + budget if budget else None
        self.made = []  # (method, path, reason, wait seconds)
        self.refused = []

    def wait_for(self, wait):
        return min(self.max_wait, max(0.0, wait))

    def allow(self, method, path, reason, wait):
        """May ``method path`` be retried after ``wait`` seconds because of ``reason``? Records the answer."""
        wait = self.wait_for(wait)
        if self.deadline is not None and time.monotonic() + wait > self.deadline:
            self.refused.append((method, path, reason))
            return False
        self.made.append((method, path, reason, wait))
        return True

    def summary(self):
        """One line for the user, or None when nothing was retried."""
        if not self.made and not self.refused:
            return None
        counts = {}
        for method, path, reason, _wait in self.made:
            counts[(reason, method, path)] = counts.get((reason, method, path), 0) + 1
        parts = ["%s x %s %s (%s)" % (n, m, p, r) for (r, m, p), n in sorted(counts.items())]
        text = "Graph requests were retried: %s; %.1f s spent waiting" % (
            "; ".join(parts) or "none", sum(w for *_rest, w in self.made))
        if self.refused:
            text += ("; %d retries were not made because the task's retry_budget (%s s) was used up"
                     % (len(self.refused), self.budget))
        return text


# POST actions that only read (What If): they pass the write gate, also in check mode, through read_action()
READ_ACTIONS = (CA_PATH_PREFIX + "/evaluate",)


class WriteGate:
    """Carried by every client that can write (Graph, CIPP-API). Only the module's write chokepoint
    (``_module.GraphModule.write``) opens it, for one request; any other write request fails loudly, so no code
    path can write around the chokepoint (and around check mode)."""

    READS = ("GET", "HEAD", "OPTIONS")

    def __init__(self):
        self.open = False

    def check(self, method, what):
        if method.upper() not in self.READS and not self.open and \
                not (method.upper() == "POST" and urlsplit(what).path.endswith(READ_ACTIONS)):
            raise RuntimeError("%s %s was sent outside the write chokepoint (GraphModule.write); this is a bug of "
                               "the collection" % (method, what))


class GraphClient:
    """Synchronous facade over msgraph-core's async pipeline, one per module run and tenant."""

    def __init__(self, authenticator, tenant_id=None, api_version="v1.0", pace_seconds=1.0,
                 max_retries=6, retry_delay=1.0, max_retry_wait=30.0, lag_retries=4, lag_delay=2.0, timeout=60.0,
                 retry_budget=600.0):
        self.auth = authenticator
        self.tenant_id = tenant_id or authenticator.tenant_id
        self.api_version = api_version
        self.pace_seconds = pace_seconds
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self.max_retry_wait = max_retry_wait
        self.lag_retries = lag_retries
        self.lag_delay = lag_delay
        self.timeout = timeout
        self.requests = 0
        self.retries = Retries(retry_budget, max_retry_wait)
        self.gate = WriteGate()
        self._token = None
        self._http = None
        self._loop = None
        self._last_ca_request = None
        self._host = urlsplit(authenticator.graph_root).netloc

    # -- plumbing ---------------------------------------------------------------------------
    def _client(self):
        if self._http is None:
            import asyncio

            import httpx
            from kiota_http.kiota_client_factory import KiotaClientFactory
            from kiota_http.middleware import RetryHandler
            from kiota_http.middleware.options import RetryHandlerOption
            from msgraph_core import GraphClientFactory
            from msgraph_core.middleware import GraphTelemetryHandler

            from ._auth import ca_bundle

            self._loop = asyncio.new_event_loop()
            option = RetryHandlerOption(delay=self.retry_delay, max_retries=self.max_retries)
            options = {RetryHandlerOption.get_key(): option}
            # the transport runs the middleware only for requests that carry kiota request options
            self._extensions = {"kiota_request_options": options}
            # the SDK's default pipeline, with its retry handler's waits capped (bounded total time)
            middleware = [bounded_retry_handler(option, self.max_retry_wait, self.retries)
                          if isinstance(m, RetryHandler) else m
                          for m in KiotaClientFactory.get_default_middleware(options)]
            middleware.append(GraphTelemetryHandler())
            # verify is never False: a CA bundle from the environment or the system store.
            bundle = ca_bundle()
            verify = ssl.create_default_context(**({"capath": bundle} if os.path.isdir(bundle) else {"cafile": bundle})) \
                if bundle else True
            client = httpx.AsyncClient(verify=verify, timeout=self.timeout, trust_env=False, follow_redirects=False)
            self._http = GraphClientFactory.create_with_custom_middleware(middleware, client=client)
        return self._http

    def close(self):
        if self._http is not None:
            self._loop.run_until_complete(self._http.aclose())
            self._loop.close()
            self._http = None

    def url(self, path, version=None):
        return "%s/%s%s" % (self.auth.graph_root, version or self.api_version, path)

    def _pace(self, url):
        if CA_PATH_PREFIX not in url or not self.pace_seconds:
            return
        last = self._last_ca_request
        if PACER is not None:  # the previous task against this tenant may have sent one a moment ago
            last = max(filter(None, (last, PACER.last(self.tenant_id))), default=None)
        if last is not None:
            wait = last + self.pace_seconds - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self._mark_ca_request()

    def _mark_ca_request(self):
        self._last_ca_request = time.monotonic()
        if PACER is not None:
            PACER.mark(self.tenant_id, self._last_ca_request)

    def _send(self, method, url, body, params):
        import httpx

        if urlsplit(url).netloc != self._host:
            # never hand the bearer token to a host that is not the configured Graph endpoint
            raise GraphError(None, "UnexpectedHost", "refusing to follow a link to %s" % url, method, url,
                             self.tenant_id)
        if self._token is None:
            self._token = self.auth.graph_token()
        headers = {
            "Authorization": "Bearer " + self._token,
            "Accept": "application/json",
            "Prefer": "include-unknown-enum-members",
            "client-request-id": str(uuid.uuid4()),
        }
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(body).encode("utf-8")
        client = self._client()
        attempts = 3 if method in ("GET", "PATCH", "DELETE") else 1  # a POST may have landed: no blind retry
        for attempt in range(attempts):
            self._pace(url)
            self.requests += 1
            try:
                response = self._loop.run_until_complete(
                    client.request(method, url, content=content, params=params, headers=headers,
                                   extensions=self._extensions))
                if CA_PATH_PREFIX in url:
                    # the middleware may have retried: pace from the end of the last exchange
                    self._mark_ca_request()
                return response.status_code, response.content
            except httpx.TransportError as exc:
                if attempt + 1 < attempts and not isinstance(exc, httpx.ConnectError) and \
                        self.retries.allow(method, _path_of(url), "connection dropped: %s" % type(exc).__name__,
                                           1 + attempt):
                    time.sleep(self.retries.wait_for(1 + attempt))
                    continue
                raise GraphError(None, "ConnectionError", _transport_message(exc), method, url, self.tenant_id)

    def request(self, method, path, body=None, params=None, version=None, lag_retries=0):
        """Send one request; return the decoded JSON body (None for 204).

        ``path`` is relative to the version root or an absolute @odata.nextLink.
        ``lag_retries`` retries 404 / error 1040 that read-after-write lag causes.
        """
        url = path if path.startswith("https://") else self.url(path, version)
        self.gate.check(method, _path_of(url))
        for attempt in range(lag_retries + 1):
            status, raw = self._send(method, url, body, params)
            if status < 400:
                return json.loads(raw) if raw else None
            error = error_from_response(status, raw, method, url, self.tenant_id)
            lagging = status == 404 or error.service_code == 1040
            wait = self.lag_delay * (attempt + 1)
            if not (lagging and attempt < lag_retries and self.retries.allow(
                    method, _path_of(url), "read-after-write lag: %s" % (error.service_code or status), wait)):
                raise error
            time.sleep(self.retries.wait_for(wait))
        raise error  # pragma: no cover - the loop always returns or raises

    # -- verbs ------------------------------------------------------------------------------
    def read_action(self, path, body, version=None):
        """POST one of READ_ACTIONS (What If's evaluate): a request with a body that changes nothing."""
        if not path.endswith(READ_ACTIONS):
            raise ValueError("%s is not an action that only reads" % path)
        return self.request("POST", path, body=body, version=version)

    def read_batch(self, requests, version=None):
        """POST /$batch of GET sub-requests only (JSON batching, up to 20): a batch that only reads passes the
        write gate; one sub-request that is not a GET makes it a write, which only the chokepoint may send."""
        writes = [r for r in requests if str(r.get("method", "")).upper() != "GET"]
        if writes:
            raise ValueError("a $batch with %s sub-requests is a write, not a read" % writes[0].get("method"))
        self.gate.open = True
        try:
            return self.request("POST", "/$batch", body={"requests": list(requests)}, version=version)
        finally:
            self.gate.open = False

    def get(self, path, params=None, version=None):
        return self.request("GET", path, params=params, version=version)

    def get_after_write(self, path, version=None):
        """GET an object that was written a moment ago: 404 is read-after-write lag at first."""
        return self.request("GET", path, version=version, lag_retries=self.lag_retries)

    def list(self, path, params=None, version=None):
        """Every item of a collection, following @odata.nextLink.

        msgraph-core's PageIterator wants SDK models and an async request adapter; these bodies are plain
        dicts, and every page must go through _send for pacing and the host check, so the loop is ours.
        """
        items = []
        page = self.request("GET", path, params=params, version=version)
        while True:
            items.extend(page.get("value", []))
            link = page.get("@odata.nextLink")
            if not link:
                return items
            page = self.request("GET", link)


def bounded_retry_handler(option, max_wait, retries=None):
    """kiota's RetryHandler with every wait capped at max_wait seconds, asking ``retries`` (the task's
    ``Retries``) before each retry.

    kiota honours a Retry-After of up to 179 s per attempt, so six retries could hold a tenant for
    eighteen minutes; capped, and within the task's budget, a request gives up in bounded time. A POST
    that timed out at the gateway (504) may have been applied, so it is not sent again.
    """
    from kiota_http.middleware import RetryHandler

    class BoundedRetryHandler(RetryHandler):
        last_delay = 0.0

        def get_delay_time(self, retry_count, response=None, delay=option.DEFAULT_DELAY):
            self.last_delay = min(max_wait, super().get_delay_time(retry_count, response, delay))
            return self.last_delay

        def should_retry(self, request, options, response):
            if not super().should_retry(request, options, response):
                return False
            if request.method == "POST" and response.status_code == 504:
                return False
            if retries is None:
                return True
            reason = {429: "throttled (429)", 503: "service unavailable (503)", 504: "gateway timeout (504)"}.get(
                response.status_code, "HTTP %s" % response.status_code)
            return retries.allow(request.method, _path_of(str(request.url)), reason, self.last_delay)

    return BoundedRetryHandler(options=option)


def _transport_message(exc):
    text = str(exc) or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return ("TLS certificate verification failed (%s). Point REQUESTS_CA_BUNDLE / SSL_CERT_FILE at the CA "
                "bundle that signs the endpoint; verification is never turned off" % text)
    return "%s: %s" % (type(exc).__name__, text)


def odata_quote(value):
    """Quote a string literal for $filter (OData doubles single quotes)."""
    return "'%s'" % str(value).replace("'", "''")
