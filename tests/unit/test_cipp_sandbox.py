"""The CIPP-API sandbox (sandbox/cipp.py) against cipp-api.md sections 1.3-1.6 and 4, called directly."""

import json

import pytest

from sandbox.cipp import DENIED, CippApi, decode_ranges, encode_ranges

MSP = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
ME = "11111111-1111-4111-8111-111111111111"
RMM = "22222222-2222-4222-8222-222222222222"
RO = "33333333-3333-4333-8333-333333333333"


@pytest.fixture
def api():
    log = []
    cipp = CippApi({"tenant_id": MSP, "clients": [
        {"ClientId": ME, "AppName": "Ansible controller", "Role": "editor", "IPRange": ["127.0.0.1/32"], "Enabled": True},
        {"ClientId": RMM, "AppName": "RMM integration", "Role": "readonly", "IPRange": [], "Enabled": True},
        {"ClientId": RO, "AppName": "Read only", "Role": "readonly", "IPRange": [], "Enabled": True}]},
        lambda **entry: log.append(entry))
    cipp.log = log
    return cipp


def call(api, action=None, body=None, caller=ME, ip="127.0.0.1", method=None, headers=None, path="/api/ExecApiClient",
         aud=None):
    claims = {"appid": caller, "aud": aud or "api://%s" % caller, "tid": MSP} if caller else None
    raw = json.dumps(dict(body or {}, Action=action) if body is not None else body).encode() if body is not None else b""
    query = {"Action": action} if body is None and action else {}
    status, hdrs, out = api.handle(method or ("POST" if body is not None else "GET"), path, query, headers or {}, raw,
                                   claims, ip)
    try:
        return status, json.loads(out) if out else None
    except ValueError:
        return status, out.decode()


def stored(api, client_id=RMM):
    return api.clients[client_id.lower()]["IPRange"]


def test_storage_encoding_is_powershells():
    assert encode_ranges([]) == "" and encode_ranges(["1.2.3.4"]) == '"1.2.3.4"'
    assert encode_ranges(["a", "b"]) == '["a","b"]'
    assert decode_ranges("") == ["Any"] and decode_ranges('"1.2.3.4"') == ["1.2.3.4"] and decode_ranges("[]") == []


def test_add_update_reads_value_only_bare_strings_clear(api):
    status, answer = call(api, "AddUpdate", {"ClientId": RMM, "Role": {"label": "readonly", "value": "readonly"},
                                             "IPRange": [{"label": "x", "value": "203.0.113.0/24"}], "Enabled": True})
    assert status == 200 and answer == ["API client updated"] and stored(api) == '"203.0.113.0/24"'
    call(api, "AddUpdate", {"ClientId": RMM, "Role": "readonly", "IPRange": ["203.0.113.0/24"]})
    row = api.clients[RMM.lower()]
    assert row["IPRange"] == "" and row["Role"] == "" and row["Enabled"] is False and row["MCPAllowed"] is False
    assert [e["write"] for e in api.log] == [True, True]


def test_invalid_entries_dropped_with_warning_and_rest_saved(api):
    status, answer = call(api, "AddUpdate", {"ClientId": RMM, "IPRange": [{"value": "2001:db8::/32"}, {"value": "1.2.3.4"},
                                                                          {"value": "1.2.3.4/100"}]})
    assert status == 200 and answer[1:] == [
        {"resultText": "'2001:db8::/32' is not a valid IP address or CIDR range.", "state": "warning"},
        {"resultText": "'1.2.3.4/100' is not a valid IP address or CIDR range.", "state": "warning"}]
    assert stored(api) == '"1.2.3.4"'
    call(api, "AddUpdate", {"ClientId": RMM, "IPRange": [{"value": "Any"}]})
    assert stored(api) == ""  # all invalid: fail-open
    call(api, "AddUpdate", {"ClientId": RMM, "IPRange": [{"value": "2001:0db8:0000:0000:0000:0000:0000:0000/32"}]})
    assert stored(api) == '"2001:0db8:0000:0000:0000:0000:0000:0000/32"'


def test_list_decodes_and_the_pre_472_empty_list_bug(api):
    api.clients[RO.lower()]["IPRange"] = "[]"
    status, answer = call(api, "List")
    assert status == 200
    results = answer["Results"]
    assert "Any" in results  # the stray string
    rows = {r["ClientId"]: r for r in results if isinstance(r, dict)}
    assert rows[RMM]["IPRange"] == ["Any"] and rows[RO]["IPRange"] == [] and rows[ME]["IPRange"] == ["127.0.0.1/32"]
    assert all(e["write"] is False for e in api.log)
    api.clients.clear()
    assert api.list({}, "superadmin") is None  # $Body never assigned (an API caller is then out of the table anyway)


