"""Pure Part C logic (module_utils/_cipp.py): range canonicalisation, List decoding, answers, plan, AddUpdate body."""

import pytest

from ansible_collections.msp.conditional_access.plugins.module_utils._cipp import (
    ANY_IP, DENY_ALL, RESTRICTED, CippClient, add_update_body, azure_config_pending, canonical_ranges, classify_denial,
    client_rows, find_client, only_mcp_warnings, plan_ranges, public_client, read_ranges, result_problems)
from ansible_collections.msp.conditional_access.plugins.module_utils._module import InvalidOption, ModuleError

ME = "11111111-1111-4111-8111-111111111111"
RMM = "22222222-2222-4222-8222-222222222222"


def row(client_id=RMM, ranges=("Any",), **extra):
    return dict({"ClientId": client_id, "AppName": "RMM integration", "Role": "readonly", "IPRange": list(ranges),
                 "Enabled": True, "MCPAllowed": False}, **extra)


def params(ranges, **extra):
    return dict({"allowed_ip_ranges": list(ranges), "allow_any_ip": False, "controller_ip": None, "force": False}, **extra)


def test_ranges_are_canonical_sets_ipv6_exploded_for_cipps_regex():
    assert canonical_ranges([" 203.0.113.10", "203.0.113.0/24", "203.0.113.10/32", "2001:db8:10::/48", "198.51.100.7/24"]) \
        == ["198.51.100.0/24", "203.0.113.0/24", "203.0.113.10/32", "2001:0db8:0010:0000:0000:0000:0000:0000/48"]
    assert canonical_ranges(["::1"]) == ["0000:0000:0000:0000:0000:0000:0000:0001/128"]


@pytest.mark.parametrize("entry", ["office", "Any", "203.0.113.300", "1.2.3.4/33", "2001:db8::/129", "fe80::1%eth0", ""])
def test_invalid_entry_names_option_and_value(entry):
    with pytest.raises(InvalidOption) as err:
        canonical_ranges(["203.0.113.0/24", entry])
    assert err.value.option == "allowed_ip_ranges" and repr(entry) in str(err.value)


@pytest.mark.parametrize("entry", ["0.0.0.0/0", "::/0"])
def test_whole_address_family_needs_allow_any_ip(entry):
    with pytest.raises(InvalidOption, match="allow_any_ip"):
        canonical_ranges([entry])
    assert len(canonical_ranges([entry], allow_any_ip=True)) == 1


@pytest.mark.parametrize("listed, kind, ranges", [
    (["Any"], ANY_IP, []),
    (None, ANY_IP, []),
    ([], DENY_ALL, []),  # a literal "[]" row before CyberDrain/CIPP PR #472
    (["203.0.113.10"], RESTRICTED, ["203.0.113.10/32"]),
    (["2001:0db8:0010:0000:0000:0000:0000:0000/48", "203.0.113.7/24"], RESTRICTED,
     ["203.0.113.0/24", "2001:0db8:0010:0000:0000:0000:0000:0000/48"]),
    (["999.1.1.1/99", "203.0.113.0/24"], RESTRICTED, ["203.0.113.0/24", "999.1.1.1/99"]),  # kept as stored: never equal
])
def test_list_ranges_decoded(listed, kind, ranges):
    assert read_ranges({"IPRange": listed}) == (kind, ranges)


def test_client_rows_skip_the_stray_any_and_accept_an_empty_table():
    assert client_rows(None) == []
    assert [r["ClientId"] for r in client_rows({"Results": ["Any", row(ranges=[]), row(ME)]})] == [RMM, ME]
    with pytest.raises(ModuleError, match="not a client list"):
        client_rows({"Results": "Invalid action"})


