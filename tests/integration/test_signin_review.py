"""ca_signin_review against the sandbox's sign-in logs: a window of recent sign-ins (more than one page), report-only
results per policy, expected and unexpected would-be blocks, the threshold, and the two clear errors (no P1, no
AuditLog.Read.All)."""

import datetime
import json

import pytest

from conftest import load_fixture, msp_tenant_id

MSP = msp_tenant_id()
DOMAIN = "contoso-msp.onmicrosoft.com"
ALICE, BOB, BG1, BG2, SVC = ("alice@" + DOMAIN, "bob@" + DOMAIN, "breakglass01@" + DOMAIN, "breakglass02@" + DOMAIN,
                             "cipp-svc@" + DOMAIN)
PART_A = {"id": "aaaaaaaa-1111-4111-8111-00000000000b",
          "displayName": "CA200-Admins-AttackSurfaceReduction-AllApps-AnyPlatform-Block-OutsideTrustedLocations"}
PART_B = {"id": "bbbbbbbb-1111-4111-8111-00000000000b", "displayName": "CA600-CIPPServiceAccount-MFA"}
FILLERS = 1200  # more than one page (the sandbox serves 1000 sign-ins per page)
READER = {"client_id": "a0a0a0a0-0000-4000-8000-0000000000a7", "client_secret": "reader-only-secret",
          "display_name": "reads policies, not sign-ins", "roles": ["Policy.Read.All", "User.Read.All"]}


def stamp(days=0, minutes=0):
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days, minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def sign_in(number, upn, address, policy, result, days=1):
    return {"id": "si-%05d" % number, "createdDateTime": stamp(days, number % 600), "userPrincipalName": upn,
            "userId": "id-" + upn, "appId": "d414ee2d-73e5-4e5b-bb16-03ef55fea597", "appDisplayName": "Azure Static Web Apps",
            "ipAddress": address, "conditionalAccessStatus": "success",
            "appliedConditionalAccessPolicies": [dict(policy, result=result, enforcedGrantControls=["Block"],
                                                      enforcedSessionControls=[])]}


@pytest.fixture
def evidence(sandbox, tmp_path):
    fixture = load_fixture()
    fixture["apps"].append(READER)
    events = [
        sign_in(1, ALICE, "198.51.100.77", PART_A, "reportOnlyFailure"),      # expected: technician, elsewhere
        sign_in(2, BOB, "198.51.100.78", PART_A, "reportOnlyFailure"),        # expected
        sign_in(3, BG1, "198.51.100.79", PART_A, "reportOnlyFailure"),        # not a technician
        sign_in(4, ALICE, "203.0.113.11", PART_A, "reportOnlyFailure"),       # from the office
        sign_in(5, BG2, "198.51.100.80", PART_A, "reportOnlyFailure", days=10),  # outside the window
        sign_in(6, SVC, "198.51.100.81", PART_B, "reportOnlyInterrupted"),
    ] + [sign_in(100 + n, ALICE, "203.0.113.10", PART_A, "reportOnlyNotApplied") for n in range(FILLERS)]
    fixture["tenants"][MSP]["signIns"] = events
    path = tmp_path / "evidence.json"
    path.write_text(json.dumps(fixture))
    sandbox.client.reset(fixture=str(path))
    yield fixture
    sandbox.client.reset()


def play(tasks):
    return json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}], indent=1)


def review(**options):
    return {"name": "review", "register": "review",
            "msp.conditional_access.ca_signin_review": dict({"tenant_id": MSP}, **options)}