def test_ip_gate_first_forwarded_for_element_port_stripped(api):
    assert call(api, "List", ip="198.51.100.1") == (403, DENIED)
    assert call(api, "List", headers={"X-Forwarded-For": "127.0.0.1:5123, 198.51.100.1"}, ip="198.51.100.1")[0] == 200
    assert call(api, "me", path="/api/me", ip="198.51.100.1")[0] == 403
    api.faults["forwarded_for"] = "203.0.113.10"  # the controller's public address, as App Service would see it
    assert call(api, "List")[0] == 403
    api.clients[ME.lower()]["IPRange"] = encode_ranges(["203.0.113.0/24"])
    assert call(api, "List")[0] == 200
    api.clients[ME.lower()]["IPRange"] = "[]"
    assert call(api, "List", ip="127.0.0.1", headers={"X-Forwarded-For": "127.0.0.1"}) == (403, DENIED)


def test_missing_forwarded_for_with_ranges_set_is_403_without_the_front_end(api):
    api.faults["front_end_xff"] = False  # a call that did not pass App Service's front end
    assert call(api, "List") == (403, DENIED)
    assert call(api, "List", headers={"X-Forwarded-For": "127.0.0.1"})[0] == 200
    api.clients[ME.lower()]["IPRange"] = ""  # no ranges: Any
    assert call(api, "List")[0] == 200


def test_audience_permission_and_rbac_gates(api):
    assert call(api, "List", aud="https://graph.microsoft.com")[0] == 401
    assert call(api, "List", caller=None)[0] == 401
    assert call(api, "List", caller="99999999-9999-4999-8999-999999999999")[0] == 401  # not saved to Azure
    status, text = call(api, "List", caller=RO, ip="203.0.113.5")
    assert status == 403 and "'readonly' base role does not have the required permission: CIPP.Extension.ReadWrite" in text
    status, answer = call(api, "AddUpdate", {"ClientId": RMM, "Role": {"value": "admin"}})
    assert status == 200 and answer[0]["state"] == "error" and "'admin' role" in answer[0]["resultText"]
    assert stored(api) == ""
    assert api.log[-1]["write"] is False  # refused with 200: logged, not counted as a write


def test_api_config_failure_is_http_200_and_no_write(api):
    api.faults["api_config_fails"] = True
    status, answer = call(api, "AddUpdate", {"ClientId": RMM, "IPRange": [{"value": "1.2.3.4"}]})
    assert status == 200 and answer["Results"][0]["state"] == "error" and stored(api) == ""
    assert api.log[-1]["write"] is False
    api.faults["api_config_fails"] = False
    call(api, "AddUpdate", {"ClientId": RMM, "IPRange": [{"value": "1.2.3.4"}]})
    assert api.log[-1]["write"] is True and stored(api) == '"1.2.3.4"'


def test_save_to_azure_and_get_azure_configuration(api):
    api.clients[RMM.lower()]["Enabled"] = False
    assert sorted(call(api, "GetAzureConfiguration")[1]["Results"]["ClientIDs"]) == sorted([ME, RMM, RO])
    assert call(api, "SaveToAzure", {}) == (200, {"Results": "API clients saved to Azure"})
    assert sorted(call(api, "GetAzureConfiguration")[1]["Results"]["ClientIDs"]) == sorted([ME, RO])
    api.faults.update(save_fails=True, azure_config_fails=True)
    assert call(api, "SaveToAzure", {})[1]["Results"].startswith("Failed to save allowed API clients to Azure")
    assert api.log[-1]["write"] is False
    assert "Error" in call(api, "GetAzureConfiguration")[1]["Results"]
    assert call(api, "Nope")[1] == {"Results": "Invalid action"}


def test_traps_give_500(api):
    status, text = call(api, "List", headers={"X-CIPP-Version": "ansible"})
    assert status == 500 and "SemanticVersion" in text
    assert call(api, "List", headers={"X-CIPP-Version": "10.9.0"})[0] == 200
    status, answer = api.handle("POST", "/api/ExecApiClient", {}, {},
                                b'{"Action":"AddUpdate","ClientId":"%s","IpRange":[],"IPRange":[]}' % RMM.encode(),
                                {"appid": ME, "aud": "api://" + ME}, "127.0.0.1")[::2]
    assert status == 500 and b"different casing" in answer


# -- issue 16: roles as permission sets, /api/me, audiences, AddUpdate side effects, the restart after a save

def test_custom_role_is_a_permission_set(api):
    api.custom_roles["ca-automation"] = {"Permissions": ["CIPP.Extension.ReadWrite", "Tenant.ConditionalAccess.Read"]}
    api.custom_roles["read-only-custom"] = {"Permissions": ["CIPP.Core.Read"]}
    api.custom_roles["blocked"] = {"Permissions": ["CIPP.Extension.ReadWrite"], "BlockedEndpoints": ["ExecApiClient"]}
    api.clients[RO.lower()]["Role"] = "ca-automation"
    assert call(api, "List", caller=RO)[0] == 200
    api.clients[RO.lower()]["Role"] = "read-only-custom"
    status, text = call(api, "List", caller=RO)
    assert status == 403 and text == ("Access to this CIPP API endpoint is not allowed, you do not have the required "
                                      "permission: CIPP.Extension.ReadWrite")
    api.clients[RO.lower()]["Role"] = "blocked"
    assert call(api, "List", caller=RO) == (403, "Access to this CIPP API endpoint is not allowed, the custom role "
                                                 "'blocked' has blocked this endpoint: ExecApiClient")


