"""The report's decisions (status per tenant, drift, relationships, last backup) and its three renderings."""

import datetime
import json

from ansible_collections.msp.conditional_access.plugins.module_utils import _backup, _report

NOW = datetime.datetime(2026, 12, 1, 20, 0, tzinfo=datetime.timezone.utc)
MFA = {"status": "covered", "status_text": "every account is covered", "covered": True, "open_holes": 0, "holes": [],
       "break_glass": [], "baseline_policy": "MFA all", "security_defaults_enabled": False, "not_visible": ["x"],
       "scubagear": None, "maester": {}, "maester_note": None}
POLICY = {"id": "p1", "display_name": "MFA all", "policy_state": "enabled", "managed": False,
          "conditions": {"users": {"include_users": ["All"], "exclude_users": ["breakglass@x"]},
                         "applications": {"include_applications": ["All"]}},
          "grant_controls": {"operator": "OR", "built_in_controls": ["mfa"]}}


def client(name, excluded=True, **extra):
    host = {"name": name, "tenant_id": "tid-" + name, "role": "client", "mode": "gdap",
            "tenant_info": {"licenses": {"entra_id_p1": True, "entra_id_p2": False}, "security_defaults_enabled": False},
            "policies": {"policies": [POLICY]},
            "exclusions": {"policies": [{"id": "p1", "display_name": "MFA all", "targeting": True,
                                         "targeting_reason": "includes all users", "excluded": excluded}]},
            "mfa": MFA, "part_d": {"policies": [{"display_name": "MFA all",
                                                  "action": "already_excluded" if excluded else "excluded"}]},
            "drift_summaries": []}
    host.update(extra)
    return host


def test_status_per_tenant_and_the_failing_one_does_not_stop_the_others():
    failing = client("broken", tenant_info={"failed": True, "msg": "HTTP 403 Authorization_RequestDenied"},
                     policies=None, exclusions=None, mfa=None)
    report = _report.build([client("ok"), client("missing", excluded=False), failing], now=NOW)
    by_name = {t["name"]: t for t in report["tenants"]}
    assert by_name["ok"]["status"] == "compliant" and by_name["ok"]["part_d"]["coverage"] == 100
    assert by_name["missing"]["status"] == "drift"
    assert by_name["missing"]["drift"] == ["Part D: exclude the MSP from 'MFA all'"]
    assert by_name["missing"]["policies"][0]["msp_exclusion_text"] == "missing: the policy includes all users"
    assert by_name["broken"]["status"] == "failed"
    assert by_name["broken"]["error"] == "tenant: HTTP 403 Authorization_RequestDenied"
    assert report["overview"]["status"] == {"compliant": 1, "drift": 1, "failed": 1}
    assert by_name["ok"]["policies"][0]["targets"] == "users: All; except breakglass@x; apps: All"
    assert by_name["ok"]["policies"][0]["controls"] == "mfa"


def test_role_summaries_in_forced_check_mode_count_as_drift():
    msp = client("msp", role="msp", exclusions=None, part_d=None, drift_summaries=[
        'Step 1 location "Trusted": ok', 'Part A policy "CA200": changed (report_only)',
        "Part B service account exclusions: already_excluded=3", "Part B service account exclusions: excluded=1"])
    record = _report.build([msp], now=NOW)["tenants"][0]
    assert record["drift"] == ['Part A policy "CA200": would change (report_only)',
                               "Part B service account exclusions: excluded=1"]
    assert record["part_d"] is None and record["policies"][0]["msp_exclusion_text"] == "n/a (MSP tenant)"


def test_relationships_ending_soon_and_their_absence():
    soon = client("soon", gdap_relationship_end="2026-12-10T00:00:00Z", gdap_auto_extend="PT0S")
    extended = client("extended", gdap_relationship_end="2026-12-10T00:00:00Z", gdap_auto_extend="P180D")
    report = _report.build([soon, extended, client("unknown")], now=NOW)
    assert [e["name"] for e in report["overview"]["expiring"]] == ["soon"]
    assert report["overview"]["expiring"][0]["days_left"] == 8
    assert report["overview"]["relationships_known"] == 2
    assert {t["name"]: t["relationship"] for t in report["tenants"]}["unknown"] is None


def test_last_backup_is_the_newest_run_of_the_tenant(tmp_path):
    for run in ("20261130T100000Z", "20261201T100000Z"):
        _backup.save(str(tmp_path / run), "tid-ok", "PATCH", "/identity/conditionalAccess/policies/p1", {"id": "p1"})
    record = _report.build([client("ok")], backup_root=str(tmp_path), now=NOW)["tenants"][0]
    assert record["last_backup"]["run"] == "20261201T100000Z" and record["last_backup"]["policies"] == 1


def test_renderings_carry_the_same_facts(tmp_path):
    failing = client("broken<script>", tenant_info={"failed": True, "msg": "token refused <b>"})
    report = _report.build([client("ok"), failing], now=NOW)
    paths = _report.write(report, str(tmp_path))
    page = open(paths["html"]).read()
    assert "broken&lt;script&gt;" in page and "<b>" not in page  # names and messages are escaped
    assert 'id="count-failed">1<' in page and "<svg" in page
    assert json.loads(open(paths["json"]).read())["overview"]["status"]["failed"] == 1
    assert "| broken<script> | failed to read: tenant: token refused <b> |" in open(paths["markdown"]).read()


def test_the_chart_stays_one_screen_at_500_tenants():
    part_d = [{"name": "t%03d" % i, "coverage": i % 101, "status": "drift"} for i in range(500)]
    svg = _report.chart_svg(part_d)
    assert svg.count("<rect") == 500 and "<text x" not in svg.split("%</text>", 3)[-1]  # no per-tenant labels
    small = _report.chart_svg(part_d[:3] + [{"name": "gone", "coverage": None, "status": "failed"}])
    assert "failed to read" in small and small.index("gone") < small.index("t000")  # worst first


def test_a_failed_drift_check_is_drift_with_the_reason_not_a_failed_read():
    host = client("ok", drift_failure={"failed": True, "msg": "CIPP-API: no answer"})
    record = _report.build([host], now=NOW)["tenants"][0]
    assert record["status"] == "drift"
    assert record["drift"] == ["could not check what a run would change: CIPP-API: no answer"]
