"""cipp_api_client_ips(_info) against the CIPP-API sandbox (cipp-api.md section 4), through real ansible-playbook runs.

Outcomes are read from the sandbox: its stored rows (PowerShell encoding), its request log and its write counter.
"""

import json

import pytest
import yaml

from conftest import REPO, load_fixture

RMM = "RMM integration"
PSA = "PSA integration"
MODULE = "msp.conditional_access.cipp_api_client_ips"
INFO = "msp.conditional_access.cipp_api_client_ips_info"


def msp_tenant():
    return load_fixture()["cipp"]["tenant_id"]


def play(args, module=MODULE):
    return json.dumps([{"hosts": "localhost", "gather_facts": False,
                        "module_defaults": {"group/msp.conditional_access.cipp": {"tenant_id": "{{ tenant }}"}},
                        "tasks": [{"name": "cipp", module: args}]}], indent=1)


def cipp_calls(sandbox, action=None):
    entries = [e for e in sandbox.client.log() if e["api"] == "cipp"]
    return [e for e in entries if action is None or (e.get("query") or {}).get("Action") == action]


def cipp_writes(sandbox):
    return [e for e in cipp_calls(sandbox) if e["write"]]


def row(sandbox, name):
    return [c for c in sandbox.client.cipp_state()["clients"] if c["AppName"] == name][0]


def stored(sandbox, name):
    """The ranges as CIPP's table holds them ("" = Any, a bare JSON string for one entry)."""
    return row(sandbox, name)["IPRange"]


@pytest.fixture
def run(sandbox_reset, run_playbook):
    def go(args, module=MODULE, **kw):
        return run_playbook(play(args, module), extra_vars={"tenant": msp_tenant()}, **kw)
    return go


def test_set_check_mode_idempotent_ipv6(sandbox, run):
    ranges = ["203.0.113.10", "203.0.113.0/24", "2001:db8:10::/48"]
    checked = run({"api_client": RMM, "allowed_ip_ranges": ranges}, check=True)
    assert checked.rc == 0 and checked.task("cipp")["changed"] is True
    diff = checked.task("cipp")["diff"]
    assert diff["before"] == {"allowed_ip_ranges": ["Any"]} and "RMM integration" in diff["before_header"]
    assert cipp_writes(sandbox) == [] and stored(sandbox, RMM) == ""

    applied = run({"api_client": RMM, "allowed_ip_ranges": ranges})
    assert applied.rc == 0 and applied.task("cipp")["changed"] is True, applied.stdout[-2000:]
    [write] = cipp_calls(sandbox, "AddUpdate")
    body = write["body"]
    expected = ["203.0.113.0/24", "203.0.113.10/32", "2001:0db8:0010:0000:0000:0000:0000:0000/48"]
    assert body["IPRange"] == [{"label": v, "value": v} for v in expected]
    assert body["Role"] == {"label": "readonly", "value": "readonly"} and body["Enabled"] is True
    assert body["MCPAllowed"] is False and not {"CIPPAPI", "AppName"} & set(body)
    assert json.loads(stored(sandbox, RMM)) == expected
    assert row(sandbox, RMM)["Role"] == "readonly" and row(sandbox, RMM)["Enabled"] is True
    assert cipp_calls(sandbox, "SaveToAzure") == []  # the enabled set did not change
    assert not [e for e in cipp_calls(sandbox) if e["status"] >= 400]  # no X-CIPP-Version / duplicate-key 500s

    again = run({"api_client": RMM, "allowed_ip_ranges": ["2001:0db8:0010::/48", "203.0.113.0/24", "203.0.113.10/32"]})
    assert again.rc == 0 and again.task("cipp")["changed"] is False
    assert len(cipp_calls(sandbox, "AddUpdate")) == 1


