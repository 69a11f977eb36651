"""Promotion on evidence (playbooks/promote.yml) on the sandbox inventory: the gate refuses when a technician would be
blocked from the office, when a break-glass account would be blocked from anywhere, or when the sign-in logs show a
report-only block outside the expected set; it promotes when the evidence is clean; check mode writes nothing; a plain
run never demotes an enabled policy; rings stop at the first ring whose gate fails; removing Part B never leaves the
service account excluded everywhere and covered by nothing. Outcomes are read from the sandbox's state and log."""

import datetime
import json
import subprocess

import pytest
import yaml

from conftest import BIN, REPO, ansible_env, load_fixture, msp_tenant_id, run_ansible_playbook

INVENTORY = REPO / "inventories" / "sandbox" / "hosts.yml"
PROMOTE = REPO / "playbooks" / "promote.yml"
MSP_PLAYBOOK = REPO / "playbooks" / "msp_tenant.yml"
MSP = msp_tenant_id()
DOMAIN = "contoso-msp.onmicrosoft.com"
ALICE, BOB, BG1, BG2, SVC = ("alice@" + DOMAIN, "bob@" + DOMAIN, "breakglass01@" + DOMAIN, "breakglass02@" + DOMAIN,
                             "cipp-svc@" + DOMAIN)
PART_A = "CA200-Admins-AttackSurfaceReduction-AllApps-AnyPlatform-Block-OutsideTrustedLocations"
PART_B = "CA600-Microsoft365ServiceAccounts-BaseProtection-AllApps-AnyPlatform-MFA-CIPPServiceAccount"
PART_A_ID = "aaaaaaaa-2222-4222-8222-00000000000a"
LOCATION_ID = "aaaaaaaa-2222-4222-8222-00000000000b"
REPORT_ONLY = "enabledForReportingButNotEnforced"
FABRIKAM, WOODGROVE = "22222222-2222-4222-8222-222222222222", "55555555-5555-4555-8555-555555555555"


def ids(fixture):
    tenant = fixture["tenants"][MSP]
    found = {u["userPrincipalName"]: u["id"] for u in tenant["users"]}
    found.update({g["displayName"]: g["id"] for g in tenant["groups"]})
    return found


def after_report_only_deploy(fixture, office="203.0.113.0/24"):
    """The MSP tenant as the first (report-only) run leaves it: Step 1's location and Part A in report-only."""
    known, tenant = ids(fixture), fixture["tenants"][MSP]
    tenant["namedLocations"].append({"@odata.type": "#microsoft.graph.ipNamedLocation", "id": LOCATION_ID,
                                     "displayName": "Trusted - MSP Office", "isTrusted": True,
                                     "createdDateTime": "2026-11-01T00:00:00Z", "modifiedDateTime": None,
                                     "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": office}]})
    tenant["policies"].append({"id": PART_A_ID, "displayName": PART_A, "state": REPORT_ONLY, "conditions": {
        "users": {"includeGroups": [known["CIPP Technicians"]], "excludeUsers": [known[u] for u in (BG1, BG2, SVC)]},
        "applications": {"includeApplications": ["All"]}, "clientAppTypes": ["all"],
        "locations": {"includeLocations": ["All"], "excludeLocations": [LOCATION_ID]}},
        "grantControls": {"operator": "OR", "builtInControls": ["block"]}})
    return fixture


def recent_sign_in(number, upn, address, result):
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=number + 1)
    return {"id": "promo-%03d" % number, "createdDateTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "userPrincipalName": upn, "userId": "x", "appId": "d414ee2d-73e5-4e5b-bb16-03ef55fea597",
            "appDisplayName": "Azure Static Web Apps", "ipAddress": address, "conditionalAccessStatus": "success",
            "appliedConditionalAccessPolicies": [{"id": PART_A_ID, "displayName": PART_A, "result": result,
                                                  "enforcedGrantControls": ["Block"], "enforcedSessionControls": []}]}


