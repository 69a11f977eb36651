"""The sandbox's GDAP routes, tenant information, $batch and CIPP's tenant listing (sandbox/gdap.py, sandbox/cipp.py).

Every answer is also checked against the OpenAPI subset's response schema (the shape Graph documents).
"""

import json
from urllib.parse import urlsplit

import pytest
import requests
from openapi_core.testing import MockRequest, MockResponse

from conftest import load_fixture, msp_tenant_id
from sandbox.fixtures import CA_ADMIN, gdap_relationship
from sandbox.validation import api
from sandbox_testlib import Graph, custom_fixture, get_token, trust_sandbox_ca  # noqa: F401 (pytest fixtures)

RELATIONSHIPS = "/v1.0/tenantRelationships/delegatedAdminRelationships"
CUSTOMERS = "/v1.0/tenantRelationships/delegatedAdminCustomers"
FABRIKAM = "22222222-2222-4222-8222-222222222222"
WOODGROVE = "55555555-5555-4555-8555-555555555555"


def info_path(tid):
    return "/v1.0/tenantRelationships/findTenantInformationByTenantId(tenantId='%s')" % tid


def shape_check(method, path, response):
    """Microsoft's response schema accepts the sandbox's answer (openapi-core unmarshal_response)."""
    parts = urlsplit(path)
    request = MockRequest("https://graph.microsoft.com", method.lower(), parts.path)
    result = api().unmarshal_response(request, MockResponse(response.content, status_code=response.status_code,
                                                            content_type="application/json"))
    assert not result.errors, [str(e.__cause__ or e) for e in result.errors]


@pytest.fixture
def msp_graph(sandbox_reset):
    return Graph(sandbox_reset, msp_tenant_id())


def test_relationships_are_paged_and_match_the_schema(msp_graph, sandbox, custom_fixture):
    def many(fixture):
        fixture["tenants"][msp_tenant_id()]["delegatedAdminRelationships"] = [
            gdap_relationship("00000000-0000-4000-8000-%012d" % n, "Client %d" % n, "GDAP %d" % n, [CA_ADMIN])
            for n in range(120)]
    custom_fixture(many)
    first = msp_graph.get(RELATIONSHIPS)
    assert first.status_code == 200
    shape_check("GET", RELATIONSHIPS, first)
    page = first.json()
    assert len(page["value"]) == 100 and page["@odata.nextLink"].startswith(sandbox.url + RELATIONSHIPS)
    second = msp_graph.get(page["@odata.nextLink"]).json()
    assert len(second["value"]) == 20 and "@odata.nextLink" not in second
    assert [r["displayName"] for r in page["value"] + second["value"]] == ["GDAP %d" % n for n in range(120)]
    sandbox.client.set_faults(gdap_page_size=50)
    assert len(msp_graph.get(RELATIONSHIPS).json()["value"]) == 50


def test_customers_come_from_relationships_in_force(msp_graph):
    response = msp_graph.get(CUSTOMERS)
    shape_check("GET", CUSTOMERS, response)
    customers = response.json()["value"]
    assert sorted(c["displayName"] for c in customers) == ["Fabrikam", "Tailspin Toys", "Woodgrove Bank"]
    assert all(c["id"] == c["tenantId"] for c in customers)


def test_tenant_information(msp_graph, custom_fixture):
    response = msp_graph.get(info_path(FABRIKAM))
    assert response.status_code == 200, response.text
    shape_check("GET", info_path(FABRIKAM), response)
    assert {k: v for k, v in response.json().items() if not k.startswith("@")} == {
        "tenantId": FABRIKAM, "displayName": "Fabrikam", "defaultDomainName": "fabrikam.onmicrosoft.com",
        "federationBrandName": None}
    unknown = msp_graph.get(info_path("12345678-1234-4234-8234-123456789012"))
    assert unknown.status_code == 404
    assert msp_graph.get(info_path(FABRIKAM).replace("'", "")).status_code == 400  # the schema wants a quoted string
    custom_fixture(lambda f: f.update(tenant_directory={"12345678-1234-4234-8234-123456789012": {
        "displayName": "Elsewhere", "defaultDomainName": "elsewhere.example"}}))
    assert msp_graph.get(info_path("12345678-1234-4234-8234-123456789012")).json()["defaultDomainName"] == \
        "elsewhere.example"


