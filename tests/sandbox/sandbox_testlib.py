"""Helpers for the sandbox's own tests (a plain module: a second conftest.py would shadow tests/conftest.py)."""

import json

import pytest
import requests

from conftest import DEMO_FIXTURE, load_fixture, msp_tenant_id

EXCLUSION_FIXTURE = DEMO_FIXTURE.parent / "exclusion.json"
POLICIES = "/v1.0/identity/conditionalAccess/policies"
LOCATIONS = "/v1.0/identity/conditionalAccess/namedLocations"


@pytest.fixture(autouse=True)
def trust_sandbox_ca(sandbox, monkeypatch):
    """requests lets REQUESTS_CA_BUNDLE override an explicit verify=: point it at the sandbox CA."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sandbox.ca_bundle)


def get_token(sandbox, tenant, client_id=None, secret=None, scope="https://graph.microsoft.com/.default"):
    """A token straight from the token endpoint (the azure-identity path is covered in test_login.py)."""
    app = load_fixture()["apps"][0]
    response = requests.post("%s/%s/oauth2/v2.0/token" % (sandbox.url, tenant), verify=sandbox.ca_bundle, data={
        "client_id": client_id or app["client_id"], "client_secret": secret or app["client_secret"],
        "grant_type": "client_credentials", "scope": scope})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


class Graph:
    """A Graph session for one tenant: .call(method, path, body) against the sandbox, TLS verified."""

    def __init__(self, sandbox, tenant, token=None, prefer=True):
        self.base = sandbox.url
        self.tenant = tenant
        self.session = requests.Session()
        self.session.verify = sandbox.ca_bundle
        self.session.headers["Authorization"] = "Bearer " + (token or get_token(sandbox, tenant))
        if prefer:
            self.session.headers["Prefer"] = "include-unknown-enum-members"

    def call(self, method, path, body=None, **kwargs):
        url = path if path.startswith("https://") else self.base + path
        return self.session.request(method, url, json=body, **kwargs)

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)

    def create(self, path, body):
        response = self.call("POST", path, body)
        assert response.status_code == 201, response.text
        return response.json()

    def error(self, method, path, body=None):
        """The error message of a refused request (asserts that it was refused with 400)."""
        response = self.call(method, path, body)
        assert response.status_code == 400, (response.status_code, response.text)
        return response.json()["error"]["message"]


@pytest.fixture
def graph(sandbox_reset):
    """Graph on the demo fixture's MSP tenant."""
    return Graph(sandbox_reset, msp_tenant_id())


@pytest.fixture
def custom_fixture(sandbox, tmp_path):
    """custom_fixture(change) -> fixture dict: reset the sandbox to the demo fixture changed by change(fixture)."""
    def make(change):
        fixture = load_fixture()
        change(fixture)
        path = tmp_path / "fixture.json"
        path.write_text(json.dumps(fixture))
        sandbox.client.reset(fixture=str(path))
        return fixture
    yield make
    sandbox.client.reset(fixture=str(DEMO_FIXTURE))


def new_policy(**overrides):
    body = {"displayName": "Sandbox test", "state": "disabled",
            "conditions": {"users": {"includeUsers": ["All"]}, "applications": {"includeApplications": ["All"]},
                           "clientAppTypes": ["all"]},
            "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}}
    body.update(overrides)
    return body


def ip_location(name="Office", *cidrs, trusted=False):
    ranges = [{"@odata.type": "#microsoft.graph.iPv6CidrRange" if ":" in c else "#microsoft.graph.iPv4CidrRange",
               "cidrAddress": c} for c in (cidrs or ("203.0.113.0/24",))]
    return {"@odata.type": "#microsoft.graph.ipNamedLocation", "displayName": name, "isTrusted": trusted,
            "ipRanges": ranges}