@pytest.fixture
def tenant_state(sandbox, tmp_path):
    """tenant_state(change) resets the sandbox to the demo fixture after the report-only deploy, changed by change."""
    def make(change=None, office="203.0.113.0/24"):
        fixture = after_report_only_deploy(load_fixture(), office)
        if change:
            change(fixture)
        path = tmp_path / "fixture.json"
        path.write_text(json.dumps(fixture))
        sandbox.client.reset(fixture=str(path))
        return fixture
    yield make
    sandbox.client.reset()


def run(sandbox, playbook, inventory=INVENTORY, **kwargs):
    return run_ansible_playbook(str(playbook), ansible_env(sandbox.env), inventory=str(inventory), **kwargs)


def policy(sandbox, name, tenant=MSP):
    found = [p for p in sandbox.client.policies(tenant) if p["displayName"] == name]
    return found[0] if found else None


def writes(sandbox, tenant=None):
    return [e for e in sandbox.client.log(tenant=tenant) if e["write"]]


def summary(result):
    return result.task("Promotion summary of the MSP tenant", "contoso-msp")["msg"]


def test_clean_evidence_promotes_check_mode_writes_nothing_and_no_demotion(sandbox, tenant_state):
    tenant_state(lambda f: f["tenants"][MSP]["signIns"].extend(
        [recent_sign_in(1, ALICE, "198.51.100.77", "reportOnlyFailure"),      # expected: technician, elsewhere
         recent_sign_in(2, BOB, "203.0.113.10", "reportOnlyNotApplied")]))
    check = run(sandbox, PROMOTE, check=True, args=["--tags", "part_a"])
    assert check.rc == 0, check.stdout[-3000:]
    assert writes(sandbox) == [] and policy(sandbox, PART_A)["state"] == REPORT_ONLY
    assert "would change (promoted to enabled" in summary(check)[0]
    assert check.task("Part A promotion - report-only results in the sign-in logs", "contoso-msp")["sign_ins"] == 2

    applied = run(sandbox, PROMOTE, args=["--tags", "part_a"])
    assert applied.rc == 0, applied.stdout[-3000:]
    assert policy(sandbox, PART_A)["state"] == "enabled"
    assert "changed (promoted to enabled: What If and sign-in evidence passed)" in summary(applied)[0]
    patches = [e for e in writes(sandbox, MSP) if e["method"] == "PATCH"]
    assert [e["body"] for e in patches][-1] == {"state": "enabled"}

    # the next plain run (the inventory still says technician_policy_state: report_only) keeps it on and says so
    before = len(writes(sandbox))
    plain = run(sandbox, MSP_PLAYBOOK, args=["--tags", "part_a"])
    assert plain.rc == 0 and policy(sandbox, PART_A)["state"] == "enabled" and len(writes(sandbox)) == before
    task = plain.task("Part A - block CIPP technician sign-ins outside the trusted location", "contoso-msp")
    assert task["changed"] is False and task["demotion"] == {"from": "enabled", "to": "report_only", "applied": False}
    assert not task.get("warnings")  # nothing changes: no warning that would repeat on every run
    lines = plain.task("Summary per tenant")["msg"]["contoso-msp"]
    assert ('Part A policy "%s": kept enabled, not demoted to report_only (technician_policy_allow_demotion=true demotes '
            'it)' % PART_A) in lines
    # demoting needs the variable; check mode shows it in the diff and writes nothing
    demote = run(sandbox, MSP_PLAYBOOK, check=True, args=["--tags", "part_a"],
                 extra_vars={"technician_policy_allow_demotion": True})
    task = demote.task("Part A - block CIPP technician sign-ins outside the trusted location", "contoso-msp")
    assert task["changed"] is True and task["demotion"]["applied"] is True and len(writes(sandbox)) == before
    diff = task["diff"][0] if isinstance(task["diff"], list) else task["diff"]
    assert (diff["before"]["policy_state"], diff["after"]["policy_state"]) == ("enabled", "report_only")
    assert any("demotes it" in w for w in task["warnings"])


