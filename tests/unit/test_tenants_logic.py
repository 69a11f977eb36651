"""Pure logic of tenant discovery (plugins/module_utils/_tenants.py) and the plugin's auth documentation."""

import datetime

import pytest
import yaml

from ansible_collections.msp.conditional_access.plugins.doc_fragments.graph import ModuleDocFragment
from ansible_collections.msp.conditional_access.plugins.module_utils import _tenants as t
from ansible_collections.msp.conditional_access.plugins.module_utils._auth import AUTH_ARGUMENT_SPEC
from ansible_collections.msp.conditional_access.plugins.module_utils._module import InvalidOption

CAA = "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9"
HELPDESK = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)


def rel(tid, name, roles, status="active", end="2027-01-01T00:00:00Z", extend="P180D"):
    return {"displayName": name, "status": status, "customer": {"tenantId": tid, "displayName": "T " + tid},
            "accessDetails": {"unifiedRoles": [{"roleDefinitionId": r} for r in roles]}, "endDateTime": end,
            "autoExtendDuration": extend}


def test_merge_drops_mlt_and_relationships_not_in_force():
    merged = t.merge_relationships([
        rel("A", "GDAP A", [CAA], end="2027-01-01T00:00:00Z", extend="PT0S"),
        rel("A", "GDAP A helpdesk", [HELPDESK], end="2027-06-01T00:00:00Z", extend="PT0S"),
        rel("A", "GDAP A old", ["62e90394-69f5-4237-9190-012177145e10"], status="expired"),
        rel("B", "MLT_B", [CAA]), rel("C", "GDAP C", [CAA], status="approvalPending"),
        rel("D", "GDAP D", [HELPDESK], status="expiring", extend=None)])
    assert sorted(merged) == ["a", "d"]
    assert merged["a"] == {"tenant_id": "a", "tenant_name": "T A", "role_ids": [CAA, HELPDESK],
                           "relationship_end": "2027-06-01T00:00:00Z", "auto_extend": False,
                           "relationships": ["GDAP A", "GDAP A helpdesk"]}


@pytest.mark.parametrize("duration, expected", [("PT0S", False), (None, False), ("", False), ("P0D", False),
                                                ("P180D", True), ("pt0s", False)])
def test_auto_extends(duration, expected):
    assert t.auto_extends(duration) is expected


def test_expiring_only_without_auto_extend_and_inside_the_window():
    soon = {"gdap_relationship_end": "2026-12-11T00:00:00Z", "gdap_auto_extend": False}
    assert t.expiring(soon, 30, NOW) and not t.expiring(soon, 5, NOW)
    assert not t.expiring(dict(soon, gdap_auto_extend=True), 30, NOW)
    assert not t.expiring({"gdap_relationship_end": None, "gdap_auto_extend": False}, 30, NOW)


def test_matching_and_names():
    record = {"tenant_id": "2222aaaa-0000-4000-8000-000000000001", "tenant_domain": "fabrikam.onmicrosoft.com",
              "tenant_name": "Fabrikam Ltd."}
    assert t.matches(record, ["2222AAAA-0000-4000-8000-000000000001"])
    assert t.matches(record, ["FABRIKAM.onmicrosoft.com"]) and t.matches(record, ["fab*"])
    assert t.matches(record, ["fabrikam ltd?"]) and not t.matches(record, ["2222aaaa*"])  # no glob on ids
    assert not t.matches(record, ["contoso*"])
    assert t.host_name(record, "name") == "fabrikam-ltd." and t.host_name(record, "id") == record["tenant_id"]
    assert t.host_name(dict(record, tenant_domain=None), "domain") == record["tenant_id"]
    assert t.group_name("cipp_", "Finance & Legal (EU)") == "cipp_finance_legal_eu"