def test_role_grant_compares_permission_sets(api):
    api.custom_roles["ext-only"] = {"Permissions": ["CIPP.Extension.ReadWrite"]}
    api.custom_roles["settings"] = {"Permissions": ["CIPP.AppSettings.ReadWrite"]}
    ok = call(api, "AddUpdate", {"ClientId": RMM, "Role": {"value": "ext-only"}})[1]
    assert ok == ["API client updated"] and api.clients[RMM.lower()]["Role"] == "ext-only"
    denied = call(api, "AddUpdate", {"ClientId": RMM, "Role": {"value": "settings"}})[1]
    assert denied == [{"resultText": "You do not have sufficient permissions to manage an API client with the 'settings' "
                                     "role; it grants permissions beyond your own.", "state": "error"}]
    assert call(api, "AddUpdate", {"ClientId": RMM, "Role": {"value": "nope"}})[1][0]["resultText"] == \
        "The role 'nope' does not exist."
    assert "cannot be assigned" in call(api, "AddUpdate", {"ClientId": RMM, "Role": {"value": "anonymous"}})[1][0][
        "resultText"]


def test_me_lists_only_roles_that_are_not_built_in(api):
    assert call(api, "me", path="/api/me")[1] == {"clientPrincipal": {"appId": ME, "appRole": []}, "permissions": []}
    api.custom_roles["ca-automation"] = {"Permissions": ["CIPP.Extension.ReadWrite"]}
    api.clients[ME.lower()]["Role"] = "ca-automation"
    assert call(api, "me", path="/api/me")[1] == {"clientPrincipal": {"appId": ME, "appRole": ["ca-automation"]},
                                                  "permissions": ["CIPP.Extension.ReadWrite"]}


def test_unknown_role_lets_the_call_through_as_cipp_reads_unless_switched(api):
    api.clients[RO.lower()]["Role"] = ""  # no role: cipp-api, which does not exist
    assert call(api, "List", caller=RO)[0] == 200
    api.faults["unknown_role_denied"] = True
    status, text = call(api, "List", caller=RO)
    assert status == 403 and "you do not have the required permission: CIPP.Extension.ReadWrite" in text


def test_bare_app_id_audience(api):
    assert call(api, "List", aud=ME)[0] == 200  # ME is the first saved client: EasyAuth's registration client id
    assert call(api, "List", caller=RO, aud=RO)[0] == 401
    api.faults["bare_audience"] = "all"
    assert call(api, "List", caller=RO, aud=RO)[0] != 401
    api.faults["bare_audience"] = "none"
    assert call(api, "List", aud=ME)[0] == 401


def test_mcp_warning_comes_after_the_table_was_written(api):
    status, answer = call(api, "AddUpdate", {"ClientId": RMM, "IPRange": [{"value": "1.2.3.4"}], "MCPAllowed": True})
    assert status == 200 and answer[0] == "API client updated" and answer[1]["state"] == "warning"
    assert answer[1]["resultText"].startswith("Client saved, but MCP app configuration failed:")
    assert stored(api) == '"1.2.3.4"' and api.clients[RMM.lower()]["MCPAllowed"] is True
    assert api.log[-1]["write"] is True
    api.faults["mcp_config_fails"] = False
    answer = call(api, "AddUpdate", {"ClientId": RMM, "IPRange": [{"value": "1.2.3.4"}], "MCPAllowed": True})[1]
    assert answer == ["API client updated", "MCP resource URIs and v2 tokens configured on the app registration. Run "
                                            "Save to Azure to apply the changes."]


def test_add_update_runs_the_api_client_setup(api):
    calls = []
    api.app_setup = lambda client_id, name: calls.append((client_id, name)) or {"identifier_uri_repaired": True}
    call(api, "AddUpdate", {"ClientId": RMM, "IPRange": [{"value": "1.2.3.4"}]})
    assert calls == [(RMM, "RMM integration")] and api.setup_runs == [{"identifier_uri_repaired": True, "ClientId": RMM}]
    api.faults["api_config_fails"] = True
    call(api, "AddUpdate", {"ClientId": RMM, "IPRange": [{"value": "1.2.3.4"}]})
    assert len(calls) == 1  # the setup threw: nothing ran after it


def test_save_restarts_cipp_for_n_seconds(api, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("sandbox.cipp.time.monotonic", lambda: clock[0])
    api.faults["restarting"] = 30
    assert call(api, "SaveToAzure", {})[0] == 200
    assert [call(api, "List")[0] for _ in range(3)] == [502, 503, 502]
    assert call(api, "me", path="/api/me")[0] in (502, 503)
    clock[0] += 31
    assert call(api, "List")[0] == 200
    api.faults["restarting"] = 0
    call(api, "SaveToAzure", {})
    assert call(api, "List")[0] == 200