def test_change_one_range_keeps_role_enabled_mcp_and_single_entry_encoding(sandbox, run):
    ctrl = row(sandbox, "Ansible controller")
    sandbox.client.set_cipp(clients=[dict(row(sandbox, PSA), MCPAllowed=True)])
    result = run({"api_client": PSA, "allowed_ip_ranges": ["198.51.100.30"]})
    assert result.rc == 0 and result.task("cipp")["changed"] is True
    assert result.task("cipp")["diff"]["before"] == {"allowed_ip_ranges": ["198.51.100.20/32"]}
    assert stored(sandbox, PSA) == '"198.51.100.30/32"'  # one entry: a bare JSON string, as PowerShell stores it
    psa = row(sandbox, PSA)
    assert (psa["Role"], psa["Enabled"], psa["MCPAllowed"]) == ("editor", False, True)
    assert row(sandbox, "Ansible controller") == ctrl


@pytest.mark.parametrize("args, fragment", [
    ({"allowed_ip_ranges": ["203.0.113.0/24", "office"]}, "allowed_ip_ranges='office'"),
    ({"allowed_ip_ranges": ["2001:db8::/32", "fe80::1%eth0"]}, "allowed_ip_ranges='fe80::1%eth0'"),
    ({"allowed_ip_ranges": []}, "allow_any_ip=true"),
    ({"allowed_ip_ranges": ["0.0.0.0/0"]}, "allow_any_ip=true"),
    ({"api_client": "No such client", "allowed_ip_ranges": ["203.0.113.0/24"]}, "api_client='No such client'"),
])
def test_bad_input_sends_nothing(sandbox, run, args, fragment):
    result = run(dict({"api_client": RMM}, **args))
    assert result.rc != 0 and fragment in result.task("cipp")["msg"]
    assert cipp_writes(sandbox) == [] and sandbox.client.counters()["writes"].get(msp_tenant(), 0) == 0


def test_ambiguous_name_refused(sandbox, run):
    twin = dict(row(sandbox, PSA), ClientId="44444444-4444-4444-8444-444444444444", AppName=RMM)
    sandbox.client.set_cipp(clients=[twin])
    result = run({"api_client": RMM, "allowed_ip_ranges": ["203.0.113.0/24"]})
    assert result.rc != 0 and "2 CIPP-API clients have this name" in result.task("cipp")["msg"]
    assert cipp_writes(sandbox) == []


def test_empty_list_with_allow_any_ip_clears_restriction(sandbox, run):
    result = run({"api_client": PSA, "allowed_ip_ranges": [], "allow_any_ip": True})
    assert result.rc == 0 and result.task("cipp")["changed"] is True
    assert stored(sandbox, PSA) == "" and result.task("cipp")["api_client"]["unrestricted"] is True


def test_self_lockout_refused_unless_forced(sandbox, run):
    me = sandbox.env["AZURE_CLIENT_ID"]
    refused = run({"api_client": me, "allowed_ip_ranges": ["198.51.100.0/24"], "controller_ip": "127.0.0.1"})
    assert refused.rc != 0 and "lock this controller" in refused.task("cipp")["msg"]
    assert cipp_writes(sandbox) == []
    kept = run({"api_client": me, "allowed_ip_ranges": ["127.0.0.1/32", "198.51.100.0/24"], "controller_ip": "127.0.0.1"})
    assert kept.rc == 0 and kept.task("cipp")["changed"] is True
    writes = len(cipp_writes(sandbox))
    unguarded = run({"api_client": "Ansible controller", "allowed_ip_ranges": ["127.0.0.1/32"]})
    assert unguarded.rc != 0 and unguarded.task("cipp")["msg"].startswith(
        "controller_ip=None: 'Ansible controller' is this controller's own API client")
    assert len(cipp_writes(sandbox)) == writes
    # forced: written, and the read-back that CIPP now refuses (403) is a warning, not a failure
    forced = run({"api_client": me, "allowed_ip_ranges": ["198.51.100.0/24"], "controller_ip": "127.0.0.1", "force": True})
    assert forced.rc == 0 and forced.task("cipp")["changed"] is True, forced.stdout[-2000:]
    assert any("outside the client's Allowed IP Ranges" in w for w in forced.task("cipp")["warnings"])
    assert stored(sandbox, "Ansible controller") == '"198.51.100.0/24"'
    locked = run({}, module=INFO)
    assert locked.rc != 0 and "HTTP 403, CIPP refused this API client's address: the caller is outside the client's " \
        "Allowed IP Ranges" in locked.task("cipp")["msg"]


