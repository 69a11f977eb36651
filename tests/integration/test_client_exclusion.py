"""ca_client_exclusion / _info against the sandbox, through real ansible-playbook runs on two client tenants.

The tenants are seeded from a fixture built here (the demo fixture's apps, users and MSP tenant, with the
policies below in two client tenants), so every policy's exact after-state can be asserted.
"""

import copy
import json

import pytest

from conftest import load_fixture, msp_tenant_id

POLICIES = "/identity/conditionalAccess/policies"
ENUMERATED = "#microsoft.graph.conditionalAccessEnumeratedExternalTenants"
ALL_TENANTS = "#microsoft.graph.conditionalAccessAllExternalTenants"
OTHER = "99999999-8888-4777-8666-555555555555"
PARTNER = "77777777-6666-4555-8444-333333333333"
BREAK_GLASS = "0c1d2e3f-0000-4000-8000-00000000bb01"
ACCOUNT = "5a5a5a5a-0000-4000-8000-0000000000aa"
GROUP = "6b6b6b6b-0000-4000-8000-0000000000bb"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
FILLERS = 111  # + 9 named policies = 120 in client A: more than one page


def pid(n):
    return "00000000-0000-4000-8000-%012d" % n


def policy(n, name, state="enabled", **users_kw):
    users = {"includeUsers": ["All"], "excludeUsers": [BREAK_GLASS], "includeGroups": [], "excludeGroups": [],
             "includeRoles": [], "excludeRoles": [], "includeGuestsOrExternalUsers": None,
             "excludeGuestsOrExternalUsers": None}
    users.update(users_kw)
    return {"id": pid(n), "displayName": name, "state": state,
            "conditions": {"users": users, "applications": {"includeApplications": ["All"], "excludeApplications": [],
                                                            "includeUserActions": []},
                           "clientAppTypes": ["all"]},
            "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}}


def enumerated(*members):
    return {"@odata.type": ENUMERATED, "membershipKind": "enumerated", "members": list(members)}


def msp_excluded(msp):
    return {"guestOrExternalUserTypes": "serviceProvider", "externalTenants": enumerated(msp)}


# name -> expected excludeGuestsOrExternalUsers after a GDAP run (None = untouched); absent: after `absent`
def named_policies(msp):
    return [
        (policy(1, "CA001 Require MFA for all users"),
         msp_excluded(msp), None),
        (policy(2, "CA002 Already excludes the MSP", excludeGuestsOrExternalUsers=msp_excluded(msp)),
         None, None),  # absent removes it: see test_absent
        (policy(3, "CA003 Guests excluded everywhere", excludeGuestsOrExternalUsers={
            "guestOrExternalUserTypes": "internalGuest,b2bCollaborationGuest",
            "externalTenants": {"@odata.type": ALL_TENANTS, "membershipKind": "all"}}),
         {"guestOrExternalUserTypes": "internalGuest,b2bCollaborationGuest,serviceProvider",
          "externalTenants": {"membershipKind": "all"}}, None),
        (policy(4, "CA004 Partner guests excluded", excludeGuestsOrExternalUsers={
            "guestOrExternalUserTypes": "b2bCollaborationGuest", "externalTenants": enumerated(OTHER)}),
         {"guestOrExternalUserTypes": "b2bCollaborationGuest,serviceProvider",
          "externalTenants": enumerated(OTHER, msp)}, None),
        (policy(5, "CA005 Co-managing provider excluded", excludeGuestsOrExternalUsers={
            "guestOrExternalUserTypes": "serviceProvider", "externalTenants": enumerated(PARTNER)}),
         {"guestOrExternalUserTypes": "serviceProvider", "externalTenants": enumerated(PARTNER, msp)}, None),
        (policy(6, "Microsoft-managed: Multifactor authentication for admins", state="enabledForReportingButNotEnforced",
                includeUsers=[], includeRoles=[GLOBAL_ADMIN], excludeUsers=[]),
         msp_excluded(msp), None),
        (policy(7, "CA007 Finance group only", includeUsers=[], includeGroups=[GROUP]),
         None, None),
        (policy(8, "CA008 Block legacy auth (off)", state="disabled"),
         msp_excluded(msp), None),
        (policy(9, "CA009 Admins MFA", includeUsers=[], includeRoles=[GLOBAL_ADMIN]),
         msp_excluded(msp), None),
    ]


def fillers(msp):
    out = []
    for i in range(FILLERS):
        n = 100 + i
        if i % 2:
            out.append(policy(n, "CA%03d filler excluded" % n, excludeGuestsOrExternalUsers=msp_excluded(msp)))
        else:
            out.append(policy(n, "CA%03d filler group" % n, includeUsers=[], includeGroups=[GROUP]))
    return out


@pytest.fixture
def tenants(sandbox, tmp_path):
    """Reset the sandbox to a fixture with client A (120 policies) and client B (3 policies)."""
    fixture = copy.deepcopy(load_fixture())
    msp = msp_tenant_id(fixture)
    clients = [t for t in fixture["tenants"] if t != msp]
    assert len(clients) >= 2, "the demo fixture needs two client tenants"
    a, b = clients[:2]
    for tid in (a, b):
        tenant = fixture["tenants"][tid]
        domain = tenant.get("default_domain") or "client.onmicrosoft.com"
        tenant["users"] = list(tenant.get("users") or []) + [
            {"id": ACCOUNT, "userPrincipalName": "cipp-svc@%s" % domain, "displayName": "CIPP service account"},
            {"id": BREAK_GLASS, "userPrincipalName": "breakglass@%s" % domain, "displayName": "Break glass"}]
        tenant["groups"] = list(tenant.get("groups") or []) + [{"id": GROUP, "displayName": "Finance"}]
    fixture["tenants"][a]["policies"] = [p for p, _, _ in named_policies(msp)] + fillers(msp)
    fixture["tenants"][b]["policies"] = [
        policy(1, "B-CA001 Require MFA"),
        policy(2, "B-CA002 Already excluded", excludeGuestsOrExternalUsers=msp_excluded(msp)),
        policy(3, "B-CA003 Finance only", includeUsers=[], includeGroups=[GROUP])]
    path = tmp_path / "exclusion-fixture.json"
    path.write_text(json.dumps(fixture))
    sandbox.client.reset(fixture=str(path))
    return {"msp": msp, "a": a, "b": b, "domain_a": fixture["tenants"][a].get("default_domain"),
            "fixture": fixture}


PLAY = """
- hosts: clients
  gather_facts: false
  tasks:
    - name: exclusion
      msp.conditional_access.%(module)s: %(args)s
      register: out
      ignore_errors: %(ignore)s
"""


def run(run_playbook, tmp_path, tenants, args, hosts=("a", "b"), module="ca_client_exclusion", check=False,
        ignore=False):
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("[clients]\n" + "".join("client_%s tenant=%s\n" % (h, tenants[h]) for h in hosts)
                         + "[clients:vars]\nansible_connection=local\n")
    task_args = dict({"tenant_id": "{{ tenant }}", "msp_tenant_id": tenants["msp"],
                      "msp_tenant_name": "Contoso MSP"}, **args)
    text = PLAY % {"module": module, "args": json.dumps(task_args), "ignore": "true" if ignore else "false"}
    return run_playbook(text, check=check, inventory=str(inventory))


def graph_log(sandbox, tenant, since=0):
    return [e for e in sandbox.client.log(tenant=tenant, since=since) if e["api"] == "graph"]


def diff_policies(diffs, side="after"):
    """{policy: summary} of one side of the module's per-policy diffs."""
    return {d[side]["policy"]: {k: v for k, v in d[side].items() if k != "policy"} for d in diffs if d[side]}


def ca_only(log):
    return [e for e in log if "/identity/conditionalAccess/" in e["path"]]


def assert_fresh_read_before_each_write(after_list):
    """The CA requests after the list: each PATCH right after a GET of its policy (the plan was older than the
    pacing window: lost-update guard), except that the first write may follow the list at once."""
    pairs = [(e["method"], e["path"]) for e in after_list]
    writes = [p for m, p in pairs if m != "GET"]
    expected = [m for w in writes for m in (("GET", w), ("PATCH", w))]
    assert pairs in (expected, expected[1:]), pairs
    return len(writes)


def last_seq(sandbox):
    entries = sandbox.client.log()
    return max((e["seq"] for e in entries), default=0)


def by_id(sandbox, tenant):
    return {p["id"]: p for p in sandbox.client.policies(tenant)}


def guests_view(value):
    """excludeGuestsOrExternalUsers as (types string, kind, members) - the wire string compared exactly."""
    if not value:
        return None
    tenants = value.get("externalTenants") or {}
    return (value.get("guestOrExternalUserTypes"), tenants.get("membershipKind"),
            sorted(tenants.get("members") or []) if tenants.get("membershipKind") == "enumerated" else None)


def without_volatile(policy):
    policy = copy.deepcopy(policy)
    policy.pop("modifiedDateTime", None)
    policy["conditions"]["users"].pop("excludeGuestsOrExternalUsers", None)
    return policy


def assert_only_guest_exclusion_changed(before, after):
    assert without_volatile(after) == without_volatile(before)


def test_gdap_first_run_second_run_and_request_counts(sandbox, run_playbook, tmp_path, tenants, capsys):
    msp, a, b = tenants["msp"], tenants["a"], tenants["b"]
    before_a, before_b = by_id(sandbox, a), by_id(sandbox, b)
    assert len(before_a) == 120

    seq = last_seq(sandbox)
    first = run(run_playbook, tmp_path, tenants, {})
    assert first.rc == 0, first.stdout[-3000:]
    result = first.task("exclusion", host="client_a")
    assert result["changed"] is True
    actions = {p["display_name"]: p["action"] for p in result["policies"]}
    assert len(actions) == 120
    assert actions["CA001 Require MFA for all users"] == "excluded"
    assert actions["CA002 Already excludes the MSP"] == "already_excluded"
    assert actions["CA003 Guests excluded everywhere"] == "excluded"
    assert actions["CA007 Finance group only"] == "skipped"
    assert actions["Microsoft-managed: Multifactor authentication for admins"] == "excluded"
    assert actions["CA008 Block legacy auth (off)"] == "excluded"
    assert result["summary"] == {"excluded": 7, "already_excluded": 1 + FILLERS // 2,
                                 "skipped": 1 + FILLERS - FILLERS // 2}

    # exact after-state of every policy: only excludeGuestsOrExternalUsers moved, and only where planned
    after_a = by_id(sandbox, a)
    expected = {p["id"]: exp for p, exp, _ in named_policies(msp)}
    for policy_id, before in before_a.items():
        after = after_a[policy_id]
        assert_only_guest_exclusion_changed(before, after)
        want = expected.get(policy_id)
        if want is None:
            assert guests_view(after["conditions"]["users"]["excludeGuestsOrExternalUsers"]) == guests_view(
                before["conditions"]["users"]["excludeGuestsOrExternalUsers"]), after["displayName"]
        else:
            assert guests_view(after["conditions"]["users"]["excludeGuestsOrExternalUsers"]) == guests_view(want), (
                after["displayName"])

    # requests: one list (paged) + one PATCH per policy that changed, each PATCH a complete users object
    log_a = graph_log(sandbox, a, since=seq)
    writes_a = [e for e in log_a if e["write"]]
    assert sorted(e["path"].rsplit("/", 1)[1] for e in writes_a) == sorted(
        pid(n) for n in (1, 3, 4, 5, 6, 8, 9))
    assert all(e["method"] == "PATCH" for e in writes_a)
    for entry in writes_a:
        users = entry["body"]["conditions"]["users"]
        assert set(users) >= {"includeUsers", "excludeUsers", "includeGroups", "excludeGroups", "includeRoles",
                              "excludeRoles", "excludeGuestsOrExternalUsers"}
        assert isinstance(users["excludeGuestsOrExternalUsers"]["guestOrExternalUserTypes"], str)
        assert users["excludeUsers"] == before_a[entry["path"].rsplit("/", 1)[1]]["conditions"]["users"][
            "excludeUsers"]
    # the MSP tenant's name from Graph (a wrong msp_tenant_id must not look right): one GET, no CA endpoint
    msp_lookups = [e for e in log_a if "/tenantRelationships/findTenantInformationByTenantId" in e["path"]
                   and msp in e["path"]]
    assert [(e["method"], e["status"]) for e in msp_lookups] == [("GET", 200)]
    reads_a = [e for e in ca_only(log_a) if not e["write"]]
    assert all(e["method"] == "GET" for e in reads_a)
    # two list pages (120 policies, 100 per page: nextLink followed once), then before each PATCH a fresh read
    # of its policy (the plan is older than the pacing window: lost-update guard), and nothing else on CA
    assert [e["path"] for e in reads_a[:2]] == ["/v1.0" + POLICIES] * 2
    # after the writes, one listing (two pages) reads every write back and compares it with what was asked
    assert [e["path"] for e in reads_a[-2:]] == ["/v1.0" + POLICIES] * 2
    assert assert_fresh_read_before_each_write(ca_only(log_a)[2:-2]) == len(writes_a) == 7
    # the rest are name lookups for the diff (the tenant's name, users, groups, roles), each at most once
    lookups = [e["path"] for e in log_a if e not in ca_only(log_a)]
    assert len(lookups) == len(set(lookups))
    assert result["graph_requests"] == len(log_a)

    # the warnings name the MSP and reach the diff
    warned = {p["display_name"]: p["warnings"] for p in result["policies"] if p["warnings"]}
    assert "every tenant" in " ".join(warned["CA003 Guests excluded everywhere"])
    assert "b2bCollaborationGuest" in " ".join(warned["CA004 Partner guests excluded"])
    diff_after = diff_policies(result["diff"])
    assert diff_after["CA004 Partner guests excluded"]["warnings"] == warned["CA004 Partner guests excluded"]
    assert diff_after["CA001 Require MFA for all users"]["exclude_guests_or_external_users"] == {
        "types": ["serviceProvider"], "external_tenants": ["%s (Contoso MSP)" % msp]}
    # existing exclusions in names: the break-glass account by its UPN, no bare GUID
    assert diff_after["CA001 Require MFA for all users"]["exclude_users"] == ["breakglass@%s" % tenants["domain_a"]]
    assert all(h["before_header"].startswith("tenant ") and "policy '" in h["before_header"] for h in result["diff"])
    assert "CA002 Already excludes the MSP" not in diff_after

    result_b = first.task("exclusion", host="client_b")
    assert [p["action"] for p in result_b["policies"]] == ["excluded", "already_excluded", "skipped"]
    log_b = graph_log(sandbox, b, since=seq)
    assert [e["method"] for e in log_b if e["write"]] == ["PATCH"]
    assert by_id(sandbox, b)[pid(1)]["conditions"]["users"]["excludeGuestsOrExternalUsers"]["externalTenants"][
        "members"] == [msp]
    assert_only_guest_exclusion_changed(before_b[pid(1)], by_id(sandbox, b)[pid(1)])

    # second run: nothing to do, no write, only the list
    seq2 = last_seq(sandbox)
    second = run(run_playbook, tmp_path, tenants, {})
    assert second.rc == 0 and second.changed == 0
    log2_a, log2_b = graph_log(sandbox, a, since=seq2), graph_log(sandbox, b, since=seq2)
    assert [e for e in log2_a + log2_b if e["write"]] == []
    assert len(ca_only(log2_a)) == 2 and len(ca_only(log2_b)) == 1  # only the lists
    # and no MSP lookup: the id is verified only by a run that would write it
    assert not [e for e in log2_a + log2_b if "findTenantInformationByTenantId" in e["path"]]
    # CA003 now has serviceProvider for every tenant: nothing to write, but the warning is in the result and
    # in the diff (before == after); a quiet already-excluded policy stays out of the diff
    again = second.task("exclusion", host="client_a")
    ca003 = next(p for p in again["policies"] if p["display_name"] == "CA003 Guests excluded everywhere")
    assert ca003["action"] == "already_excluded" and "every external tenant" in " ".join(ca003["warnings"])
    diff_before, diff_after = diff_policies(again["diff"], "before"), diff_policies(again["diff"])
    assert sorted(diff_after) == sorted(diff_before) == ["CA003 Guests excluded everywhere"]
    shown = dict(diff_after["CA003 Guests excluded everywhere"])
    assert shown.pop("warnings") == ca003["warnings"]
    assert shown == diff_before["CA003 Guests excluded everywhere"]
    assert shown["exclude_guests_or_external_users"] == {
        "types": ["internalGuest", "b2bCollaborationGuest", "serviceProvider"], "external_tenants": "all"}
    with capsys.disabled():
        print("\n[exclusion] graph requests per tenant: first run A=%d (%d writes) B=%d (%d writes); "
              "second run A=%d B=%d (0 writes)" % (len(log_a), len(writes_a), len(log_b),
                                                   len([e for e in log_b if e["write"]]), len(log2_a), len(log2_b)))


def test_check_mode_reports_everything_and_writes_nothing(sandbox, run_playbook, tmp_path, tenants):
    a = tenants["a"]
    before = by_id(sandbox, a)
    seq = last_seq(sandbox)
    checked = run(run_playbook, tmp_path, tenants, {"managed_policies": "clone_and_disable"}, hosts=("a",),
                  check=True)
    assert checked.rc == 0, checked.stdout[-3000:]
    result = checked.task("exclusion", host="client_a")
    assert result["changed"] is True
    assert result["summary"]["excluded"] == 6 and result["summary"]["cloned"] == 1
    diff = diff_policies(result["diff"])
    assert "Clone - Multifactor authentication for admins" in diff
    assert diff["Microsoft-managed: Multifactor authentication for admins"]["state"] == "disabled"
    assert [e for e in sandbox.client.log(since=seq) if e["write"]] == []
    assert by_id(sandbox, a) == before


def test_a_concurrent_writer_between_plan_and_write_keeps_its_exclusion(sandbox, run_playbook, tmp_path, tenants):
    """An admin excludes an account in the portal after the task listed the policies and before it writes: the
    PATCH (a complete users object) is rebuilt on a fresh read, so neither exclusion is lost. (The second write of
    the run: by then the plan is older than the pacing window.)"""
    a, msp = tenants["a"], tenants["msp"]
    admin = "adadadad-0000-4000-8000-0000000000ad"
    sandbox.client.add_hook(a, "%s/%s" % (POLICIES, pid(9)),
                            {"conditions": {"users": {"excludeUsers": [BREAK_GLASS, admin]}}})
    seq = last_seq(sandbox)
    done = run(run_playbook, tmp_path, tenants, {"policies": ["CA001 Require MFA for all users", "CA009 Admins MFA"]},
               hosts=("a",))
    assert done.rc == 0, done.stdout[-3000:]
    users = by_id(sandbox, a)[pid(9)]["conditions"]["users"]
    assert users["excludeUsers"] == [BREAK_GLASS, admin]  # the admin's change survived ours
    assert guests_view(users["excludeGuestsOrExternalUsers"]) == guests_view(msp_excluded(msp))
    patch = [e for e in graph_log(sandbox, a, since=seq) if e["write"]][-1]
    assert patch["path"].endswith(pid(9)) and patch["body"]["conditions"]["users"]["excludeUsers"] == [
        BREAK_GLASS, admin]


def test_absent_restores_the_original_bodies(sandbox, run_playbook, tmp_path, tenants):
    msp, a = tenants["msp"], tenants["a"]
    original = by_id(sandbox, a)
    assert run(run_playbook, tmp_path, tenants, {}, hosts=("a",)).rc == 0
    removed = run(run_playbook, tmp_path, tenants, {"state": "absent"}, hosts=("a",))
    assert removed.rc == 0, removed.stdout[-3000:]
    result = removed.task("exclusion", host="client_a")
    actions = {p["display_name"]: p["action"] for p in result["policies"]}
    assert actions["CA001 Require MFA for all users"] == "removed"
    assert actions["CA007 Finance group only"] == "already_absent"
    after = by_id(sandbox, a)
    for policy_id, before in original.items():
        assert_only_guest_exclusion_changed(before, after[policy_id])
        got = guests_view(after[policy_id]["conditions"]["users"]["excludeGuestsOrExternalUsers"])
        name = before["displayName"]
        if name == "CA003 Guests excluded everywhere":
            # serviceProvider for every tenant: Graph cannot say it was ours, so it stays, with a warning
            assert got == ("internalGuest,b2bCollaborationGuest,serviceProvider", "all", None)
        elif name == "CA004 Partner guests excluded":
            assert got == ("b2bCollaborationGuest,serviceProvider", "enumerated", [OTHER])
        elif name.endswith("filler excluded") or name == "CA002 Already excludes the MSP":
            assert got is None  # the MSP's own exclusion, and nothing else, was there
        else:
            assert got == guests_view(before["conditions"]["users"]["excludeGuestsOrExternalUsers"]), name
    warned = {p["display_name"] for p in result["policies"] if p["warnings"]}
    assert warned == {"CA003 Guests excluded everywhere", "CA004 Partner guests excluded"}


def test_direct_mode_by_upn_and_unknown_upn(sandbox, run_playbook, tmp_path, tenants):
    a = tenants["a"]
    upn = "cipp-svc@%s" % tenants["domain_a"]
    seq = last_seq(sandbox)
    done = run(run_playbook, tmp_path, tenants, {"mode": "direct", "service_account": upn,
                                                 "policies": ["CA001 Require MFA for all users",
                                                              "CA007 Finance group only", pid(2)]}, hosts=("a",))
    assert done.rc == 0, done.stdout[-3000:]
    result = done.task("exclusion", host="client_a")
    assert result["service_account_id"] == ACCOUNT
    assert [p["action"] for p in result["policies"]] == ["excluded", "excluded", "excluded"]
    assert diff_policies(result["diff"])["CA001 Require MFA for all users"]["exclude_users"][-1] == (
        "%s (%s)" % (upn, ACCOUNT))
    log = graph_log(sandbox, a, since=seq)
    users = [e["path"] for e in log if "/users/" in e["path"]]
    assert users[0] == "/v1.0/users/%s" % upn  # the one lookup of the account; then the diff's names, once each
    assert len(users) == len(set(users)) and "/v1.0/users/%s" % ACCOUNT not in users
    after = by_id(sandbox, a)
    assert after[pid(1)]["conditions"]["users"]["excludeUsers"] == [BREAK_GLASS, ACCOUNT]
    assert after[pid(7)]["conditions"]["users"]["excludeUsers"] == [BREAK_GLASS, ACCOUNT]

    seq = last_seq(sandbox)
    missing = run(run_playbook, tmp_path, tenants, {"mode": "direct", "service_account": "nobody@example.invalid"},
                  hosts=("a",), ignore=True)
    failed = missing.task("exclusion", host="client_a")
    assert failed.get("failed") is True
    assert "service_account" in failed["msg"] and "nobody@example.invalid" in failed["msg"]
    assert [e for e in sandbox.client.log(since=seq) if e["write"]] == []


def test_clone_and_disable_then_second_run_finds_the_clone(sandbox, run_playbook, tmp_path, tenants):
    msp, a = tenants["msp"], tenants["a"]
    name = "Microsoft-managed: Multifactor authentication for admins"
    args = {"managed_policies": "clone_and_disable", "policies": [name]}
    original = by_id(sandbox, a)[pid(6)]
    seq = last_seq(sandbox)
    first = run(run_playbook, tmp_path, tenants, args, hosts=("a",))
    assert first.rc == 0, first.stdout[-3000:]
    assert [p["action"] for p in first.task("exclusion", host="client_a")["policies"]] == ["cloned"]
    writes = [e for e in graph_log(sandbox, a, since=seq) if e["write"]]
    # the clone is a copy of a /beta read, written through /beta; the original's writes follow it there
    assert [(e["method"], e["path"]) for e in writes] == [
        ("POST", "/beta" + POLICIES), ("PATCH", "/beta%s/%s" % (POLICIES, pid(6)))]
    assert writes[1]["body"] == {"state": "disabled"}
    policies = sandbox.client.policies(a)
    [clone] = [p for p in policies if p["displayName"] == "Clone - Multifactor authentication for admins"]
    assert clone["state"] == original["state"]
    assert clone["conditions"]["users"]["includeRoles"] == [GLOBAL_ADMIN]
    assert guests_view(clone["conditions"]["users"]["excludeGuestsOrExternalUsers"]) == guests_view(
        msp_excluded(msp))
    assert clone["grantControls"]["builtInControls"] == original["grantControls"]["builtInControls"]
    mmp = by_id(sandbox, a)[pid(6)]
    assert mmp["state"] == "disabled" and mmp["displayName"] == name
    assert mmp["conditions"]["users"] == original["conditions"]["users"]

    seq = last_seq(sandbox)
    second = run(run_playbook, tmp_path, tenants, dict(args, policies=[name, clone["displayName"]]), hosts=("a",))
    assert second.rc == 0 and second.changed == 0
    assert [p["action"] for p in second.task("exclusion", host="client_a")["policies"]] == [
        "already_cloned", "already_excluded"]
    assert [e for e in graph_log(sandbox, a, since=seq) if e["write"]] == []


def test_info_lists_the_policies_that_lack_the_exclusion(sandbox, run_playbook, tmp_path, tenants):
    seq = last_seq(sandbox)
    report = run(run_playbook, tmp_path, tenants, {}, hosts=("b",), module="ca_client_exclusion_info")
    assert report.rc == 0, report.stdout[-3000:]
    result = report.task("exclusion", host="client_b")
    assert result["changed"] is False
    assert result["missing"] == ["B-CA001 Require MFA"]
    rows = {p["display_name"]: p for p in result["policies"]}
    assert rows["B-CA002 Already excluded"]["excluded"] is True
    assert rows["B-CA003 Finance only"]["targeting"] is False
    assert [e for e in sandbox.client.log(since=seq) if e["write"]] == []


STRENGTH = "00000000-0000-0000-0000-000000000004"
STRENGTH_NAME = "Microsoft-managed: Phishing-resistant MFA for admins"
RISKY_NAME = "Microsoft-managed: Require reauthentication for risky sign-ins"


def managed_policies_with_strength_and_every_time():
    strength = policy(20, STRENGTH_NAME, includeUsers=[], includeRoles=[GLOBAL_ADMIN], excludeUsers=[])
    strength["grantControls"] = {
        "operator": "OR", "builtInControls": [], "customAuthenticationFactors": [], "termsOfUse": [],
        "authenticationStrength@odata.context": "https://graph.microsoft.com/v1.0/$metadata#identity/"
                                                "conditionalAccess/policies('%s')/grantControls/"
                                                "authenticationStrength/$entity" % pid(20),
        "authenticationStrength": {"id": STRENGTH, "createdDateTime": "2021-12-01T00:00:00Z",
                                   "modifiedDateTime": "2021-12-01T00:00:00Z",
                                   "displayName": "Phishing-resistant MFA",
                                   "description": "Phishing-resistant, Passwordless methods for the strongest "
                                                  "authentication, such as a FIDO2 security key",
                                   "policyType": "builtIn", "requirementsSatisfied": "mfa",
                                   "allowedCombinations": ["windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor"]}}
    risky = policy(21, RISKY_NAME, excludeUsers=[])
    risky["conditions"]["signInRiskLevels"] = ["high", "medium"]
    risky["sessionControls"] = {"signInFrequency": {"isEnabled": True, "frequencyInterval": "everyTime",
                                                    "authenticationType": "primaryAndSecondaryAuthentication",
                                                    "type": None, "value": None}}
    return strength, risky


def test_clone_keeps_the_authentication_strength_and_is_built_from_and_written_through_beta(sandbox, run_playbook,
                                                                                           tmp_path, tenants):
    msp, a = tenants["msp"], tenants["a"]
    strength, risky = managed_policies_with_strength_and_every_time()
    sandbox.client.put_policy(a, strength)
    sandbox.client.put_policy(a, risky)
    sandbox.client.set_faults(tenant=a, everytime_requires_beta=True)
    try:
        seq = last_seq(sandbox)
        done = run(run_playbook, tmp_path, tenants, {"managed_policies": "clone_and_disable",
                                                     "policies": [STRENGTH_NAME, RISKY_NAME]}, hosts=("a",))
    finally:
        sandbox.client.set_faults(tenant=a, everytime_requires_beta=False)
    assert done.rc == 0, done.stdout[-3000:]
    result = done.task("exclusion", host="client_a")
    assert [p["action"] for p in result["policies"]] == ["cloned", "cloned"]
    for entry in result["policies"]:  # each clone says what it costs
        assert any("Microsoft's updates" in w for w in entry["warnings"])

    # every Graph write attempt of the run, in order: each source read from beta, its clone written there (no
    # failed v1.0 attempt, even with v1.0 refusing every-time sign-in frequency by 1038)
    sent = [(e["method"], e["path"], e["status"]) for e in graph_log(sandbox, a, since=seq) if e["method"] != "GET"]
    assert sent == [
        ("POST", "/beta" + POLICIES, 201), ("PATCH", "/beta%s/%s" % (POLICIES, pid(20)), 204),
        ("POST", "/beta" + POLICIES, 201), ("PATCH", "/beta%s/%s" % (POLICIES, pid(21)), 204)]
    reads = [e["path"] for e in graph_log(sandbox, a, since=seq) if e["method"] == "GET"]
    assert "/beta%s/%s" % (POLICIES, pid(20)) in reads and "/beta%s/%s" % (POLICIES, pid(21)) in reads
    log = [e for e in graph_log(sandbox, a, since=seq) if e["method"] != "GET"]

    # the strength clone's POST body carries the strength id, and only the id
    assert log[0]["body"]["grantControls"]["authenticationStrength"] == {"id": STRENGTH}
    assert not {"id", "templateId", "createdDateTime", "modifiedDateTime"} & set(log[0]["body"])
    stored = {p["displayName"]: p for p in sandbox.client.policies(a)}
    clone = stored["Clone - Phishing-resistant MFA for admins"]
    assert clone["grantControls"]["authenticationStrength"]["id"] == STRENGTH
    assert clone["grantControls"]["builtInControls"] == []
    assert guests_view(clone["conditions"]["users"]["excludeGuestsOrExternalUsers"]) == guests_view(msp_excluded(msp))

    # the every-time clone landed through beta with its session control intact; both originals are disabled
    risky_clone = stored["Clone - Require reauthentication for risky sign-ins"]
    assert risky_clone["sessionControls"]["signInFrequency"]["frequencyInterval"] == "everyTime"
    assert risky_clone["conditions"]["signInRiskLevels"] == ["high", "medium"]
    assert risky_clone["state"] == "enabled"
    assert stored[STRENGTH_NAME]["state"] == "disabled" and stored[RISKY_NAME]["state"] == "disabled"
    assert stored[RISKY_NAME]["conditions"]["users"] == by_id(sandbox, a)[pid(21)]["conditions"]["users"]


NORTHWIND = "33333333-3333-4333-8333-333333333333"


def test_direct_mode_by_object_id_is_looked_up_and_a_mistyped_id_fails(sandbox_reset, run_playbook, tmp_path):
    sandbox = sandbox_reset
    fixture = load_fixture()
    [account] = [u for u in fixture["tenants"][NORTHWIND]["users"] if u["userPrincipalName"].startswith("cipp-direct@")]
    hosts = {"msp": msp_tenant_id(fixture), "n": NORTHWIND}
    before = by_id(sandbox, NORTHWIND)

    typo = account["id"][:-4] + "ffff"
    seq = last_seq(sandbox)
    missing = run(run_playbook, tmp_path, hosts, {"mode": "direct", "service_account": typo}, hosts=("n",),
                  ignore=True)
    failed = missing.task("exclusion", host="client_n")
    assert failed.get("failed") is True
    assert "service_account" in failed["msg"] and typo in failed["msg"], failed["msg"]
    log = graph_log(sandbox, NORTHWIND, since=seq)
    assert [(e["method"], e["path"], e["status"]) for e in log] == [("GET", "/v1.0/users/%s" % typo, 404)]
    assert by_id(sandbox, NORTHWIND) == before

    seq = last_seq(sandbox)
    done = run(run_playbook, tmp_path, hosts, {"mode": "direct", "service_account": account["id"]}, hosts=("n",))
    assert done.rc == 0, done.stdout[-3000:]
    result = done.task("exclusion", host="client_n")
    assert result["service_account_id"] == account["id"]
    log = graph_log(sandbox, NORTHWIND, since=seq)
    lookups = [e for e in log if "/users/" in e["path"]]
    assert [(e["method"], e["path"], e["status"]) for e in lookups] == [("GET", "/v1.0/users/%s" % account["id"], 200)]
    assert "id,userPrincipalName,displayName" in json.dumps(lookups[0]["query"])
    excluded = [p for p in result["policies"] if p["action"] == "excluded"]
    assert excluded, result["policies"]
    after = by_id(sandbox, NORTHWIND)
    for entry in excluded:
        assert after[entry["id"]]["conditions"]["users"]["excludeUsers"] == (
            before[entry["id"]]["conditions"]["users"]["excludeUsers"] + [account["id"]])
        shown = diff_policies(result["diff"])[entry["display_name"]]["exclude_users"]
        assert shown[-1] == "%s (%s)" % (account["userPrincipalName"], account["id"])
    # the list, then per excluded policy a fresh read and one PATCH
    # the last request reads every write back (one listing)
    assert assert_fresh_read_before_each_write(ca_only(log)[1:-1]) == len(excluded)
