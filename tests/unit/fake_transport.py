"""The one fake transport of the unit tests.

A real ``GraphModule`` (argument spec, check mode, the write chokepoint and its gate) and a real ``GraphClient``
(error mapping, lag retries, paging), whose only stand-in is the wire: ``GraphClient._send`` is answered in
process by the sandbox's own Graph (``sandbox.graph.Graph`` over a ``sandbox.server.State``). So every unit test
sees one PATCH semantics, the sandbox's, which the integration tests check against the real service's rules.

``hooks`` run before a request is answered (``hook(transport, method, path, body)``), e.g. a concurrent writer
changing a policy between a task's plan and its write; a hook that raises ``GraphFailure`` refuses the request.
"""

import copy
import json
import os
import tempfile
from urllib.parse import parse_qsl, urlsplit

from ansible.module_utils.testing import patch_module_args

from ansible_collections.msp.conditional_access.plugins.module_utils._graph import GraphClient
from ansible_collections.msp.conditional_access.plugins.module_utils._module import GraphModule
from sandbox.graph import Graph, GraphFailure
from sandbox.server import State

TENANT = "22222222-0000-4000-8000-000000000001"
ROLES = ["Policy.Read.All", "Policy.ReadWrite.ConditionalAccess", "Application.Read.All", "User.Read.All",
         "Group.Read.All", "RoleManagement.Read.Directory", "Organization.Read.All", "Directory.Read.All",
         "AuditLog.Read.All", "CrossTenantInformation.ReadBasic.All", "DelegatedAdminRelationship.Read.All",
         "Agreement.Read.All"]
# Other tenants findTenantInformationByTenantId knows (the MSP of the Part D tests among them)
TENANT_DIRECTORY = {"11111111-2222-3333-4444-555555555555": {"displayName": "Contoso MSP",
                                                              "defaultDomainName": "contoso.example"}}
ROOT = "https://graph.test"


class Exit(Exception):
    """exit_json / fail_json of the module under test."""

    def __init__(self, failed, result):
        super().__init__(result.get("msg"))
        self.failed = failed
        self.result = result


class TestModule(GraphModule):
    """The real GraphModule; its exits raise Exit instead of ending the test process (argument errors included)."""

    def exit_json(self, **result):
        self.report_retries()
        raise Exit(False, result)

    def fail_json(self, msg, **result):
        self.report_retries()
        raise Exit(True, dict(result, msg=msg))

    def warn(self, warning):
        self.warnings_seen.append(warning)


class FakeTransport:
    def __init__(self, policies=(), users=(), groups=(), locations=(), faults=None, **tenant):
        data = dict(tenant, policies=copy.deepcopy(list(policies)), users=copy.deepcopy(list(users)),
                    groups=copy.deepcopy(list(groups)), namedLocations=copy.deepcopy(list(locations)))
        fixture = {"apps": [], "tenants": {TENANT: data}, "faults": dict(faults or {}),
                   "tenant_directory": TENANT_DIRECTORY}
        handle, path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(handle, "w") as out:
            json.dump(fixture, out)
        try:
            self.state = State(path)
        finally:
            os.unlink(path)
        self.log = []    # (method, path with version, body, status) of every request
        self.queries = []  # (method, path with version, query) of every request
        self.hooks = []

    # -- the wire -----------------------------------------------------------------------------------
    def send(self, method, url, body, params):
        parts = urlsplit(url)
        version, _, path = parts.path.lstrip("/").partition("/")
        query = dict(parse_qsl(parts.query))
        query.update(params or {})
        ctx = {"method": method, "version": version, "path": "/" + path, "query": query,
               "body": copy.deepcopy(body), "claims": {"tid": TENANT, "roles": ROLES},
               "faults": self.state.faults_for(TENANT), "base": ROOT, "prefer_unknown": True,
               "tenant": self.state.tenants[TENANT]}
        try:
            for hook in list(self.hooks):  # a hook may change the state, or refuse by raising GraphFailure
                hook(self, method, "/" + path, body)
            status, out = Graph(self.state).handle(ctx)
        except GraphFailure as failure:
            status, out = failure.status, {"error": {"code": failure.code, "message": failure.message}}
        self.log.append((method, "/%s/%s" % (version, path), copy.deepcopy(body), status))
        self.queries.append((method, "/%s/%s" % (version, path), query))
        return status, (json.dumps(out).encode() if out is not None else b"")

    # -- what a test looks at -------------------------------------------------------------------------
    @property
    def tenant(self):
        return self.state.tenants[TENANT]

    def graph(self, check_mode=False):
        """A real GraphClient (of a real module) on this transport, for code that only needs a client."""
        return self.module({}, check_mode=check_mode).graph

    def policy(self, pid):
        return self.policies[pid]

    @property
    def policies(self):
        """The tenant's policies by id, as the sandbox stores them."""
        return {p["id"]: p for p in self.tenant["policies"]}

    def calls(self):
        """(method, path without the version) of every request."""
        return [(m, "/" + path.split("/", 2)[2]) for m, path, _body, _status in self.log]

    def writes(self):
        return [e for e in self.log if e[0] != "GET"]

    def module(self, argument_spec, check_mode=False, diff=True, **params):
        """A real GraphModule with ``params``, whose Graph client talks to this transport."""
        args = dict(dict(tenant_id=TENANT), **params)
        args.update(client_id="00000000-0000-4000-8000-00000000c11e",
                    access_token="unused", auth_method="access_token", graph_endpoint=ROOT,
                    _ansible_check_mode=check_mode, _ansible_diff=diff)
        TestModule.warnings_seen = []
        with patch_module_args({k: v for k, v in args.items() if v is not None}):
            module = TestModule(argument_spec=copy.deepcopy(argument_spec), supports_check_mode=True)
        module.warnings_seen = []
        graph = GraphClient(module.graph.auth, tenant_id=TENANT, pace_seconds=0, lag_delay=0)
        graph._send = self.send
        module._graph = graph
        return module