def test_batch_runs_each_sub_request_and_logs_it(msp_graph, sandbox):
    requests_ = [{"id": str(n), "method": "GET", "url": info_path(tid)[len("/v1.0"):]}
                 for n, tid in enumerate([FABRIKAM, WOODGROVE, "12345678-1234-4234-8234-123456789012"])]
    requests_.append({"id": "bad", "method": "GET", "url": "/tenantRelationships/nonsense"})
    response = msp_graph.call("POST", "/v1.0/$batch", {"requests": requests_})
    assert response.status_code == 200, response.text
    answers = {r["id"]: r for r in response.json()["responses"]}
    assert [r["id"] for r in response.json()["responses"]] == ["bad", "2", "1", "0"]  # no order is promised
    assert answers["0"]["body"]["defaultDomainName"] == "fabrikam.onmicrosoft.com"
    assert answers["1"]["body"]["defaultDomainName"] == "woodgrove.onmicrosoft.com"
    assert answers["2"]["status"] == 404 and answers["bad"]["status"] == 400
    entries = [e for e in sandbox.client.log(msp_tenant_id()) if e["api"] == "graph"]
    assert [(e["path"], e["status"], e.get("batch") is not None) for e in entries] == [
        ("/v1.0" + r["url"], s, True) for r, s in zip(requests_, (200, 200, 404, 400))] + [("/v1.0/$batch", 200, False)]

    assert sandbox.client.counters()["writes"] == {} and not sandbox.client.writes()  # reads, batched or not

    too_many = [{"id": str(n), "method": "GET", "url": info_path(FABRIKAM)[5:]} for n in range(21)]
    refused = msp_graph.call("POST", "/v1.0/$batch", {"requests": too_many})
    assert refused.status_code == 400 and "20" in refused.json()["error"]["message"]
    duplicate = msp_graph.call("POST", "/v1.0/$batch", {"requests": too_many[:1] * 2})
    assert duplicate.status_code == 400


def test_permissions_and_throttling(sandbox, custom_fixture):
    reader = {"client_id": "a0a0a0a0-0000-4000-8000-0000000000a1", "client_secret": "reader-secret",
              "display_name": "no GDAP", "roles": ["Policy.Read.All"]}
    custom_fixture(lambda fixture: fixture["apps"].append(reader))
    token = get_token(sandbox, msp_tenant_id(), reader["client_id"], reader["client_secret"])
    graph = Graph(sandbox, msp_tenant_id(), token=token)
    for path in (RELATIONSHIPS, CUSTOMERS, info_path(FABRIKAM)):
        assert graph.get(path).status_code == 403
    batch = graph.call("POST", "/v1.0/$batch", {"requests": [{"id": "1", "method": "GET",
                                                              "url": info_path(FABRIKAM)[5:]}]})
    assert batch.status_code == 200 and batch.json()["responses"][0]["status"] == 403

    full = Graph(sandbox, msp_tenant_id())
    sandbox.client.set_faults(gdap_throttle_every=2, retry_after=3)
    statuses = [full.get(RELATIONSHIPS) for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 429, 200, 429]
    assert statuses[1].headers["Retry-After"] == "3"
    batch = full.call("POST", "/v1.0/$batch", {"requests": [{"id": str(n), "method": "GET",
                                                             "url": info_path(FABRIKAM)[5:]} for n in range(2)]})
    assert sorted(r["status"] for r in batch.json()["responses"]) == [200, 429]
    assert sandbox.client.counters()["throttled"][msp_tenant_id()] >= 3


def cipp_get(sandbox, endpoint, **params):
    app = load_fixture()["apps"][0]
    token = get_token(sandbox, msp_tenant_id(), scope="api://%s/.default" % app["client_id"])
    return requests.get("%s/api/%s" % (sandbox.url, endpoint), params=params, verify=sandbox.ca_bundle,
                        headers={"Authorization": "Bearer " + token})


def test_cipp_tenants_and_groups(sandbox_reset, custom_fixture):
    sandbox = sandbox_reset
    tenants = cipp_get(sandbox, "ListTenants").json()
    assert [t["defaultDomainName"] for t in tenants] == ["fabrikam.onmicrosoft.com", "northwind.onmicrosoft.com",
                                                         "tailspin.onmicrosoft.com", "woodgrove.onmicrosoft.com"]
    assert [t["delegatedPrivilegeStatus"] for t in tenants][:2] == ["granularDelegatedAdminPrivileges", "directTenant"]
    assert cipp_get(sandbox, "ListTenants", AllTenantSelector="true").json()[0]["customerId"] == "AllTenants"
    assert len(cipp_get(sandbox, "ListTenants", tenantFilter="northwind.onmicrosoft.com").json()) == 1
    groups = cipp_get(sandbox, "ListTenantGroups").json()["Results"]
    assert [(g["Name"], [m["defaultDomainName"] for m in g["Members"]]) for g in groups] == [
        ("Pilot ring", ["fabrikam.onmicrosoft.com"]), ("Banks", ["woodgrove.onmicrosoft.com"])]

    def exclude_tailspin(fixture):
        fixture["cipp"]["tenants"][2]["Excluded"] = True
    custom_fixture(exclude_tailspin)
    assert "tailspin.onmicrosoft.com" not in [t["defaultDomainName"] for t in cipp_get(sandbox, "ListTenants").json()]
    # the editor role may not list excluded tenants (CIPP.AppSettings.ReadWrite)
    denied = cipp_get(sandbox, "ExecExcludeTenant", List="true")
    assert denied.status_code == 403 and "CIPP.AppSettings.ReadWrite" in denied.text
    sandbox.client.set_cipp(clients=[dict(load_fixture()["cipp"]["clients"][0], Role="admin",
                                          IPRange=json.dumps(["127.0.0.1/32"]))])
    excluded = cipp_get(sandbox, "ExecExcludeTenant", List="true").json()
    assert [t["defaultDomainName"] for t in excluded] == ["tailspin.onmicrosoft.com"]
