"""tenant_report (the run summary and fail_on_drift) and the role-input source rule, on registered results."""

from __future__ import annotations

from ansible_collections.msp.conditional_access.plugins.filter.tenant_report import tenant_report
from ansible_collections.msp.conditional_access.plugins.plugin_utils._role_inputs import source_variables

MSP_HOST = {
    "tenant_id": "11111111-1111-4111-8111-111111111111",
    "trusted_location_results": {"changed": True, "results": [
        {"changed": True, "item": {"name": "Trusted - MSP Office"}},
        {"changed": False, "item": {"name": "Branch"}}]},
    "technician_access_result": {"changed": True, "policy": {"displayName": "CA200-Admins"}},
    "service_account_mfa_result": {"changed": False, "policy": {"displayName": "CA600-SA"}},
    "service_account_mfa_exclusions": {"changed": True, "policies": [
        {"display_name": "CA001", "action": "excluded"},
        {"display_name": "CA003", "action": "excluded", "warnings": ["kept a partner tenant"]},
        {"display_name": "CA002", "action": "already_excluded", "warnings": ["not repeated: nothing changed"]}]},
    "cipp_api_allowlist_results": {"results": [{"changed": False, "item": {"client": "RMM"}},
                                               {"changed": True, "item": {"client": "PSA"}}]},
    "preflight_summary": ["PASS Entra ID P1/P2 licence: P2", "FAIL Security defaults: ENABLED"],
}


def test_every_changed_location_policy_exclusion_and_client_is_named():
    report = tenant_report(MSP_HOST, check_mode=True)
    assert report["changes"] == [
        'would change: Step 1 location "Trusted - MSP Office"',
        'would change: Part A policy "CA200-Admins"',
        'would change: Part B exclusion: policy "CA001": excluded',
        'would change: Part B exclusion: policy "CA003": excluded',
        'would change: Part C API client "PSA"',
    ]
    # a warning belongs to the run that changes its policy: an unchanged policy's warning is not repeated
    assert report["warnings"] == ['Part B exclusion: policy "CA003": kept a partner tenant']
    assert report["failed"] == ""
    assert "FAIL Security defaults: ENABLED" in report["lines"]
    assert tenant_report(MSP_HOST)["changes"][0].startswith("changed: ")


def test_a_step_that_did_not_run_is_no_failure():
    """--tags preflight: a client tenant's Part D never ran (a skipped register), which is not FAILED."""
    skipped = {"client_exclusion_result": {"skipped": True, "changed": False}, "tenant_id": "x"}
    for hostvars in ({}, skipped):
        report = tenant_report(hostvars)
        assert report == {"failed": "", "changes": [], "warnings": [], "lines": ["no change"]}


def test_a_failed_tenant_says_so_and_keeps_what_it_changed_before():
    hostvars = {"msp_ca_failure": "Part D: GET /policies HTTP 403",
                "client_exclusion_result": {"policies": [
                    {"display_name": "MFA all", "action": "excluded"},
                    {"display_name": "Legacy", "action": "failed", "reason": "HTTP 429"},
                    {"display_name": "Guests", "action": "not_attempted"}]}}
    report = tenant_report(hostvars)
    assert report["failed"] == "Part D: GET /policies HTTP 403"
    assert report["lines"][0] == "FAILED: Part D: GET /policies HTTP 403"
    assert report["changes"] == ['changed: Part D policy "MFA all": excluded',
                                 'changed: Part D policy "Legacy": FAILED HTTP 429']


def test_source_variables_names_what_the_user_set():
    raw = "{{ technician_policy_state | default('report_only') }}"
    assert source_variables(raw, {"technician_policy_state"}) == ["technician_policy_state"]
    assert source_variables(raw, set()) == []  # not set by the user: the literal default applies
    assert source_variables("{{ access_mode | default('gdap') }}", {"access_mode", "x"}) == ["access_mode"]
    # two sources, in the order the default reads them; the role's own options are not "what the user set"
    two = "{{ msp_tenant_id | default(tenant_id | default('')) }}"
    assert source_variables(two, {"msp_tenant_id", "tenant_id"}) == ["msp_tenant_id", "tenant_id"]
    assert source_variables("{{ a_own + b }}", {"a_own", "b"}, exclude={"a_own"}) == ["b"]
    assert source_variables("plain", {"plain"}) == [] and source_variables(["{{ x }}"], {"x"}) == []
    assert source_variables("{{ broken", {"broken"}) == []