def test_part_a_evidence_per_policy_with_unexpected_users(sandbox, run_playbook, evidence):
    result = run_playbook(play([review(policies=[PART_A["displayName"]], expected_users=[ALICE, BOB],
                                       expected_outside=["203.0.113.0/24"])]), check=True)
    assert result.rc == 0, result.stdout[-3000:]
    task = result.task("review")
    assert task["sign_ins"] == FILLERS + 5 and task["passed"] is False
    [entry] = task["policies"]
    assert entry["id"] == PART_A["id"]
    assert entry["results"] == {"reportOnlyFailure": 4, "reportOnlyNotApplied": FILLERS}
    assert entry["users"] == sorted([ALICE, BOB, BG1]) and "198.51.100.80" not in entry["ip_addresses"]
    assert sorted((u["user"], u["ip_address"]) for u in entry["unexpected"]) == [(ALICE, "203.0.113.11"),
                                                                                 (BG1, "198.51.100.79")]
    assert task["why"] == [
        "%s - %s: 1 sign-in(s) the policy would have blocked (203.0.113.11; from 203.0.113.11, inside the ranges it must "
        "not affect)" % (PART_A["displayName"], ALICE),
        "%s - %s: 1 sign-in(s) the policy would have blocked (198.51.100.79; not among the expected users)"
        % (PART_A["displayName"], BG1)]
    # one filter on the window, paged, with the header that reveals the report-only results
    reads = [e for e in sandbox.client.log(tenant=MSP) if e["path"] == "/v1.0/auditLogs/signIns"]
    assert len(reads) == 2 and reads[0]["query"]["$filter"] == "createdDateTime ge %s" % task["since"]
    assert sum(sandbox.client.counters()["writes"].values()) == 0


def test_threshold_user_filter_and_failing_on_unexpected(sandbox, run_playbook, evidence):
    tasks = [review(policies=[PART_A["id"]], expected_users=[ALICE, BOB], max_blocked_percent=1),
             dict(review(users=[BG2, SVC]), name="by user", register="by_user"),
             dict(review(policies=[PART_A["displayName"]], expected_users=[ALICE, BOB], fail_on_unexpected=True),
                  name="strict")]
    result = run_playbook(play(tasks), check=True)
    assert result.task("review")["passed"] is True  # 1 unexpected of 1205 sign-ins is below 1 %
    by_user = result.task("by user")
    assert by_user["sign_ins"] == 1  # breakglass02's sign-in is older than the window
    [part_b] = by_user["policies"]
    assert part_b["results"] == {"reportOnlyInterrupted": 1} and part_b["would_interrupt"][0]["user"] == SVC
    assert part_b["passed"] is False  # the service account was not named as expected
    strict = result.task("strict")
    assert result.rc != 0 and strict["msg"].startswith("Report-only results outside the expected set: ")
    assert BG1 in strict["msg"]
    filters = [e["query"]["$filter"] for e in sandbox.client.log(tenant=MSP) if e["path"] == "/v1.0/auditLogs/signIns"]
    assert any(f.endswith("and userPrincipalName eq '%s'" % BG2) for f in filters)


def test_clear_errors_for_no_licence_and_no_permission(sandbox, run_playbook, evidence, tmp_path):
    denied = dict(review(client_id=READER["client_id"], client_secret=READER["client_secret"]), ignore_errors=True,
                  name="denied")
    result = run_playbook(play([denied]), check=True)
    msg = result.task("denied")["msg"]
    assert "403 Authorization_RequestDenied" in msg and "AuditLog.Read.All" in msg
    assert READER["client_secret"] not in result.stdout
    fixture = dict(evidence)
    fixture["tenants"][MSP]["subscribedSkus"] = []
    path = tmp_path / "no-p1.json"
    path.write_text(json.dumps(fixture))
    sandbox.client.reset(fixture=str(path))
    result = run_playbook(play([review()]), check=True)
    msg = result.task("review")["msg"]
    assert "Authentication_RequestFromNonPremiumTenantOrB2CTenant" in msg and "Entra ID P1/P2" in msg


@pytest.mark.parametrize("options, option", [({"since": "last tuesday"}, "since"), ({"window_days": 0}, "window_days"),
                                             ({"expected_outside": ["203.0.113.0/33"]}, "expected_outside"),
                                             ({"max_blocked_percent": 120}, "max_blocked_percent")])
def test_bad_input_names_the_option(sandbox_reset, run_playbook, options, option):
    result = run_playbook(play([review(**options)]), check=True)
    assert result.rc != 0 and result.task("review")["invalid_option"] == option
    assert not [e for e in sandbox_reset.client.log(tenant=MSP) if "auditLogs" in e["path"]]