def test_save_azure_config_only_when_enabled_set_differs(sandbox, run):
    psa = row(sandbox, PSA)
    sandbox.client.set_cipp(clients=[dict(psa, Enabled=True)])
    checked = run({"api_client": PSA, "allowed_ip_ranges": ["198.51.100.20/32"]}, check=True)
    assert checked.task("cipp")["changed"] is True and checked.task("cipp")["saved_azure_config"] is True
    assert cipp_writes(sandbox) == []
    result = run({"api_client": PSA, "allowed_ip_ranges": ["198.51.100.20/32"]})
    assert result.rc == 0 and result.task("cipp")["saved_azure_config"] is True
    assert len(cipp_calls(sandbox, "SaveToAzure")) == 1 and cipp_calls(sandbox, "AddUpdate") == []
    assert psa["ClientId"] in sandbox.client.cipp_state()["saved_client_ids"]
    again = run({"api_client": PSA, "allowed_ip_ranges": ["198.51.100.20/32"]})
    assert again.task("cipp")["changed"] is False and len(cipp_calls(sandbox, "SaveToAzure")) == 1
    reads = len(cipp_calls(sandbox, "GetAzureConfiguration"))
    never = run({"api_client": RMM, "allowed_ip_ranges": ["203.0.113.0/24"], "save_azure_config": "never"})
    assert never.rc == 0 and len(cipp_calls(sandbox, "GetAzureConfiguration")) == reads
    always = run({"api_client": RMM, "allowed_ip_ranges": ["203.0.113.0/24"], "save_azure_config": "always"})
    assert always.task("cipp")["changed"] is True and len(cipp_calls(sandbox, "SaveToAzure")) == 2


def test_save_and_configuration_failures_surface_cipps_text(sandbox, run):
    sandbox.client.set_cipp(faults={"save_fails": True})
    failed = run({"api_client": RMM, "allowed_ip_ranges": ["203.0.113.0/24"], "save_azure_config": "always"})
    assert failed.rc != 0 and "Failed to save allowed API clients to Azure" in failed.task("cipp")["msg"]
    sandbox.client.set_cipp(faults={"save_fails": False, "azure_config_fails": True})
    # an IP change needs no save: an unreadable Azure configuration is a warning, not a failure of the change
    changed = run({"api_client": RMM, "allowed_ip_ranges": ["198.51.100.0/24"]})
    assert changed.rc == 0 and changed.task("cipp")["changed"] is True, changed.stdout[-2000:]
    assert changed.task("cipp")["saved_azure_config"] is False and cipp_calls(sandbox, "SaveToAzure")[1:] == []
    assert any("Could not get API clients" in w for w in changed.task("cipp")["warnings"])
    assert stored(sandbox, RMM) == '"198.51.100.0/24"'
    same = run({"api_client": RMM, "allowed_ip_ranges": ["198.51.100.0/24"]})
    assert same.rc == 0 and same.task("cipp")["changed"] is False
    info = run({}, module=INFO)
    assert info.rc == 0 and info.task("cipp")["azure_config_pending"] is None


def test_error_body_surfaced_verbatim_and_read_back_mismatch(sandbox, run):
    sandbox.client.set_cipp(faults={"api_config_fails": True})
    failed = run({"api_client": RMM, "allowed_ip_ranges": ["203.0.113.0/24"]})
    assert failed.rc != 0
    assert "Could not modify App Registrations. Check the CIPP documentation for API requirements. " \
           "Error: Insufficient permissions to create API App." in failed.task("cipp")["msg"]
    assert stored(sandbox, RMM) == ""
    sandbox.client.set_cipp(faults={"api_config_fails": False, "store_drops_last_range": True})
    mismatch = run({"api_client": RMM, "allowed_ip_ranges": ["203.0.113.0/24", "198.51.100.0/24"]})
    assert mismatch.rc != 0 and "not the requested" in mismatch.task("cipp")["msg"]