def test_build_hosts_refuses_ambiguous_names_and_empty_results():
    discovery = {"source": "gdap", "groups": [], "msp": {}, "records": [
        {"tenant_id": "a", "tenant_name": "Same", "tenant_domain": "a.example", "access_mode": "gdap",
         "gdap_ca_role": True},
        {"tenant_id": "b", "tenant_name": "same", "tenant_domain": "b.example", "access_mode": "gdap",
         "gdap_ca_role": False}]}
    hosts, groups, _ = t.build_hosts(discovery, {"msp_tenant_id": "M", "hostname": "domain"}, NOW)
    assert groups["gdap_missing_ca_role"] == ["b.example"] and groups["msp"] == ["m"]
    with pytest.raises(InvalidOption, match="both give the host name 'same'"):
        t.build_hosts(discovery, {"msp_tenant_id": "M", "hostname": "name"}, NOW)
    with pytest.raises(t.DiscoveryError, match="found no client tenant"):
        t.build_hosts(dict(discovery, records=[]), {"msp_tenant_id": "M"}, NOW)


class FakeGraph:
    """read_batch(requests) answers from a script: each call pops one {tenant: status} map."""

    tenant_id = "msp"
    requests = 0

    def __init__(self, script):
        self.script = script
        self.bodies = []

    def url(self, path):
        return "https://graph.example/v1.0" + path

    def read_batch(self, requests):
        body = {"requests": requests}
        self.bodies.append(body)
        statuses = self.script.pop(0)
        responses = []
        for item in body["requests"]:
            tid = item["url"].split("'")[1]
            status = statuses.get(tid, 200)
            answer = {"id": item["id"], "status": status, "headers": {"Retry-After": "0"}}
            answer["body"] = {"tenantId": tid, "defaultDomainName": tid + ".example"} if status == 200 else \
                {"error": {"code": "TooManyRequests" if status == 429 else "Forbidden", "message": "x"}}
            responses.append(answer)
        return {"responses": responses[::-1]}


def test_tenant_information_batches_of_20_and_retries_throttled_items(monkeypatch):
    monkeypatch.setattr(t.time, "sleep", lambda seconds: None)
    ids = ["t%02d" % n for n in range(45)]
    graph = FakeGraph([{"t03": 429}, {}, {}, {}])
    found = t.tenant_information(graph, ids)
    assert sorted(found) == ids
    assert [len(b["requests"]) for b in graph.bodies] == [20, 20, 5, 1]  # the throttled one again, alone
    with pytest.raises(t.DiscoveryError, match="CrossTenantInformation.ReadBasic.All"):
        t.tenant_information(FakeGraph([{"t00": 403}]), ["t00"])
    with pytest.raises(t.DiscoveryError, match="still throttled"):
        t.tenant_information(FakeGraph([{"t00": 429}] * 3), ["t00"], retries=2)


def test_plugin_auth_options_use_the_modules_environment_names():
    """The inventory's env: names are exactly the modules' env_fallback names (one AWX credential serves both)."""
    options = yaml.safe_load(ModuleDocFragment.PLUGINS)["options"]
    for name, doc in options.items():
        fallback = AUTH_ARGUMENT_SPEC[name].get("fallback")
        assert [e["name"] for e in doc.get("env", [])] == (fallback[1] if fallback else []), name
        assert doc.get("choices") == AUTH_ARGUMENT_SPEC[name].get("choices"), name
    assert set(options) == set(AUTH_ARGUMENT_SPEC) - {"tenant_id"}


def test_read_batch_passes_the_write_gate_only_when_every_sub_request_reads():
    from types import SimpleNamespace

    from ansible_collections.msp.conditional_access.plugins.module_utils._graph import GraphClient

    client = GraphClient(SimpleNamespace(tenant_id="msp", graph_root="https://graph.example"))
    sent = []

    def request(method, path, body=None, version=None, **kwargs):
        client.gate.check(method, "/v1.0" + path)  # what _send does before anything goes out
        sent.append((method, path, body))
        return {"responses": []}

    client.request = request
    reads = [{"id": "0", "method": "GET", "url": "/users/a"}]
    assert client.read_batch(reads) == {"responses": []}
    assert sent == [("POST", "/$batch", {"requests": reads})] and client.gate.open is False
    with pytest.raises(ValueError, match="PATCH"):
        client.read_batch(reads + [{"id": "1", "method": "PATCH", "url": "/identity/conditionalAccess/policies/x"}])
    assert len(sent) == 1 and client.gate.open is False
    with pytest.raises(RuntimeError):  # a $batch sent any other way is a write outside the chokepoint
        client.gate.check("POST", "/v1.0/$batch")