@pytest.mark.parametrize("answer, problems", [
    (["API client updated"], []),
    ({"Results": ["API client updated"]}, []),
    (["API client updated", {"resultText": "'2001:db8::/32' is not a valid IP address or CIDR range.", "state": "warning"}],
     ["'2001:db8::/32' is not a valid IP address or CIDR range."]),
    ({"Results": [{"resultText": "Could not modify App Registrations. Error: x", "state": "error",
                   "retryAvailable": True}]}, ["Could not modify App Registrations. Error: x"]),
    ([{"resultText": "You do not have sufficient permissions", "state": "Error"}], ["You do not have sufficient permissions"]),
    ({"Results": "Failed to save allowed API clients to Azure", "Error": {"message": "x"}},
     ["Failed to save allowed API clients to Azure"]),
    ({"Results": {"Enabled": "Could not get API clients", "Error": {"m": 1}}}, ["Could not get API clients"]),
    ({"Results": "API clients saved to Azure"}, []),
    ({"Results": "Invalid action"}, ["Invalid action"]),
])
def test_problems_in_http_200_answers(answer, problems):
    assert result_problems(answer) == problems


def test_find_by_id_any_case_or_exact_name_fail_closed():
    rows = [row(), row(ME, AppName="Ansible controller"), row("33333333-3333-4333-8333-333333333333", AppName="Dup"),
            row("44444444-4444-4444-8444-444444444444", AppName="Dup")]
    assert find_client(rows, RMM.upper())["AppName"] == "RMM integration"
    assert find_client(rows, "Ansible controller")["ClientId"] == ME
    with pytest.raises(InvalidOption, match="2 CIPP-API clients have this name"):
        find_client(rows, "Dup")
    with pytest.raises(InvalidOption, match="no CIPP-API client.*RMM integration"):
        find_client(rows, "rmm integration")


def test_plan_compares_sets_of_networks():
    stored = row(ranges=["203.0.113.0/24", "2001:0db8:0010:0000:0000:0000:0000:0000/48"])
    assert plan_ranges(stored, params(["2001:db8:10::/48", "203.0.113.9/24", "203.0.113.0/24"]), ME)["changed"] is False
    plan = plan_ranges(stored, params(["203.0.113.0/24"]), ME)
    assert plan["changed"] is True and plan["after"] == ["203.0.113.0/24"]


def test_plan_empty_list_refused_unless_any_ip_allowed_and_deny_all_is_not_any():
    with pytest.raises(InvalidOption, match="allow_any_ip=true"):
        plan_ranges(row(), params([]), ME)
    assert plan_ranges(row(), params([], allow_any_ip=True), ME)["changed"] is False
    # a stored "[]" refuses everything: asking for Any must rewrite it
    assert plan_ranges(row(ranges=[]), params([], allow_any_ip=True), ME)["changed"] is True


def test_plan_self_lockout_guard():
    mine = row(ME, ranges=["203.0.113.10/32"])
    with pytest.raises(InvalidOption, match=r"lock this controller \(203.0.113.10\)"):
        plan_ranges(mine, params(["198.51.100.0/24"], controller_ip="203.0.113.10"), ME.upper())
    assert plan_ranges(mine, params(["203.0.113.0/24"], controller_ip="203.0.113.10"), ME)["locks_out_controller"] is False
    forced = plan_ranges(mine, params(["198.51.100.0/24"], controller_ip="203.0.113.10", force=True), ME)
    assert forced["locks_out_controller"] is True
    # the controller's address unknown: its own client is not changed unless forced
    with pytest.raises(InvalidOption, match=r"controller_ip=None: 'RMM integration' is this controller's own API client"):
        plan_ranges(mine, params(["198.51.100.0/24"]), ME)
    assert plan_ranges(mine, params(["198.51.100.0/24"], force=True), ME)["locks_out_controller"] is True
    assert plan_ranges(mine, params(["203.0.113.10/32"]), ME)["changed"] is False  # nothing to change: no refusal
    # another client: no guard
    assert plan_ranges(row(), params(["198.51.100.0/24"], controller_ip="203.0.113.10"), ME)["warnings"] == []
    with pytest.raises(InvalidOption, match="controller_ip='office'"):
        plan_ranges(mine, params(["198.51.100.0/24"], controller_ip="office"), ME)