def test_gate_refuses_when_a_technician_would_be_blocked_from_the_office(sandbox, tenant_state):
    tenant_state(office="198.18.0.0/24")  # Step 1's location lacks the office address
    result = run(sandbox, PROMOTE, args=["--tags", "part_a"])
    assert result.rc == 0, result.stdout[-3000:]
    assert policy(sandbox, PART_A)["state"] == REPORT_ONLY and not writes(sandbox, MSP)
    why = result.task("Part A promotion - why the policy stays report-only", "contoso-msp")["msg"]
    assert [line.split(" - ")[0] for line in why] == ["%s, 203.0.113.10" % ALICE, "%s, 203.0.113.10" % BOB]
    assert all("a technician from a trusted IP is not blocked: expected not_blocked, got blocked" in line and
               "policy %r applies" % PART_A in line for line in why)
    assert "stays report_only, not promoted: %s" % why[0] in summary(result)[0]


def test_gate_refuses_when_a_break_glass_account_would_be_blocked_from_anywhere(sandbox, tenant_state):
    def hand_made_block(fixture):
        fixture["tenants"][MSP]["policies"].append({
            "id": "aaaaaaaa-2222-4222-8222-00000000000c", "displayName": "Block outside the office (hand-made)",
            "state": "enabled", "conditions": {"users": {"includeUsers": ["All"], "excludeUsers": [ids(fixture)[SVC]]},
                                               "applications": {"includeApplications": ["All"]}, "clientAppTypes": ["all"],
                                               "locations": {"includeLocations": ["All"],
                                                             "excludeLocations": [LOCATION_ID]}},
            "grantControls": {"operator": "OR", "builtInControls": ["block"]}})
    tenant_state(hand_made_block)
    result = run(sandbox, PROMOTE, args=["--tags", "part_a"])
    assert result.rc == 0 and policy(sandbox, PART_A)["state"] == REPORT_ONLY
    why = result.task("Part A promotion - why the policy stays report-only", "contoso-msp")["msg"]
    assert [line.split(" - ")[0] for line in why] == ["%s, 192.0.2.123" % BG1, "%s, 192.0.2.123" % BG2]
    assert all("Block outside the office (hand-made) (enabled, block)" in line for line in why)


def test_gate_refuses_on_a_report_only_block_outside_the_expected_set(sandbox, tenant_state):
    tenant_state(lambda f: f["tenants"][MSP]["signIns"].extend(
        [recent_sign_in(1, ALICE, "198.51.100.77", "reportOnlyFailure"),
         recent_sign_in(2, BG1, "198.51.100.78", "reportOnlyFailure"),
         recent_sign_in(3, ALICE, "203.0.113.44", "reportOnlyFailure")]))
    result = run(sandbox, PROMOTE, args=["--tags", "part_a"])
    assert result.rc == 0 and policy(sandbox, PART_A)["state"] == REPORT_ONLY and not writes(sandbox, MSP)
    why = result.task("Part A promotion - why the policy stays report-only", "contoso-msp")["msg"]
    assert why == [
        "%s - %s: 1 sign-in(s) the policy would have blocked (203.0.113.44; from 203.0.113.44, inside the ranges it "
        "must not affect)" % (PART_A, ALICE),
        "%s - %s: 1 sign-in(s) the policy would have blocked (198.51.100.78; not among the expected users)" % (PART_A, BG1)]
    # a threshold above the share of unexpected sign-ins (2 of 3) lets it through
    lenient = run(sandbox, PROMOTE, args=["--tags", "part_a"], extra_vars={"max_blocked_percent": 70})
    assert lenient.rc == 0 and policy(sandbox, PART_A)["state"] == "enabled"


def ring_inventory(tmp_path, rings):
    """The sandbox inventory with a ring per client tenant (host variable `ring`)."""
    data = yaml.safe_load(INVENTORY.read_text())
    hosts = data["all"]["children"]["clients"]["hosts"]
    for name in list(hosts):
        if name not in rings:
            del hosts[name]
        else:
            hosts[name]["ring"] = rings[name]
    path = tmp_path / "inventory" / "hosts.yml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(data))
    for sub in ("group_vars", "host_vars"):
        (path.parent / sub).symlink_to(INVENTORY.parent / sub)
    return path


