"""The sandbox itself: login, Graph semantics of graph-ca.md section 8, schema validation, faults."""

import json
from pathlib import Path

import pytest
import requests

from conftest import msp_tenant_id

CASES = Path("/work/shared/reference/graph-openapi/cases")
SHARED_CASES = CASES if CASES.exists() else Path(__file__).resolve().parents[3] / "shared/reference/graph-openapi/cases"
POLICIES = "/v1.0/identity/conditionalAccess/policies"
LOCATIONS = "/v1.0/identity/conditionalAccess/namedLocations"


@pytest.fixture(autouse=True)
def trust_sandbox_ca(sandbox, monkeypatch):
    """requests lets REQUESTS_CA_BUNDLE override an explicit verify=: point it at the sandbox CA."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sandbox.ca_bundle)


@pytest.fixture
def graph(sandbox_reset):
    """A requests session with a real token from the sandbox, obtained by azure-identity with TLS verified."""
    from azure.identity import ClientSecretCredential

    env = sandbox_reset.env
    tenant = msp_tenant_id()
    credential = ClientSecretCredential(tenant, env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"],
                                        authority=sandbox_reset.url, disable_instance_discovery=True,
                                        connection_verify=sandbox_reset.ca_bundle)
    token = credential.get_token("https://graph.microsoft.com/.default").token
    session = requests.Session()
    session.verify = sandbox_reset.ca_bundle
    session.headers.update(Authorization="Bearer " + token, Prefer="include-unknown-enum-members")
    session.base = sandbox_reset.url
    session.tenant = tenant
    return session


def call(graph, method, path, body=None, **kw):
    return graph.request(method, graph.base + path, json=body, **kw)


def new_policy(**overrides):
    body = {"displayName": "Sandbox test", "state": "disabled",
            "conditions": {"users": {"includeUsers": ["All"]}, "applications": {"includeApplications": ["All"]},
                           "clientAppTypes": ["all"]},
            "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}}
    body.update(overrides)
    return body


def test_wrong_secret_is_an_aadsts_error(sandbox_reset):
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import ClientSecretCredential

    credential = ClientSecretCredential(msp_tenant_id(), sandbox_reset.env["AZURE_CLIENT_ID"], "wrong",
                                        authority=sandbox_reset.url, disable_instance_discovery=True,
                                        connection_verify=sandbox_reset.ca_bundle)
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        credential.get_token("https://graph.microsoft.com/.default")


def test_create_fills_defaults_patch_merges_delete_soft_deletes(graph, sandbox_reset):
    created = call(graph, "POST", POLICIES, new_policy())
    assert created.status_code == 201
    policy = created.json()
    assert policy["conditions"]["users"]["excludeUsers"] == [] and policy["conditions"]["locations"] is None
    assert policy["modifiedDateTime"] is None and policy["sessionControls"] is None
    path = "%s/%s" % (POLICIES, policy["id"])
    patched = call(graph, "PATCH", path, {"conditions": {"users": {"excludeGuestsOrExternalUsers": {
        "guestOrExternalUserTypes": "serviceProvider,internalGuest", "externalTenants": {
            "@odata.type": "#microsoft.graph.conditionalAccessEnumeratedExternalTenants",
            "membershipKind": "enumerated", "members": ["11111111-1111-4111-8111-111111111111"]}}}}})
    assert patched.status_code == 204 and patched.content == b""
    after = call(graph, "GET", path).json()
    users = after["conditions"]["users"]
    assert users["includeUsers"] == ["All"]  # objects merge
    assert users["excludeGuestsOrExternalUsers"]["guestOrExternalUserTypes"] == "internalGuest,serviceProvider"
    assert after["modifiedDateTime"]
    assert call(graph, "DELETE", path).status_code == 204
    deleted = call(graph, "GET", "/v1.0/identity/conditionalAccess/deletedItems/policies").json()["value"]
    assert [d["id"] for d in deleted] == [policy["id"]]


def test_schema_violation_is_1007_with_the_property_named(graph):
    response = call(graph, "POST", POLICIES, new_policy(conditions={"users": {"excludeUserz": []},
                                                                     "applications": {"includeApplications": ["All"]}}))
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert message.startswith("1007:") and "excludeUserz" in message


def test_service_rules(graph, sandbox_reset):
    empty_apps = call(graph, "POST", POLICIES, new_policy(conditions={"users": {"includeUsers": ["All"]},
                                                                      "applications": {"includeApplications": []}}))
    assert empty_apps.json()["error"]["message"].startswith("1011:")
    every_time = new_policy(sessionControls={"signInFrequency": {"isEnabled": True, "frequencyInterval": "everyTime",
                                                                 "type": "hours", "value": 1}})
    assert call(graph, "POST", POLICIES, every_time).status_code == 400
    missing_location = new_policy(conditions={"users": {"includeUsers": ["All"]},
                                              "applications": {"includeApplications": ["All"]},
                                              "locations": {"includeLocations": ["All"],
                                                            "excludeLocations": ["aaaaaaaa-0000-4000-8000-000000000000"]}})
    assert call(graph, "POST", POLICIES, missing_location).json()["error"]["message"].startswith("1040:")
    no_type = call(graph, "POST", LOCATIONS, {"displayName": "x"})
    assert no_type.json()["error"]["message"].startswith("1042:")
    assert sandbox_reset.client.writes(graph.tenant) == []


def test_named_locations_trusted_delete_refused(graph):
    body = {"@odata.type": "#microsoft.graph.ipNamedLocation", "displayName": "Office", "isTrusted": True,
            "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "203.0.113.0/24"}]}
    created = call(graph, "POST", LOCATIONS, body)
    assert created.status_code == 201 and created.json()["@odata.type"] == "#microsoft.graph.ipNamedLocation"
    path = "%s/%s" % (LOCATIONS, created.json()["id"])
    assert call(graph, "DELETE", path).status_code == 400
    assert call(graph, "PATCH", path, {"isTrusted": False}).status_code == 400  # @odata.type is required
    assert call(graph, "PATCH", path, {"@odata.type": "#microsoft.graph.ipNamedLocation", "isTrusted": False}).status_code == 204
    assert call(graph, "DELETE", path).status_code == 204
    wide = dict(body, ipRanges=[{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "10.0.0.0/8"}])
    assert call(graph, "POST", LOCATIONS, wide).status_code == 400


def test_paging_with_next_link(graph, sandbox_reset):
    for index in range(120):
        sandbox_reset.client.put_policy(graph.tenant, dict(new_policy(displayName="P%03d" % index),
                                                           id="00000000-0000-4000-8000-%012d" % index))
    first = call(graph, "GET", POLICIES).json()
    assert len(first["value"]) == 100 and first["@odata.nextLink"].startswith(graph.base)
    second = graph.get(first["@odata.nextLink"]).json()
    assert len(first["value"]) + len(second["value"]) == 121 and "@odata.nextLink" not in second


def test_throttle_is_429_without_retry_after(graph, sandbox_reset):
    sandbox_reset.client.set_faults(tenant=graph.tenant, throttle_rps=1)
    statuses = [call(graph, "GET", POLICIES) for _ in range(3)]
    throttled = [r for r in statuses if r.status_code == 429]
    assert throttled and all("Retry-After" not in r.headers for r in throttled)
    assert sandbox_reset.client.counters()["throttled"][graph.tenant] == len(throttled)


def test_evolvable_enums_hidden_without_prefer(graph, sandbox_reset):
    body = new_policy(conditions={"users": {"includeUsers": ["All"]}, "applications": {"includeApplications": ["All"]},
                                  "platforms": {"includePlatforms": ["linux"]}})
    pid = call(graph, "POST", POLICIES, body).json()["id"]
    plain = graph.get(graph.base + POLICIES + "/" + pid, headers={"Prefer": ""}).json()
    assert plain["conditions"]["platforms"]["includePlatforms"] == ["unknownFutureValue"]
    assert call(graph, "GET", POLICIES + "/" + pid).json()["conditions"]["platforms"]["includePlatforms"] == ["linux"]


@pytest.mark.parametrize("case", sorted(SHARED_CASES.glob("*/*.json")), ids=lambda p: "%s/%s" % (p.parent.name, p.stem))
def test_microsoft_schema_cases(case):
    """The sandbox's validator agrees with the shared corpus: valid cases pass, invalid ones are rejected."""
    from sandbox.validation import validate

    data = json.loads(case.read_text())
    errors = validate(data["method"], data["path"], data.get("body"))
    assert (not errors) == (case.parent.name == "valid"), errors