def test_add_update_body_replaces_all_four_fields_with_current_values():
    body = add_update_body(row(Role="editor", MCPAllowed=True), ["203.0.113.0/24"])
    assert body == {"ClientId": RMM, "Role": {"label": "editor", "value": "editor"},
                    "IPRange": [{"label": "203.0.113.0/24", "value": "203.0.113.0/24"}], "Enabled": True, "MCPAllowed": True}
    assert "Role" not in add_update_body(row(Role=None), [])  # CIPP stores "" either way
    # sent back as listed, even a legacy string (which SaveToAzure's "Enabled eq true" does not count)
    assert add_update_body(row(Enabled="true"), [])["Enabled"] == "true"
    assert add_update_body(row(Enabled=None, MCPAllowed=None), [])["Enabled"] is False


def test_save_pending_is_the_uis_rule():
    rows = [row(), row(ME), row("33333333-3333-4333-8333-333333333333", Enabled=False)]
    assert azure_config_pending(rows, {"ClientIDs": [ME.upper(), RMM]}) is False
    assert azure_config_pending(rows, {"ClientIDs": [ME]}) is True
    assert azure_config_pending(rows, {"ClientIDs": [ME, RMM, "33333333-3333-4333-8333-333333333333"]}) is True


def test_public_client_has_no_secret_fields_and_flags():
    out = public_client(row(ranges=[], ClientSecret="s3cr3t"), saved_ids={RMM})
    assert "s3cr3t" not in str(out) and out["denies_all"] is True and out["unrestricted"] is False
    assert out["saved_to_azure"] is True and public_client(row())["unrestricted"] is True


@pytest.mark.parametrize("text, kind", [
    ("Access to this CIPP API endpoint is not allowed, the API Client does not have the required permission", "ip_blocked"),
    ("Access to this CIPP API endpoint is not allowed, the 'readonly' base role does not have the required permission: "
     "CIPP.Extension.ReadWrite", "role"),
    ("Access to this CIPP API endpoint is not allowed, you do not have the required permission: CIPP.Extension.ReadWrite",
     "role"),
    ("Access to this CIPP API endpoint is not allowed, the custom role 'x' has blocked this endpoint: ExecApiClient", "role"),
    ("Your CIPP subscription has ended. Access to this instance is no longer available.", "subscription"),
    ("something else", "unknown"),
])
def test_403_texts_classified(text, kind):
    assert classify_denial(text)[0] == kind


def test_only_the_mcp_warning_is_benign():
    assert only_mcp_warnings(["Client saved, but MCP app configuration failed: Forbidden"])
    assert not only_mcp_warnings([])
    assert not only_mcp_warnings(["Client saved, but MCP app configuration failed: x", "'a' is not a valid IP address"])


class Restarting(CippClient):
    """A CippClient whose answers are scripted statuses (None: no connection) and whose clock is the sleeps."""

    def __init__(self, statuses):
        self.statuses, self.slept, self.calls = list(statuses), [], 0

    def _send(self, method, endpoint, params=None, json_body=None):
        self.calls += 1
        status = self.statuses.pop(0) if self.statuses else 200
        if status != 200:
            raise ModuleError("CIPP-API GET me failed: HTTP %s" % status, **({} if status is None else {"status": status}))
        return {}


def test_wait_until_answering_is_bounded():
    client = Restarting([502, None, 503, 200])
    assert client.wait_until_answering(60, sleep=client.slept.append, clock=lambda: sum(client.slept)) == 7.0
    assert client.slept == [1.0, 2.0, 4.0] and client.calls == 4
    forbidden = Restarting([503, 403])  # an answer, even a refusal, ends the wait
    assert forbidden.wait_until_answering(60, sleep=forbidden.slept.append, clock=lambda: sum(forbidden.slept)) == 1.0
    down = Restarting([503] * 50)
    with pytest.raises(ModuleError, match="did not answer within 20 s after Save Azure Configuration"):
        down.wait_until_answering(20, sleep=down.slept.append, clock=lambda: sum(down.slept))
    assert sum(down.slept) <= 20
