"""Issue 16 and issue 10 Part C against the CIPP-API sandbox: the restart after Save Azure Configuration, AddUpdate's
MCP warning, CIPP's 403 texts, custom roles, audiences, the caller's own client and a duplicate in the Part C list.

Outcomes are read from the sandbox: stored rows, its request log (status per call) and its write counter.
"""

import json

import pytest

from conftest import load_fixture

RMM = "RMM integration"
PSA = "PSA integration"
CONTROLLER = "Ansible controller"
MODULE = "msp.conditional_access.cipp_api_client_ips"


def tenant():
    return load_fixture()["cipp"]["tenant_id"]


def play(*tasks, roles=()):
    return json.dumps([{"hosts": "localhost", "gather_facts": False,
                        "module_defaults": {"group/msp.conditional_access.cipp": {"tenant_id": "{{ tenant }}"}},
                        "roles": list(roles),
                        "tasks": [{"name": name, MODULE: args, "ignore_errors": True} for name, args in tasks]}], indent=1)


@pytest.fixture
def run(sandbox_reset, run_playbook):
    def go(*tasks, **kw):
        return run_playbook(play(*tasks, roles=kw.pop("roles", ())), extra_vars=dict({"tenant": tenant()},
                                                                                      **kw.pop("extra_vars", {})), **kw)
    return go


def calls(sandbox, since=0):
    return [e for e in sandbox.client.log(since=since) if e["api"] == "cipp"]


def row(sandbox, name):
    return [c for c in sandbox.client.cipp_state()["clients"] if c["AppName"] == name][0]


def test_save_restarts_cipp_and_the_next_task_waits_for_it(sandbox, run):
    sandbox.client.set_cipp(faults={"restarting": 3}, clients=[dict(row(sandbox, PSA), Enabled=True)])
    result = run(("save", {"api_client": PSA, "allowed_ip_ranges": ["198.51.100.20/32"]}),
                 ("next", {"api_client": RMM, "allowed_ip_ranges": ["203.0.113.0/24"]}))
    saved = result.task("save")
    assert saved.get("failed") is not True and saved["saved_azure_config"] is True, result.stdout[-3000:]
    assert 1 <= saved["restart_wait_seconds"] <= 15
    assert any("restarted CIPP" in w for w in saved["warnings"])
    assert result.task("next").get("failed") is not True and row(sandbox, RMM)["IPRange"] == '"203.0.113.0/24"'
    log = calls(sandbox)
    save_at = next(i for i, e in enumerate(log) if (e.get("query") or {}).get("Action") == "SaveToAzure")
    down = [e for e in log[save_at + 1:] if e["status"] in (502, 503)]
    assert down and all(e["path"] == "/api/me" for e in down)  # only the probes met the restart


def test_restart_wait_is_bounded(sandbox, run):
    sandbox.client.set_cipp(faults={"restarting": 60}, clients=[dict(row(sandbox, PSA), Enabled=True)])
    result = run(("save", {"api_client": PSA, "allowed_ip_ranges": ["198.51.100.20/32"], "restart_timeout": 3}))
    assert result.task("save")["failed"] is True
    assert "CIPP did not answer within 3 s after Save Azure Configuration" in result.task("save")["msg"]


def test_mcp_warning_after_the_write_is_a_warning_when_the_ranges_were_stored(sandbox, run):
    sandbox.client.set_cipp(clients=[dict(row(sandbox, RMM), MCPAllowed=True)])
    result = run(("mcp", {"api_client": RMM, "allowed_ip_ranges": ["203.0.113.0/24"]}))
    out = result.task("mcp")
    assert out.get("failed") is not True and out["changed"] is True, result.stdout[-3000:]
    assert any("but warned: Client saved, but MCP app configuration failed" in w for w in out["warnings"])
    assert row(sandbox, RMM)["IPRange"] == '"203.0.113.0/24"' and row(sandbox, RMM)["MCPAllowed"] is True
    # the same warning with a store that lost a range: a failure that says what CIPP holds
    sandbox.client.set_cipp(faults={"store_drops_last_range": True})
    lost = run(("mcp", {"api_client": RMM, "allowed_ip_ranges": ["203.0.113.0/24", "198.51.100.0/24"]})).task("mcp")
    assert lost["failed"] is True and "did not apply cleanly (CIPP holds ['198.51.100.0/24'])" in lost["msg"]
    assert "MCP app configuration failed" in lost["msg"]
    # MCP configured fine: no warning at all
    sandbox.client.set_cipp(faults={"store_drops_last_range": False, "mcp_config_fails": False})
    clean = run(("mcp", {"api_client": RMM, "allowed_ip_ranges": ["192.0.2.0/24"]})).task("mcp")
    assert clean.get("failed") is not True and not [w for w in clean.get("warnings", []) if "MCP" in w]


