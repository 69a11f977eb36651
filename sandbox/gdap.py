"""GDAP on the partner (MSP) tenant, per ../shared/reference/fleet.md section 1, and Graph JSON batching.

Routes (registered in graph.py's route and permission tables; everything runs under the server's state lock):

- GET /tenantRelationships/delegatedAdminRelationships[/{id}]: the MSP tenant's relationships from its fixture key
  ``delegatedAdminRelationships`` (Graph's shape), paged with @odata.nextLink (``gdap_page_size``, default 100);
- GET /tenantRelationships/delegatedAdminCustomers[/{id}]: derived from the relationships (a customer exists while
  at least one of its relationships is active or expiring), or the fixture key ``delegatedAdminCustomers``;
- GET /tenantRelationships/findTenantInformationByTenantId(tenantId='<guid>'): tenantId, displayName,
  defaultDomainName, federationBrandName of any tenant: the sandbox's own tenants (display_name, default_domain)
  and the fixture's top-level ``tenant_directory`` {tenant id: {displayName, defaultDomainName, ...}};
- POST /$batch: up to 20 sub-requests, each validated against the schema, permission-checked and logged like a
  request of its own (log entries carry ``batch`` = the batch's id); answers in reverse order, because Graph does
  not promise any order.

Permissions (token roles): relationships and customers need DelegatedAdminRelationship.Read.All (or
.ReadWrite.All); tenant information needs CrossTenantInformation.ReadBasic.All. Fault switch
``gdap_throttle_every`` N: every Nth tenantRelationships request of a tenant (sub-requests included) answers 429
with Retry-After (``retry_after``, default 1).
"""

import copy
import re
from urllib.parse import parse_qsl, unquote, urlsplit

from .validation import check_request

TR = "/tenantRelationships"
BATCH_PATH = "/$batch"
BATCH_LIMIT = 20
GDAP_READ = {"DelegatedAdminRelationship.Read.All", "DelegatedAdminRelationship.ReadWrite.All"}
TENANT_INFO_READ = {"CrossTenantInformation.ReadBasic.All"}
# (path prefix, GET roles, write roles) for graph.PERMISSIONS
PERMISSIONS = [
    (TR + "/findTenantInformationByTenantId", TENANT_INFO_READ, set()),
    (TR + "/delegatedAdmin", GDAP_READ, set()),
    (BATCH_PATH, None, None),  # a batch needs no permission of its own: each sub-request is checked
]
CUSTOMER_STATUSES = {"active", "expiring"}  # a customer object exists while a relationship is in force
TENANT_INFO = re.compile(r"^'([^']*)'$")


def routes(graph):
    """(pattern, handler) pairs for graph.Graph.routes()."""
    return [
        (TR + r"/delegatedAdminRelationships", lambda ctx, tenant: relationships(graph, ctx, tenant)),
        (TR + r"/delegatedAdminRelationships/([^/]+)", lambda ctx, tenant, rid: relationship(graph, ctx, tenant, rid)),
        (TR + r"/delegatedAdminCustomers", lambda ctx, tenant: customers(graph, ctx, tenant)),
        (TR + r"/delegatedAdminCustomers/([^/]+)", lambda ctx, tenant, cid: customer(graph, ctx, tenant, cid)),
        (TR + r"/findTenantInformationByTenantId\(tenantId=([^)]*)\)",
         lambda ctx, tenant, value: tenant_information(graph, ctx, value)),
        (r"/\$batch", lambda ctx, tenant: batch(graph, ctx)),
    ]


def _failure(*args, **kwargs):
    from .graph import GraphFailure  # graph.py imports this module

    return GraphFailure(*args, **kwargs)


def throttle(graph, ctx):
    """gdap_throttle_every: every Nth tenantRelationships request of the tenant answers 429 with Retry-After."""
    every = int(ctx["faults"].get("gdap_throttle_every") or 0)
    if not every:
        return
    calls = graph.state.counters.setdefault("gdap_calls", {})
    tid = ctx["claims"].get("tid")
    calls[tid] = calls.get(tid, 0) + 1
    if calls[tid] % every == 0:
        raise _failure(429, "TooManyRequests", "Too many requests, retry after some time.",
                       {"Retry-After": ctx["faults"].get("retry_after", 1)})


def relationship_items(tenant):
    return tenant.get("delegatedAdminRelationships") or []


def customer_items(tenant):
    if tenant.get("delegatedAdminCustomers") is not None:
        return tenant["delegatedAdminCustomers"]
    seen = {}
    for rel in relationship_items(tenant):
        who = rel.get("customer") or {}
        if rel.get("status") in CUSTOMER_STATUSES and who.get("tenantId") and who["tenantId"] not in seen:
            seen[who["tenantId"]] = {"id": who["tenantId"], "tenantId": who["tenantId"],
                                     "displayName": who.get("displayName")}
    return list(seen.values())


