"""SandboxClient: the control API from Python (tests, bench, demo)."""

import json
import ssl
import urllib.request


class SandboxClient:
    def __init__(self, url, ca_bundle):
        self.url = url.rstrip("/")
        self.context = ssl.create_default_context(cafile=ca_bundle)

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + "/_sandbox" + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=self.context, timeout=60) as response:
            return json.loads(response.read() or b"null")

    def log(self, tenant=None, since=0):
        query = "?since=%d" % since + ("&tenant=%s" % tenant if tenant else "")
        return self._call("GET", "/log" + query)["entries"]

    def counters(self):
        return self._call("GET", "/counters")

    def writes(self, tenant=None):
        return [e for e in self.log(tenant) if e["write"]]

    def reset(self, fixture=None):
        return self._call("POST", "/reset", {"fixture": fixture} if fixture else {})

    def tenant(self, tenant):
        return self._call("GET", "/tenants/%s" % tenant)

    def policies(self, tenant):
        return self.tenant(tenant)["policies"]

    def locations(self, tenant):
        return self.tenant(tenant)["namedLocations"]

    def set_faults(self, tenant=None, **switches):
        return self._call("POST", "/faults", dict(switches, tenant=tenant))

    def add_hook(self, tenant, path, patch, method="GET"):
        """Once, just before ``method path`` (version-less, e.g. /identity/conditionalAccess/policies/ID) of the
        tenant is answered, merge ``patch`` into that object: a concurrent writer."""
        return self._call("POST", "/hooks", {"tenant": tenant, "method": method, "path": path, "patch": patch})

    def put_policy(self, tenant, obj):
        return self._call("PUT", "/tenants/%s/policies/%s" % (tenant, obj["id"]), obj)

    def put_location(self, tenant, obj):
        return self._call("PUT", "/tenants/%s/namedLocations/%s" % (tenant, obj["id"]), obj)

    def set_security_defaults(self, tenant, enabled):
        return self._call("PUT", "/tenants/%s/securityDefaults" % tenant, {"isEnabled": enabled})

    def cipp_state(self):
        return self._call("GET", "/cipp")

    def set_cipp(self, faults=None, clients=None, custom_roles=None):
        return self._call("POST", "/cipp", {"faults": faults or {}, "clients": clients or [],
                                            "custom_roles": custom_roles or {}})
