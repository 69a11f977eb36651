"""site.yml as a whole: inputs checked before the first write, the MSP tenant failing alone, the run summary and
fail_on_drift. Outcomes are read from the sandbox (per-tenant write log) and the recorded task results."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import BIN, REPO, ansible_env, run_ansible_playbook

INVENTORY = REPO / "inventories" / "sandbox" / "hosts.yml"
SITE = REPO / "playbooks" / "site.yml"
CLIENTS = REPO / "playbooks" / "client_tenants.yml"


@pytest.fixture(scope="module")
def tenants():
    data = json.loads(subprocess.run([str(BIN / "ansible-inventory"), "-i", str(INVENTORY), "--list"],
                                     env=ansible_env(), capture_output=True, text=True, check=True).stdout)
    hostvars = data["_meta"]["hostvars"]
    msp = data["msp"]["hosts"][0]
    return {"msp": msp, "clients": data["clients"]["hosts"],
            "tid": {h: hostvars[h]["tenant_id"] for h in [msp] + data["clients"]["hosts"]}}


def run(sandbox, playbook=SITE, **kwargs):
    return run_ansible_playbook(str(playbook), ansible_env(sandbox.env), inventory=str(INVENTORY), **kwargs)


def failed_messages(result):
    """{host: every failure message of the host, joined}."""
    out = {}
    for r in result.results:
        if r["status"] == "failed":
            out[r["host"]] = (out.get(r["host"], "") + " | " + r["result"].get("msg", "")).strip(" |")
    return out


def test_a_bad_msp_input_stops_only_the_msp_tenant_and_before_its_first_write(sandbox_reset, tenants):
    """`technician_policy_state: enable` (a typo of enabled): the MSP tenant is refused before Step 1 writes,
    the message names technician_policy_state (what the user set), and Part D still runs in every client."""
    sandbox = sandbox_reset
    result = run(sandbox, extra_vars={"technician_policy_state": "enable"})
    assert result.rc != 0
    msp = tenants["msp"]
    assert sandbox.client.writes(tenants["tid"][msp]) == []  # Step 1 did not write either
    message = [r["result"]["msg"] for r in result.results
               if r["host"] == msp and r["status"] == "failed" and "technician" in r["result"].get("msg", "")][0]
    assert "technician_policy_state" in message and "enable" in message, message
    assert "technician_access_policy_state" not in message, message
    # no argument-spec dump with the error
    assert "argument_spec_data" not in result.stdout
    assert "argument_spec_data" not in json.dumps([r for r in result.results if r["status"] == "failed"])
    for host in tenants["clients"]:  # Part D went on
        assert result.stats[host]["failures"] == 0, host
        assert sandbox.client.writes(tenants["tid"][host]), host
    summary = result.task("Summary per tenant")["msg"]
    assert summary[msp][0].startswith("FAILED") and "technician_policy_state" in summary[msp][0]


def test_a_bad_client_input_names_access_mode_and_writes_nothing_anywhere_for_that_tenant(sandbox_reset, tenants):
    sandbox = sandbox_reset
    broken = tenants["clients"][0]
    result = run(sandbox, playbook=CLIENTS, args=["-e", "access_mode=gdpa", "--limit", broken + ",localhost"])
    assert result.rc != 0
    message = failed_messages(result)[broken]
    assert "access_mode" in message and "gdpa" in message and "client_exclusion_mode" not in message, message
    assert sandbox.client.writes(tenants["tid"][broken]) == []


def test_unknown_key_in_a_list_entry_is_named(sandbox_reset, tenants):
    """`ip_range` for `ip_ranges` in cipp_api_allowlist_clients: refused up front, nothing written to the MSP."""
    sandbox = sandbox_reset
    clients = [{"client": "RMM integration", "ip_range": ["203.0.113.10/32"]}]
    result = run(sandbox, check=False, extra_vars={"cipp_api_allowlist_clients": clients},
                 args=["--limit", tenants["msp"]])
    assert result.rc != 0
    message = failed_messages(result)[tenants["msp"]]
    assert "cipp_api_allowlist_clients" in message and "ip_range" in message, message
    assert sum(sandbox.client.counters()["writes"].values()) == 0


def test_summary_prints_when_every_client_failed(sandbox_reset, tenants):
    sandbox = sandbox_reset
    for host in tenants["clients"]:
        sandbox.client.set_faults(tenant=tenants["tid"][host], forbidden=True)
    try:
        result = run(sandbox, playbook=CLIENTS)
    finally:
        sandbox.client.reset()
    assert result.rc != 0
    summary = result.task("Summary per tenant")["msg"]
    assert set(summary) == set(tenants["clients"])
    for host in tenants["clients"]:
        assert summary[host][0].startswith("FAILED") and "403" in summary[host][0], summary[host]
        assert result.stats[host]["failures"] == 1, result.stats[host]


def test_tags_preflight_prints_no_failed_line_for_clients(sandbox_reset, tenants):
    result = run(sandbox_reset, check=True, args=["--tags", "preflight"])
    assert result.rc == 0, result.stdout[-4000:]
    summary = result.task("Summary per tenant")["msg"]
    assert "FAILED" not in json.dumps(summary), summary
    assert all(summary[h] == ["no change"] for h in tenants["clients"]), summary
    assert sum(sandbox_reset.client.counters()["writes"].values()) == 0


def test_fail_on_drift_fails_a_check_job_that_would_change_and_passes_a_settled_one(sandbox_reset, tenants):
    """The scheduled AWX check job: -e fail_on_drift=true --check fails every tenant that would change (with the
    policies named), writes nothing; once applied, the same job passes and (many tenants) lists none of them."""
    sandbox = sandbox_reset
    drift = run(sandbox, playbook=CLIENTS, check=True, extra_vars={"fail_on_drift": True})
    assert drift.rc != 0
    assert sum(sandbox.client.counters()["writes"].values()) == 0
    messages = {r["host"]: r["result"]["msg"] for r in drift.results
                if r["task"] == "Fail the tenant that failed, or drifted (fail_on_drift)" and r["status"] == "failed"}
    assert set(messages) == set(tenants["clients"]), messages
    assert all("would change: Part D policy" in m for m in messages.values()), messages

    applied = run(sandbox, playbook=CLIENTS)
    assert applied.rc == 0, applied.stdout[-4000:]
    settled = run(sandbox, playbook=CLIENTS, check=True,
                  extra_vars={"fail_on_drift": True, "summary_all_tenants_up_to": 2})
    assert settled.rc == 0, settled.stdout[-4000:]
    summary = settled.task("Summary per tenant")["msg"]
    assert summary == {"(other tenants)": "%d tenant(s) without change or failure" % len(tenants["clients"])}


WOODGROVE = "55555555-5555-4555-8555-555555555555"  # a real sandbox tenant, so a valid but wrong msp_tenant_id


def test_msp_tenant_id_must_be_the_msp_hosts_tenant(sandbox_reset, tenants):
    sandbox = sandbox_reset
    result = run(sandbox, playbook=CLIENTS, extra_vars={"msp_tenant_id": WOODGROVE})
    assert result.rc != 0
    messages = failed_messages(result)
    for host in tenants["clients"]:
        if host == "northwind":  # direct mode excludes the tenant's own account, not the MSP tenant
            continue
        assert "msp_tenant_id is %s" % WOODGROVE in messages[host] and tenants["tid"][tenants["msp"]] in messages[host]
        assert sandbox.client.writes(tenants["tid"][host]) == [], host


PART_D_ALONE = """
- hosts: clients
  gather_facts: false
  tasks:
    - name: exclusion
      msp.conditional_access.ca_client_exclusion:
        tenant_id: "{{ tenant_id }}"
        msp_tenant_id: "{{ part_d_msp }}"
        msp_tenant_name: "{{ part_d_name | default(omit) }}"
      register: out