def test_rings_stop_at_the_first_ring_whose_gate_fails(sandbox, tenant_state, tmp_path):
    def managed_block(fixture):
        # a Microsoft-managed block policy that Part D is told to skip: it still reaches the MSP's GDAP users
        fixture["tenants"][FABRIKAM]["policies"].append({
            "id": "ffffffff-2222-4222-8222-00000000000f", "state": REPORT_ONLY,
            "displayName": "Microsoft-managed: Block access for unknown or unsupported device platform",
            "conditions": {"users": {"includeUsers": ["All"]}, "applications": {"includeApplications": ["All"]},
                           "clientAppTypes": ["all"]},
            "grantControls": {"operator": "OR", "builtInControls": ["block"]}})
    tenant_state(managed_block)
    inventory = ring_inventory(tmp_path, {"fabrikam": 0, "woodgrove": 1})
    extra = {"client_exclusion_managed_policies": "skip"}
    result = run(sandbox, PROMOTE, inventory=inventory, args=["--tags", "rings"], extra_vars=extra)
    assert result.rc == 0, result.stdout[-3000:]
    assert writes(sandbox, FABRIKAM) and not [e for e in sandbox.client.log(tenant=WOODGROVE) if e["api"] == "graph"]
    assert "ring 0: gate FAILED on fabrikam - later rings are not started" in result.stdout
    assert "ring 1 not started: the gate of an earlier ring failed on fabrikam" in result.stdout
    why = result.task("Why the gate failed on this tenant", "fabrikam")["msg"]
    assert "Microsoft-managed: Block access for unknown or unsupported device platform (report_only, block)" in why[0]

    # without the skipped block, ring 0 passes and ring 1 gets the change
    tenant_state()
    result = run(sandbox, PROMOTE, inventory=inventory, args=["--tags", "rings"])
    assert result.rc == 0, result.stdout[-3000:]
    assert "ring 0: gate passed on every tenant" in result.stdout and "ring 1: gate passed on every tenant" in result.stdout
    assert writes(sandbox, FABRIKAM) and writes(sandbox, WOODGROVE)


def test_removing_part_b_never_leaves_the_service_account_uncovered(sandbox, tenant_state):
    tenant_state()
    deployed = run(sandbox, MSP_PLAYBOOK, args=["--tags", "part_b"])
    assert deployed.rc == 0 and policy(sandbox, PART_B)["state"] == "enabled"
    svc_id = ids(load_fixture())[SVC]
    excluding = [p["displayName"] for p in sandbox.client.policies(MSP) if svc_id in p["conditions"]["users"]["excludeUsers"]]
    assert sorted(excluding) == sorted(["CA001-Global-BaseProtection-AllApps-AnyPlatform-MFA", PART_A])
    before = len(writes(sandbox))
    refused = run(sandbox, MSP_PLAYBOOK, args=["--tags", "part_b"], extra_vars={"service_account_mfa_state": "absent"})
    assert refused.rc != 0 and len(writes(sandbox)) == before and policy(sandbox, PART_B)
    msg = refused.task("Part B removal - refuse to leave the service account excluded everywhere and covered by no policy",
                       "contoso-msp")["msg"]
    assert SVC in msg and "CA001-Global-BaseProtection-AllApps-AnyPlatform-MFA" in msg and PART_A in msg
    assert "service_account_mfa_remove_exclusions: true" in msg

    removed = run(sandbox, MSP_PLAYBOOK, args=["--tags", "part_b"],
                  extra_vars={"service_account_mfa_state": "absent", "service_account_mfa_remove_exclusions": True})
    assert removed.rc == 0, removed.stdout[-3000:]
    assert policy(sandbox, PART_B) is None
    assert not [p for p in sandbox.client.policies(MSP) if svc_id in p["conditions"]["users"]["excludeUsers"]]
    # the exclusions went before the policy did
    log = [e for e in writes(sandbox, MSP)[before:]]
    assert [e["method"] for e in log] == ["PATCH", "PATCH", "DELETE"]
    lines = removed.task("Summary per tenant")["msg"]["contoso-msp"]
    assert sorted(line for line in lines if "exclusion removed" in line) == sorted(
        'changed: Part B exclusion removed: policy "%s": removed' % name for name in excluding)
    assert any(line.startswith('changed: Part B policy "') for line in lines)  # the delete