def relationships(graph, ctx, tenant):
    throttle(graph, ctx)
    size = ctx["faults"].get("gdap_page_size")
    if size and "$top" not in ctx["query"]:
        ctx = dict(ctx, query=dict(ctx["query"], **{"$top": str(size)}))
    return graph.page(ctx, relationship_items(tenant))


def relationship(graph, ctx, tenant, rid):
    throttle(graph, ctx)
    found = next((r for r in relationship_items(tenant) if r["id"] == rid), None)
    if found is None:
        raise _failure(404, "Request_ResourceNotFound", "The delegated admin relationship with id %s was not found." % rid)
    return 200, copy.deepcopy(found)


def customers(graph, ctx, tenant):
    throttle(graph, ctx)
    return graph.page(ctx, customer_items(tenant))


def customer(graph, ctx, tenant, cid):
    throttle(graph, ctx)
    found = next((c for c in customer_items(tenant) if c["id"] == cid), None)
    if found is None:
        raise _failure(404, "Request_ResourceNotFound", "The delegated admin customer with id %s was not found." % cid)
    return 200, copy.deepcopy(found)


def tenant_information(graph, ctx, value):
    throttle(graph, ctx)
    match = TENANT_INFO.match(unquote(value))
    if not match:
        raise _failure(400, "BadRequest", "Invalid value for the function parameter 'tenantId': %s" % value)
    tid = match.group(1).lower()
    state = graph.state
    directory = {k.lower(): v for k, v in (state.fixture.get("tenant_directory") or {}).items()}
    known = next((t for k, t in state.tenants.items() if k.lower() == tid), None)
    if known is not None:
        info = {"displayName": known.get("display_name"), "defaultDomainName": known.get("default_domain"),
                "federationBrandName": None}
    elif tid in directory:
        info = dict(directory[tid])
    else:
        # [UNVERIFIED] Graph's answer for a tenant id that exists nowhere
        raise _failure(404, "Request_ResourceNotFound", "Tenant information for tenant id '%s' was not found." % tid)
    info.update(tenantId=tid)
    info.setdefault("federationBrandName", None)
    return 200, dict({"@odata.context": "%s/v1.0/$metadata#microsoft.graph.tenantInformation" % ctx["base"]}, **info)


def batch(graph, ctx):
    """POST /$batch (JSON batching): (status, body). Sub-requests run one after the other, in the caller's tenant."""
    body = ctx["body"] if isinstance(ctx["body"], dict) else {}
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise _failure(400, "BadRequest", "Invalid batch payload: 'requests' must be a non-empty array.")
    if len(requests) > BATCH_LIMIT:
        raise _failure(400, "BadRequest", "Limit of %d requests per batch exceeded." % BATCH_LIMIT)
    ids = [r.get("id") if isinstance(r, dict) else None for r in requests]
    if any(not i for i in ids) or len(set(ids)) != len(ids):
        raise _failure(400, "BadRequest", "Invalid batch payload: every request needs a unique 'id'.")
    batch_id = "batch-%d" % (graph.state.seq + 1)
    responses = [sub_request(graph, ctx, request, batch_id) for request in requests]
    return 200, {"responses": list(reversed(responses))}


def sub_request(graph, ctx, request, batch_id):
    from .graph import GraphFailure

    method = str(request.get("method") or "").upper()
    url = str(request.get("url") or "")
    if not method or not url.startswith("/") or url.startswith(("/v1.0/", "/beta/")):
        # Graph wants URLs relative to the batch's version: "/users", not "/v1.0/users" nor absolute ones
        return {"id": request["id"], "status": 400, "body": error_body("BadRequest", "Invalid request URL: %s" % url)}
    parts = urlsplit(url)
    path = unquote(parts.path).rstrip("/")
    sub = dict(ctx, method=method, path=path, query=dict(parse_qsl(parts.query, keep_blank_values=True)),
               body=request.get("body"))
    headers = {"Content-Type": "application/json"}
    try:
        refusal = check_request(method, "/%s%s" % (ctx["version"], path) + ("?" + parts.query if parts.query else ""),
                                sub["body"], "ConditionalAccessPolicy") if ctx.get("validate") else None
        if refusal:
            raise GraphFailure(*refusal)
        status, out = graph.handle(sub)
    except GraphFailure as failure:
        status, out = failure.status, error_body(failure.code, failure.message)
        headers.update({k: str(v) for k, v in failure.headers.items()})
    graph.state.record(tenant=ctx["claims"].get("tid"), api="graph", method=method,
                       path="/%s%s" % (ctx["version"], path), query=sub["query"], body=sub["body"], status=status,
                       write=method != "GET" and status < 400, version=ctx["version"], batch=batch_id,
                       **({"error": out["error"]} if status >= 400 else {}))
    return {"id": request["id"], "status": status, "headers": headers, "body": out}


def error_body(code, message):
    return {"error": {"code": code, "message": message}}