def test_rbac_denial_from_addupdate_is_a_failure(sandbox, run):
    sandbox.client.set_cipp(clients=[dict(row(sandbox, PSA), Role="superadmin")])
    denied = run({"api_client": PSA, "allowed_ip_ranges": ["198.51.100.0/24"]})
    assert denied.rc != 0 and "You do not have sufficient permissions to manage an API client with the 'superadmin' role" \
        in denied.task("cipp")["msg"]
    assert stored(sandbox, PSA) == '"198.51.100.20/32"'


def test_deny_all_row_and_stray_any(sandbox, run):
    """A row holding "[]" (CIPP-API before CyberDrain/CIPP PR #472) refuses everything and adds a stray 'Any' to List."""
    sandbox.client.set_cipp(clients=[dict(row(sandbox, PSA), IPRange="[]")])
    info = run({}, module=INFO)
    assert info.rc == 0, info.stdout[-2000:]
    clients = {c["app_name"]: c for c in info.task("cipp")["api_clients"]}
    assert len(clients) == 3 and clients[PSA]["denies_all"] is True and clients[PSA]["unrestricted"] is False
    fixed = run({"api_client": PSA, "allowed_ip_ranges": [], "allow_any_ip": True})
    assert fixed.rc == 0 and fixed.task("cipp")["changed"] is True and stored(sandbox, PSA) == ""
    assert fixed.task("cipp")["diff"]["before"] == {"allowed_ip_ranges": []}


def test_examples_run_as_written(sandbox, run, run_playbook):
    """Part C of the seed, as the module's EXAMPLES write it, from the controller's public address 203.0.113.10."""
    namespace = {}
    source = (REPO / "plugins/modules/cipp_api_client_ips.py").read_text()
    exec(compile(source.split("from ansible_collections")[0], "cipp_api_client_ips", "exec"), namespace)  # noqa: S102
    tasks = yaml.safe_load(namespace["EXAMPLES"])
    # the controller calls from its public address; someone enabled PSA in CIPP's UI without saving to Azure
    sandbox.client.set_cipp(faults={"forwarded_for": "203.0.113.10"}, clients=[dict(row(sandbox, PSA), Enabled=True)])
    playbook = json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}], indent=1)
    result = run_playbook(playbook, extra_vars={"msp_tenant_id": msp_tenant()})
    assert result.rc == 0, result.stdout[-3000:]
    office = ["203.0.113.0/24", "2001:0db8:0010:0000:0000:0000:0000:0000/48"]
    for name in (RMM, PSA, "Ansible controller"):
        assert json.loads(stored(sandbox, name)) == office, name
    assert len(cipp_calls(sandbox, "AddUpdate")) == 3
    assert len(cipp_calls(sandbox, "SaveToAzure")) == 1  # step 5, once: the saved list is then current
    writes = len(cipp_writes(sandbox))
    again = run_playbook(playbook, extra_vars={"msp_tenant_id": msp_tenant()})
    assert again.rc == 0 and again.changed == 0 and len(cipp_writes(sandbox)) == writes


def test_info_lists_clients_without_secrets(sandbox, run):
    info = run({}, module=INFO)
    assert info.rc == 0 and info.task("cipp")["changed"] is False
    out = info.task("cipp")
    clients = {c["app_name"]: c for c in out["api_clients"]}
    assert clients[RMM]["unrestricted"] is True and clients[PSA]["allowed_ip_ranges"] == ["198.51.100.20/32"]
    assert clients[PSA]["enabled"] is False and clients[PSA]["role"] == "editor" and clients[PSA]["saved_to_azure"] is False
    assert out["azure_config_pending"] is False
    assert sandbox.env["AZURE_CLIENT_SECRET"] not in json.dumps(out) and cipp_writes(sandbox) == []
