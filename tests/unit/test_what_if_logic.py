"""The gate's verdicts: outcome of an evaluate answer (_what_if) and the report-only evidence summary (_signin_review)."""

import datetime

import pytest

from ansible_collections.msp.conditional_access.plugins.module_utils._module import InvalidOption
from ansible_collections.msp.conditional_access.plugins.module_utils._signin_review import networks, parse_since, summarise
from ansible_collections.msp.conditional_access.plugins.module_utils._what_if import holds, outcome

RO = "enabledForReportingButNotEnforced"


def answer(state, controls=(), applies=True, strength=None):
    grant = {"builtInControls": list(controls)}
    if strength:
        grant["authenticationStrength"] = {"id": strength}
    return {"id": state + "-".join(controls), "displayName": "p", "state": state, "policyApplies": applies,
            "grantControls": grant}


@pytest.mark.parametrize("results, report_only, expected", [
    ([answer("enabled", ["mfa"]), answer(RO, ["block"])], True, "blocked"),
    ([answer("enabled", ["mfa"]), answer(RO, ["block"])], False, "mfa"),
    ([answer("enabled", ["block"], applies=False), answer("enabled", [], strength="00000000-0000-0000-0000-000000000002")],
     True, "mfa"),
    ([answer("enabled", ["compliantDevice"])], True, "not_blocked"),
    ([answer("disabled", ["block"])], True, "granted"),
    ([], True, "granted"),
])
def test_outcome(results, report_only, expected):
    assert outcome(results, report_only)[0] == expected


def test_not_blocked_holds_for_every_outcome_but_blocked():
    assert [holds("not_blocked", o) for o in ("blocked", "mfa", "not_blocked", "granted")] == [False, True, True, True]
    assert holds("mfa", "mfa") and not holds("mfa", "granted") and not holds("granted", "mfa")


def event(upn, ip, result, pid="a"):
    return {"userPrincipalName": upn, "ipAddress": ip, "createdDateTime": "2026-11-30T10:00:00Z",
            "appliedConditionalAccessPolicies": [{"id": pid, "displayName": "Part A", "result": result}]}


def test_summary_expected_unexpected_and_threshold():
    office = networks(["203.0.113.0/24"], "expected_outside")
    sign_ins = [event("alice@x", "198.51.100.1", "reportOnlyFailure"), event("bg@x", "198.51.100.2", "reportOnlyFailure"),
                event("alice@x", "203.0.113.9", "reportOnlyInterrupted"), event("bob@x", "203.0.113.9", "reportOnlySuccess")]
    [strict] = summarise(sign_ins, ["Part A"], ["ALICE@x"], office)
    assert strict["results"] == {"reportOnlyFailure": 2, "reportOnlyInterrupted": 1, "reportOnlySuccess": 1}
    assert [(u["user"], u["reason"]) for u in strict["unexpected"]] == [
        ("bg@x", "not among the expected users"), ("alice@x", "from 203.0.113.9, inside the ranges it must not affect")]
    assert strict["blocked_percent"] == 75.0 and strict["unexpected_percent"] == 50.0 and strict["passed"] is False
    assert strict["why"][0].startswith("alice@x: 1 sign-in(s) the policy would have interrupted (203.0.113.9;")
    assert summarise(sign_ins, ["a"], ["alice@x"], office, max_blocked_percent=50)[0]["passed"] is True
    assert summarise(sign_ins, ["other policy"]) == []


def test_window_start():
    now = datetime.datetime(2026, 12, 1, 20, 0, tzinfo=datetime.timezone.utc)
    assert parse_since(None, 7, now) == "2026-11-24T20:00:00Z"
    assert parse_since("2026-11-24", 7, now) == "2026-11-24T00:00:00Z"
    assert parse_since("2026-11-24T08:00:00+02:00", 7, now) == "2026-11-24T06:00:00Z"
    with pytest.raises(InvalidOption) as caught:
        parse_since("yesterday", 7, now)
    assert caught.value.option == "since"
