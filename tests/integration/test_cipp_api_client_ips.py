"""cipp_api_client_ips against the CIPP-API sandbox (cipp-api.md section 4), through real ansible-playbook runs."""

import json

import pytest

from conftest import msp_tenant_id

RMM = "RMM integration"


def play(args, module="msp.conditional_access.cipp_api_client_ips"):
    return json.dumps([{"hosts": "localhost", "gather_facts": False,
                        "module_defaults": {"group/msp.conditional_access.cipp": {"tenant_id": "{{ tenant }}"}},
                        "tasks": [{"name": "cipp", module: args}]}], indent=1)


def cipp_calls(sandbox, action=None):
    entries = [e for e in sandbox.client.log() if e["api"] == "cipp"]
    return [e for e in entries if action is None or (e.get("query") or {}).get("Action") == action]


def row(sandbox, name):
    return [c for c in sandbox.client.cipp_state()["clients"] if c["AppName"] == name][0]


@pytest.fixture
def run(sandbox_reset, run_playbook):
    tenant = msp_tenant_id()

    def go(args, **kw):
        return run_playbook(play(args, kw.pop("module", "msp.conditional_access.cipp_api_client_ips")),
                            extra_vars={"tenant": tenant}, **kw)
    return go


def test_set_checkmode_idempotent_ipv6(sandbox, run):
    ranges = ["203.0.113.10", "203.0.113.0/24", "2001:db8:10::/48"]
    checked = run({"api_client": RMM, "allowed_ip_ranges": ranges}, check=True)
    assert checked.rc == 0 and checked.task("cipp")["changed"] is True
    assert checked.task("cipp")["diff"]["before"] == {"allowed_ip_ranges": ["Any"]}
    assert cipp_calls(sandbox, "AddUpdate") == [] and row(sandbox, RMM)["IPRange"] == ""

    applied = run({"api_client": RMM, "allowed_ip_ranges": ranges})
    assert applied.rc == 0 and applied.task("cipp")["changed"] is True, applied.stdout[-2000:]
    [write] = cipp_calls(sandbox, "AddUpdate")
    body = write["body"]
    assert body["IPRange"] == [{"label": v, "value": v} for v in
                               ["203.0.113.0/24", "203.0.113.10/32", "2001:0db8:0010:0000:0000:0000:0000:0000/48"]]
    assert body["Role"] == {"label": "readonly", "value": "readonly"} and body["Enabled"] is True
    assert body["MCPAllowed"] is False and not {"CIPPAPI", "AppName"} & set(body)
    stored = json.loads(row(sandbox, RMM)["IPRange"])
    assert len(stored) == 3
    assert cipp_calls(sandbox, "SaveToAzure") == []  # the enabled set did not change

    again = run({"api_client": RMM, "allowed_ip_ranges": ["203.0.113.0/24", "2001:db8:10::/48", "203.0.113.10/32"]})
    assert again.rc == 0 and again.task("cipp")["changed"] is False
    assert len(cipp_calls(sandbox, "AddUpdate")) == 1


@pytest.mark.parametrize("args, fragment", [
    ({"allowed_ip_ranges": ["203.0.113.0/24", "office"]}, "allowed_ip_ranges='office'"),
    ({"allowed_ip_ranges": []}, "allow_any_ip=true"),
    ({"api_client": "No such client", "allowed_ip_ranges": ["203.0.113.0/24"]}, "api_client='No such client'"),
])
def test_bad_input_sends_nothing(sandbox, run, args, fragment):
    result = run(dict({"api_client": RMM}, **args))
    assert result.rc != 0 and fragment in result.task("cipp")["msg"]
    assert cipp_calls(sandbox, "AddUpdate") == []


def test_self_lockout_refused_unless_forced(sandbox, run):
    me = sandbox.env["AZURE_CLIENT_ID"]
    refused = run({"api_client": me, "allowed_ip_ranges": ["198.51.100.0/24"], "controller_ip": "127.0.0.1"})
    assert refused.rc != 0 and "lock this controller" in refused.task("cipp")["msg"]
    assert cipp_calls(sandbox, "AddUpdate") == []
    kept = run({"api_client": me, "allowed_ip_ranges": ["127.0.0.1/32", "198.51.100.0/24"], "controller_ip": "127.0.0.1"})
    assert kept.rc == 0 and kept.task("cipp")["changed"] is True
    # forcing a list without the controller really locks it out: CIPP answers 403, reported as such
    forced = run({"api_client": me, "allowed_ip_ranges": ["198.51.100.0/24"], "controller_ip": "127.0.0.1", "force": True})
    assert forced.rc != 0 and "denied: IP not allowed or missing permission" in forced.task("cipp")["msg"]


def test_save_azure_config_only_when_enabled_set_differs(sandbox, run):
    psa = row(sandbox, "PSA integration")
    sandbox.client.set_cipp(clients=[dict(psa, Enabled=True)])
    result = run({"api_client": "PSA integration", "allowed_ip_ranges": ["198.51.100.20/32"]})
    assert result.rc == 0 and result.task("cipp")["saved_azure_config"] is True
    assert len(cipp_calls(sandbox, "SaveToAzure")) == 1 and cipp_calls(sandbox, "AddUpdate") == []
    assert psa["ClientId"] in sandbox.client.cipp_state()["saved_client_ids"]
    again = run({"api_client": "PSA integration", "allowed_ip_ranges": ["198.51.100.20/32"]})
    assert again.task("cipp")["changed"] is False and len(cipp_calls(sandbox, "SaveToAzure")) == 1


def test_error_body_surfaced_verbatim_and_read_back_mismatch(sandbox, run):
    sandbox.client.set_cipp(faults={"api_config_fails": True})
    failed = run({"api_client": RMM, "allowed_ip_ranges": ["203.0.113.0/24"]})
    assert failed.rc != 0
    assert "Could not modify App Registrations. Check the CIPP documentation for API requirements." in \
        failed.task("cipp")["msg"]
    assert row(sandbox, RMM)["IPRange"] == ""
    sandbox.client.set_cipp(faults={"api_config_fails": False, "store_drops_last_range": True})
    mismatch = run({"api_client": RMM, "allowed_ip_ranges": ["203.0.113.0/24", "198.51.100.0/24"]})
    assert mismatch.rc != 0 and "not the requested" in mismatch.task("cipp")["msg"]


def test_info_and_seed_example(sandbox, run):
    from test_ca_policy import REPO  # noqa: F401  (same repo layout)
    import yaml

    namespace = {}
    source = (REPO / "plugins/modules/cipp_api_client_ips.py").read_text()
    exec(compile(source.split("from ansible_collections")[0], "cipp_api_client_ips", "exec"), namespace)
    example = yaml.safe_load(namespace["EXAMPLES"])[0]["msp.conditional_access.cipp_api_client_ips"]
    example["tenant_id"] = msp_tenant_id()
    assert run(example).rc == 0
    info = run({}, module="msp.conditional_access.cipp_api_client_ips_info")
    clients = {c["app_name"]: c for c in info.task("cipp")["api_clients"]}
    assert clients[RMM]["unrestricted"] is False and clients["PSA integration"]["allowed_ip_ranges"] == ["198.51.100.20/32"]
    assert sandbox.env["AZURE_CLIENT_SECRET"] not in json.dumps(info.task("cipp"))
