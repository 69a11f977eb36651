"""The roles and playbooks as users run them: site.yml on the sandbox with inventories/sandbox.

Every expectation is computed from the inventory (ansible-inventory --list) and checked against the
sandbox's own state, request log and write counter - not against what the playbook says it did.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import subprocess

import pytest
import yaml

from conftest import BIN, REPO, ansible_env, run_ansible_playbook

INVENTORY = REPO / "inventories" / "sandbox" / "hosts.yml"
SITE = REPO / "playbooks" / "site.yml"
CLIENTS_PLAYBOOK = REPO / "playbooks" / "client_tenants.yml"
ENUMERATED = "#microsoft.graph.conditionalAccessEnumeratedExternalTenants"


@pytest.fixture(scope="module")
def inventory():
    """{host: hostvars} of the sandbox inventory, plus the group membership."""
    out = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(INVENTORY), "--list"], env=ansible_env(),
                         capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    hostvars = data["_meta"]["hostvars"]
    return {"msp": data["msp"]["hosts"][0], "clients": data["clients"]["hosts"], "vars": hostvars}


def run(sandbox, playbook, **kwargs):
    return run_ansible_playbook(str(playbook), ansible_env(sandbox.env), inventory=str(INVENTORY), **kwargs)


def writes(sandbox):
    return sum(sandbox.client.counters().get("writes", {}).values())


def by_name(items, name):
    found = [i for i in items if i.get("displayName") == name]
    assert len(found) == 1, "expected one %r, found %d among %s" % (name, len(found),
                                                                  [i.get("displayName") for i in items])
    return found[0]


def user_id(tenant_state, upn):
    return next(u["id"] for u in tenant_state["users"] if u["userPrincipalName"].lower() == upn.lower())


def msp_excluded(policy, msp_tid):
    ex = (policy["conditions"]["users"].get("excludeGuestsOrExternalUsers") or {})
    types = [t.strip() for t in (ex.get("guestOrExternalUserTypes") or "").split(",")]
    tenants = ex.get("externalTenants") or {}
    return "serviceProvider" in types and (tenants.get("membershipKind") == "all"
                                           or msp_tid in (tenants.get("members") or []))


def reaches_everyone(policy):
    users = policy["conditions"]["users"]
    return "All" in (users.get("includeUsers") or []) or bool(users.get("includeRoles"))


def assert_msp_tenant(sandbox, inventory):
    host = inventory["msp"]
    hv = inventory["vars"][host]
    tid = hv["tenant_id"]
    state = sandbox.client.tenant(tid)
    # Step 1
    location = by_name(state["namedLocations"], hv["msp_trusted_location_name"])
    assert location["isTrusted"] is True
    assert sorted(r["cidrAddress"] for r in location["ipRanges"]) == sorted(hv["msp_trusted_ips"])
    # Part A: report-only, technicians group in, break-glass out, any location but the trusted one, block
    policies = state["policies"]
    part_a = next(p for p in policies if p["displayName"].startswith("CA200-Admins-"))
    users = part_a["conditions"]["users"]
    group = next(g["id"] for g in state["groups"] if g["displayName"] == hv["cipp_technicians_group"])
    assert users["includeGroups"] == [group]
    for upn in hv["msp_break_glass_accounts"]:
        assert user_id(state, upn) in users["excludeUsers"]
    assert part_a["state"] == "enabledForReportingButNotEnforced"
    assert part_a["conditions"]["locations"]["includeLocations"] == ["All"]
    assert part_a["conditions"]["locations"]["excludeLocations"] == [location["id"]]
    assert part_a["grantControls"]["builtInControls"] == ["block"]
    # Part B: only the service account, all apps, MFA, every time, no locations, enabled
    part_b = next(p for p in policies if p["displayName"].startswith("CA600-"))
    account = user_id(state, hv["cipp_service_account"])
    assert part_b["state"] == "enabled"
    assert part_b["conditions"]["users"]["includeUsers"] == [account]
    assert not part_b["conditions"]["users"].get("excludeUsers")
    assert part_b["conditions"]["applications"]["includeApplications"] == ["All"]
    assert not (part_b["conditions"].get("locations") or {}).get("includeLocations")
    assert part_b["grantControls"]["builtInControls"] == ["mfa"]
    assert part_b["sessionControls"]["signInFrequency"]["frequencyInterval"] == "everyTime"
    # ... and the service account excluded from every other policy, break-glass exclusions kept
    for policy in policies:
        if policy["id"] != part_b["id"]:
            assert account in policy["conditions"]["users"]["excludeUsers"], policy["displayName"]
    return state


def stored_ranges(stored):
    """A CIPP-API row's IPRange as CIPP's table holds it: "" = any, one range as a bare JSON string, else a JSON list."""
    value = json.loads(stored) if stored else []
    return sorted(str(ipaddress.ip_network(r, strict=False)) for r in ([value] if isinstance(value, str) else value))


def cipp_calls(sandbox, action):
    return [e for e in sandbox.client.log() if e["api"] == "cipp" and (e.get("query") or {}).get("Action") == action]


def assert_cipp_api_clients(sandbox, inventory, before):
    """Part C: every listed client stores exactly its ranges (default msp_trusted_ips); Role, Enabled, MCPAllowed and
    the unlisted clients are untouched; SaveToAzure only when the set of enabled clients changed."""
    hv = inventory["vars"][inventory["msp"]]
    state = sandbox.client.cipp_state()
    rows = {c["AppName"]: c for c in state["clients"]}
    old = {c["AppName"]: c for c in before["clients"]}
    listed = hv["cipp_api_allowlist_clients"]
    assert listed, "the sandbox inventory lists no CIPP-API client"
    for entry in listed:
        row = rows[entry["client"]]
        expected = entry.get("ip_ranges", hv["msp_trusted_ips"])
        assert stored_ranges(row["IPRange"]) == sorted(str(ipaddress.ip_network(r, strict=False)) for r in expected), \
            (entry["client"], row["IPRange"])
        for key in ("Role", "Enabled", "MCPAllowed"):
            assert row.get(key) == old[entry["client"]].get(key), (entry["client"], key)
    for name in set(rows) - {e["client"] for e in listed}:
        assert rows[name] == old[name], name  # an unlisted client (the controller's own) is left alone
    # the demo in plain words: RMM gets the default (msp_trusted_ips), PSA its own single range
    assert stored_ranges(rows["RMM integration"]["IPRange"]) == sorted(str(ipaddress.ip_network(r))
                                                                       for r in hv["msp_trusted_ips"])
    assert stored_ranges(rows["PSA integration"]["IPRange"]) == ["198.51.100.20/32"]
    enabled_before = {c["ClientId"].lower() for c in before["clients"] if c.get("Enabled") is True}
    saved_before = {c.lower() for c in before["saved_client_ids"]}
    saves = cipp_calls(sandbox, "SaveToAzure")
    if enabled_before == saved_before:  # the demo: only IPs change, so no "Save Azure Configuration"
        assert saves == [], saves
    else:
        assert len(saves) == 1, saves
    assert {c.lower() for c in state["saved_client_ids"]} == enabled_before
    return len(saves)


def assert_client_tenants(sandbox, inventory, failed=()):
    msp_tid = inventory["vars"][inventory["msp"]]["tenant_id"]
    checked = 0
    for host in inventory["clients"]:
        if host in failed:
            continue
        hv = inventory["vars"][host]
        state = sandbox.client.tenant(hv["tenant_id"])
        direct = hv.get("access_mode") == "direct"
        account = user_id(state, hv["cipp_service_account"]) if direct else None
        for policy in state["policies"]:
            if not reaches_everyone(policy):
                continue
            if direct:
                assert account in policy["conditions"]["users"]["excludeUsers"], (host, policy["displayName"])
            elif hv.get("client_exclusion_managed_policies") == "skip" and \
                    policy["displayName"].startswith("Microsoft-managed:"):
                continue
            elif hv.get("client_exclusion_managed_policies") == "clone_and_disable" and \
                    policy["displayName"].startswith("Microsoft-managed:"):
                # clone then disable (seed 000): the original is left as Microsoft made it, but off;
                # its clone (checked as an ordinary policy) carries the exclusion
                assert policy["state"] == "disabled", (host, policy["displayName"])
                continue
            else:
                assert msp_excluded(policy, msp_tid), (host, policy["displayName"])
            checked += 1
    assert checked, "no client policy was checked: the fixture has nothing for Part D"


def test_site_check_then_apply_then_changed_0(sandbox_reset, inventory):
    sandbox = sandbox_reset
    before = {tid: json.dumps(sandbox.client.tenant(tid), sort_keys=True)
              for tid in [inventory["vars"][h]["tenant_id"] for h in [inventory["msp"]] + inventory["clients"]]}

    before_cipp = sandbox.client.cipp_state()
    check = run(sandbox, SITE, check=True)
    assert check.rc == 0, check.stdout[-4000:]
    assert writes(sandbox) == 0
    for tid, text in before.items():  # check mode left every tenant exactly as it was
        assert json.dumps(sandbox.client.tenant(tid), sort_keys=True) == text
    assert check.changed > 0  # it did predict the work
    assert "---" in check.stdout and "+++" in check.stdout  # --diff output

    apply = run(sandbox, SITE)
    assert apply.rc == 0, apply.stdout[-4000:]
    assert writes(sandbox) > 0
    assert_msp_tenant(sandbox, inventory)
    assert_client_tenants(sandbox, inventory)
    saves = assert_cipp_api_clients(sandbox, inventory, before_cipp)

    settled = writes(sandbox)
    again = run(sandbox, SITE)
    assert again.rc == 0, again.stdout[-4000:]
    assert again.changed == 0, [r["task"] for r in again.results if r["result"].get("changed")]
    assert writes(sandbox) == settled
    assert len(cipp_calls(sandbox, "SaveToAzure")) == saves  # nothing to save on a settled run
    hosts = set(again.stats)
    assert hosts == {inventory["msp"], *inventory["clients"]}


def test_forbidden_client_fails_alone(sandbox_reset, inventory):
    sandbox = sandbox_reset
    broken = inventory["clients"][0]
    broken_tid = inventory["vars"][broken]["tenant_id"]
    sandbox.client.set_faults(tenant=broken_tid, forbidden=True)

    result = run(sandbox, CLIENTS_PLAYBOOK)
    assert result.rc != 0
    assert result.stats[broken]["failures"] == 1
    others = [h for h in inventory["clients"] if h != broken]
    for host in others:
        assert result.stats[host]["failures"] == 0, host
    assert_client_tenants(sandbox, inventory, failed={broken})
    assert sandbox.client.writes(broken_tid) == []
    message = result.task("Fail the tenant that failed, or drifted (fail_on_drift)", host=broken)["msg"]
    assert "403" in message and broken_tid in message and broken in message
    summary = result.task("Summary per tenant")["msg"]
    assert summary[broken][0].startswith("FAILED") and "403" in summary[broken][0]
    assert all(not any(line.startswith("FAILED") for line in summary[h]) for h in others)
    assert inventory["msp"] not in summary  # client_tenants.yml is site.yml limited to the clients


def test_trusted_location_role_alone(sandbox_reset, inventory):
    """Step 1 on its own (tag step1): create, then changed=false, then a range change in check mode writes nothing."""
    sandbox = sandbox_reset
    hv = inventory["vars"][inventory["msp"]]
    first = run(sandbox, REPO / "playbooks" / "msp_tenant.yml", args=["--tags", "step1"])
    assert first.rc == 0, first.stdout[-3000:]
    location = by_name(sandbox.client.locations(hv["tenant_id"]), hv["msp_trusted_location_name"])
    assert sorted(r["cidrAddress"] for r in location["ipRanges"]) == sorted(hv["msp_trusted_ips"])
    second = run(sandbox, REPO / "playbooks" / "msp_tenant.yml", args=["--tags", "step1"])
    assert second.rc == 0 and second.changed == 0
    count = writes(sandbox)
    check = run(sandbox, REPO / "playbooks" / "msp_tenant.yml", args=["--tags", "step1"], check=True,
                extra_vars={"msp_trusted_ips": ["198.51.100.7/32"]})
    assert check.rc == 0 and check.changed == 1
    assert "198.51.100.7/32" in check.stdout  # the diff names the new range
    assert writes(sandbox) == count


def test_preflight_fails_with_clear_lines(sandbox_reset, inventory, tmp_path):
    """Security defaults on, no premium SKU and a missing break-glass account: three FAIL lines, nothing written."""
    sandbox = sandbox_reset
    from conftest import DEMO_FIXTURE

    hv = inventory["vars"][inventory["msp"]]
    fixture = json.loads(DEMO_FIXTURE.read_text())
    tenant = fixture["tenants"][hv["tenant_id"]]
    tenant["securityDefaults"] = {"isEnabled": True}
    tenant["subscribedSkus"] = []
    broken = tmp_path / "fixture.json"
    broken.write_text(json.dumps(fixture))
    sandbox.client.reset(fixture=str(broken))
    try:
        result = run(sandbox, REPO / "playbooks" / "msp_tenant.yml", args=["--tags", "preflight"],
                     extra_vars={"msp_break_glass_accounts": hv["msp_break_glass_accounts"] + ["nobody@example.invalid"]})
    finally:
        sandbox.client.reset()
    assert result.rc != 0
    lines = result.task("Show the preflight result")["msg"]
    failing = [line for line in lines if line.startswith("FAIL")]
    assert any("Entra ID P1/P2" in line for line in failing), lines
    assert any("Security defaults: ENABLED" in line for line in failing), lines
    assert any("nobody@example.invalid: NOT FOUND" in line for line in failing), lines
    assert any(line.startswith("PASS Graph reads") for line in lines), lines
    assert writes(sandbox) == 0


def test_preflight_passes_on_the_demo_msp(sandbox_reset):
    result = run(sandbox_reset, REPO / "playbooks" / "msp_tenant.yml", args=["--tags", "preflight"], check=True)
    assert result.rc == 0, result.stdout[-3000:]
    lines = result.task("Show the preflight result")["msg"]
    assert lines and all(line.startswith("PASS") for line in lines), lines


def test_service_account_policy_drift_is_corrected(sandbox_reset, inventory):
    """Part B on a policy someone edited: a location condition, an extra group, guests and exclusions all go.

    Seed 000: "only that account ... Do not add any exclusions or trusted locations" - the role makes the existing
    policy exactly that (ca_policy keeps omitted options and merges exclusions unless told otherwise).
    """
    sandbox = sandbox_reset
    hv = inventory["vars"][inventory["msp"]]
    tid = hv["tenant_id"]
    state = sandbox.client.tenant(tid)
    defaults = yaml.safe_load((REPO / "roles" / "service_account_mfa" / "defaults" / "main.yml").read_text())
    name = defaults["service_account_mfa_policy_name"]
    assert name.startswith("CA6")
    account = user_id(state, hv["cipp_service_account"])
    staff = next(g["id"] for g in state["groups"] if g["displayName"] == "All MSP Staff")
    breakglass = user_id(state, hv["msp_break_glass_accounts"][0])
    drifted = copy.deepcopy(state["policies"][0])
    drifted.update(id="6a6a6a6a-0000-4000-8000-00000000b600", displayName=name, state="enabled")
    drifted["conditions"]["users"].update(
        includeUsers=[account], includeGroups=[staff], includeRoles=[], excludeUsers=[breakglass],
        excludeGroups=[staff],
        includeGuestsOrExternalUsers={"guestOrExternalUserTypes": "b2bCollaborationGuest",
                                      "externalTenants": {"@odata.type": "#microsoft.graph.conditionalAccessAllExternalTenants",
                                                          "membershipKind": "all"}})
    drifted["conditions"]["locations"] = {"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]}
    drifted["conditions"]["applications"]["excludeApplications"] = ["00000002-0000-0ff1-ce00-000000000000"]
    drifted["grantControls"]["builtInControls"] = ["mfa"]
    drifted["sessionControls"] = {"signInFrequency": {"isEnabled": True, "frequencyInterval": "everyTime",
                                                      "authenticationType": "primaryAndSecondaryAuthentication",
                                                      "type": None, "value": None}}
    sandbox.client.put_policy(tid, drifted)

    check = run(sandbox, REPO / "playbooks" / "msp_tenant.yml", args=["--tags", "part_b"], check=True)
    assert check.rc == 0, check.stdout[-3000:]
    assert writes(sandbox) == 0
    assert check.task("Part B - CIPP service account requires MFA on every sign-in")["changed"] is True

    result = run(sandbox, REPO / "playbooks" / "msp_tenant.yml", args=["--tags", "part_b"])
    assert result.rc == 0, result.stdout[-3000:]
    policy = by_name(sandbox.client.policies(tid), name)
    assert policy["id"] == drifted["id"]  # updated in place, not a second policy
    users = policy["conditions"]["users"]
    assert users["includeUsers"] == [account]
    assert not users.get("includeGroups") and not users.get("includeRoles")
    assert not users.get("includeGuestsOrExternalUsers")
    assert not users.get("excludeUsers") and not users.get("excludeGroups") and not users.get("excludeRoles")
    assert not users.get("excludeGuestsOrExternalUsers")
    assert not policy["conditions"].get("locations")  # the condition itself is gone, not just emptied
    assert not policy["conditions"]["applications"].get("excludeApplications")
    assert policy["conditions"]["applications"]["includeApplications"] == ["All"]
    assert policy["grantControls"]["builtInControls"] == ["mfa"]
    assert policy["sessionControls"]["signInFrequency"]["frequencyInterval"] == "everyTime"

    again = run(sandbox, REPO / "playbooks" / "msp_tenant.yml", args=["--tags", "part_b"])
    assert again.rc == 0 and again.changed == 0, [r["task"] for r in again.results if r["result"].get("changed")]


def test_part_c_uses_its_own_cipp_credential_when_given(sandbox_reset):
    """cipp_api_client_id / cipp_api_client_secret reach the CIPP modules only (README "Part C identity")."""
    sandbox = sandbox_reset
    stranger = "99999999-9999-4999-8999-999999999999"
    secret = "part-c-secret-that-must-not-leak"
    refused = run(sandbox, REPO / "playbooks" / "msp_tenant.yml", args=["--tags", "part_c"],
                  extra_vars={"cipp_api_client_id": stranger, "cipp_api_client_secret": secret})
    assert refused.rc != 0
    assert "AADSTS700016" in refused.stdout and stranger in refused.stdout  # the token was asked for that client
    assert secret not in refused.stdout
    assert writes(sandbox) == 0
    # the same variables holding a real CIPP-API client (here the sandbox's app) work
    applied = run(sandbox, REPO / "playbooks" / "msp_tenant.yml", args=["--tags", "part_c"],
                  extra_vars={"cipp_api_client_id": sandbox.env["AZURE_CLIENT_ID"],
                              "cipp_api_client_secret": sandbox.env["AZURE_CLIENT_SECRET"]})
    assert applied.rc == 0, applied.stdout[-3000:]
    assert any(e["api"] == "cipp" and e["write"] for e in sandbox.client.log())