def test_role_denial_says_it_is_the_role_and_a_custom_role_with_the_permission_passes(sandbox, run):
    me = row(sandbox, CONTROLLER)
    sandbox.client.set_cipp(clients=[dict(me, Role="readonly")])
    denied = run(("cipp", {"api_client": RMM, "allowed_ip_ranges": ["203.0.113.0/24"]})).task("cipp")
    assert denied["failed"] is True and "HTTP 403, the API client's CIPP base role lacks the permission" in denied["msg"]
    assert "'readonly' base role does not have the required permission: CIPP.Extension.ReadWrite" in denied["msg"]
    roles = {"ca-automation": {"Permissions": ["CIPP.Extension.ReadWrite"]}}
    sandbox.client.set_cipp(custom_roles=roles, clients=[dict(me, Role="ca-automation"),
                                                         dict(row(sandbox, PSA), Role="ca-automation")])
    passed = run(("cipp", {"api_client": PSA, "allowed_ip_ranges": ["198.51.100.30/32"]})).task("cipp")
    assert passed.get("failed") is not True and passed["changed"] is True
    assert row(sandbox, PSA)["IPRange"] == '"198.51.100.30/32"' and row(sandbox, PSA)["Role"] == "ca-automation"


def test_bare_client_id_audience_for_the_registration_client(sandbox, run):
    me = sandbox.env["AZURE_CLIENT_ID"]
    bare = run(("cipp", {"api_client": RMM, "allowed_ip_ranges": ["203.0.113.0/24"], "cipp_api_scope": me + "/.default"}))
    assert bare.task("cipp").get("failed") is not True, bare.stdout[-3000:]
    sandbox.client.set_cipp(faults={"bare_audience": "none"})
    refused = run(("cipp", {"api_client": RMM, "allowed_ip_ranges": ["203.0.113.0/24"],
                            "cipp_api_scope": me + "/.default"})).task("cipp")
    assert refused["failed"] is True and "HTTP 401" in refused["msg"]


def test_save_never_drops_the_callers_own_client(sandbox, run):
    # someone disabled the controller's client in CIPP's UI: a save would take it out of EasyAuth
    sandbox.client.set_cipp(clients=[dict(row(sandbox, CONTROLLER), Enabled=False)])
    before = len([e for e in calls(sandbox) if e["write"]])
    result = run(("auto", {"api_client": RMM, "allowed_ip_ranges": ["203.0.113.0/24"]}),
                 ("always", {"api_client": RMM, "allowed_ip_ranges": ["203.0.113.0/24"], "save_azure_config": "always"}))
    for name in ("auto", "always"):
        out = result.task(name)
        assert out["failed"] is True and out["msg"].startswith("save_azure_config='%s': Save Azure Configuration would "
                                                               "drop this controller's own API client" % name)
    assert len([e for e in calls(sandbox) if e["write"]]) == before and row(sandbox, RMM)["IPRange"] == ""
    assert sandbox.env["AZURE_CLIENT_ID"] in sandbox.client.cipp_state()["saved_client_ids"]
    never = run(("never", {"api_client": RMM, "allowed_ip_ranges": ["203.0.113.0/24"], "save_azure_config": "never"}))
    assert never.task("never").get("failed") is not True and row(sandbox, RMM)["IPRange"] == '"203.0.113.0/24"'


def test_no_identifier_uri_is_a_clean_login_error(sandbox, run, tmp_path):
    fixture = load_fixture()
    fixture["apps"][0]["identifier_uris"] = []
    path = tmp_path / "fixture.json"
    path.write_text(json.dumps(fixture))
    sandbox.client.reset(fixture=str(path))
    try:
        out = run(("cipp", {"api_client": RMM, "allowed_ip_ranges": ["203.0.113.0/24"]})).task("cipp")
        assert out["failed"] is True and "AADSTS500011" in out["msg"] and "Traceback" not in out["msg"]
        assert sandbox.env["AZURE_CLIENT_SECRET"] not in json.dumps(out)
        assert [e for e in calls(sandbox) if e["write"]] == []
    finally:
        sandbox.client.reset()


def test_duplicate_client_in_the_part_c_list_is_refused_before_any_write(sandbox, run):
    clients = [{"client": RMM, "ip_ranges": ["203.0.113.0/24"]}, {"client": PSA, "ip_ranges": ["198.51.100.0/24"]},
               {"client": " rmm INTEGRATION ", "ip_ranges": ["192.0.2.0/24"]}]
    result = run(roles=["msp.conditional_access.cipp_api_allowlist"],
                 extra_vars={"cipp_api_allowlist_clients": clients, "cipp_api_allowlist_tenant_id": tenant()})
    assert result.rc != 0
    assert 'client="RMM integration" is listed more than once' in result.stdout.replace("\\", ""), result.stdout[-3000:]
    assert [e for e in calls(sandbox) if e["write"]] == [] and calls(sandbox) == []