"""


def test_a_wrong_msp_tenant_id_is_refused_by_graphs_name_and_the_diff_shows_graphs_name(run_playbook, sandbox_reset,
                                                                                      tenants, tmp_path):
    """Without an msp host to compare with (the module in a play of one's own): the id of another real tenant with
    the typed msp_tenant_name fails before any write; the right id without a name shows Graph's name in the diff."""
    sandbox = sandbox_reset
    fabrikam = tenants["tid"]["fabrikam"]
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[clients]\nfabrikam tenant_id=%s\n[clients:vars]\nansible_connection=local\n" % fabrikam)
    wrong = run_playbook(PART_D_ALONE, inventory=str(inventory),
                         extra_vars={"part_d_msp": WOODGROVE, "part_d_name": "Contoso MSP"})
    assert wrong.rc != 0
    message = wrong.task("exclusion", host="fabrikam")["msg"]
    assert "msp_tenant_name" in message and "Woodgrove Bank" in message and "Contoso MSP" in message, message
    assert sandbox.client.writes(fabrikam) == []

    right = run_playbook(PART_D_ALONE, inventory=str(inventory), check=True,
                         extra_vars={"part_d_msp": tenants["tid"][tenants["msp"]]})
    assert right.rc == 0, right.stdout[-3000:]
    assert "Contoso MSP" in json.dumps(right.task("exclusion", host="fabrikam")["diff"])


def test_a_refusal_names_the_role_variable_and_the_controller_is_not_locked_out(sandbox_reset, tenants):
    """The controller's own API client restricted to ranges without cipp_api_allowlist_controller_ip: Part C refuses (nothing written to CIPP-API), and the
    tenant's failure (the module's message, through the role's input_names) tells the user to set
    cipp_api_allowlist_force, not the module's force=true, and the summary keeps it."""
    sandbox = sandbox_reset
    before = sandbox.client.cipp_state()
    result = run(sandbox, playbook=REPO / "playbooks" / "msp_tenant.yml",
                 extra_vars={"cipp_api_allowlist_controller_ip": "198.51.100.99",
                             # the controller's own API client (the sandbox app), restricted to ranges without it
                             "cipp_api_allowlist_clients": [{"client": "Ansible controller",
                                                             "ip_ranges": ["203.0.113.0/24"]}]})
    assert result.rc != 0
    message = result.task("Fail the tenant that failed, or drifted (fail_on_drift)", host=tenants["msp"])["msg"]
    assert "198.51.100.99" in message and "cipp_api_allowlist_force=true" in message, message
    assert " force=true" not in message
    assert sandbox.client.cipp_state()["clients"] == before["clients"]
