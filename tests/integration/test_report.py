"""report.yml, the backups and restore.yml as users run them, against the sandbox.

The report is asserted against a fixture built here from the demo tenants: Woodgrove compliant (every policy that
can reach the MSP excludes it), Fabrikam with missing exclusions, Tailspin unreadable (403 on every call), and the
MSP tenant with a break-glass exclusion and a trusted-location hole in its MFA baseline. The page itself is checked
in headless Chromium (what a person sees after the script ran), and a screenshot is kept under build/.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import REPO, ansible_env, load_fixture, run_ansible_playbook

INVENTORY = REPO / "inventories" / "sandbox" / "hosts.yml"
MSP = "11111111-1111-4111-8111-111111111111"
FABRIKAM, NORTHWIND, TAILSPIN, WOODGROVE = ("22222222-2222-4222-8222-222222222222",
                                            "33333333-3333-4333-8333-333333333333",
                                            "44444444-4444-4444-8444-444444444444",
                                            "55555555-5555-4555-8555-555555555555")
TRUSTED = "0e0e0e0e-0000-4000-8000-00000000f00d"
SERVER_FIELDS = ("modifiedDateTime", "deletedDateTime")
ARTIFACTS = REPO / "build" / "test-artifacts"


def report_fixture(tmp_path):
    fixture = copy.deepcopy(load_fixture())
    msp = fixture["tenants"][MSP]
    msp["namedLocations"] = [{"@odata.type": "#microsoft.graph.ipNamedLocation", "id": TRUSTED,
                              "displayName": "Trusted - MSP Office", "isTrusted": True,
                              "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "203.0.113.0/24"}],
                              "createdDateTime": "2026-01-05T10:00:00Z", "modifiedDateTime": None}]
    msp["policies"][0]["conditions"]["locations"] = {"includeLocations": ["All"], "excludeLocations": [TRUSTED]}
    # Woodgrove: its second policy now excludes the MSP too, so nothing is missing there
    partner = fixture["tenants"][WOODGROVE]["policies"][1]["conditions"]["users"]["excludeGuestsOrExternalUsers"]
    partner["guestOrExternalUserTypes"] = "b2bCollaborationGuest,serviceProvider"
    partner["externalTenants"]["members"].append(MSP)
    fixture.setdefault("faults", {})
    path = tmp_path / "report-fixture.json"
    path.write_text(json.dumps(fixture))
    return path


def graph_writes(sandbox, since=0):
    return [e for e in sandbox.client.log(since=since) if e["api"] == "graph" and e["write"]]


def last_seq(sandbox):
    return max((e["seq"] for e in sandbox.client.log()), default=0)


@pytest.fixture(scope="module")
def report(sandbox, tmp_path_factory):
    """report.yml run once in check mode on the report fixture: (report.json, html path, playbook result, log)."""
    tmp = tmp_path_factory.mktemp("report")
    sandbox.client.reset(fixture=str(report_fixture(tmp)))
    sandbox.client.set_faults(tenant=TAILSPIN, forbidden=True)
    seq = last_seq(sandbox)
    dest = tmp / "out"
    result = run_ansible_playbook(str(REPO / "playbooks" / "report.yml"), ansible_env(sandbox.env), check=True,
                                  diff=False, inventory=str(INVENTORY),
                                  extra_vars={"report_dest": str(dest), "report_backup_root": str(tmp / "backups")})
    writes = graph_writes(sandbox, seq)
    sandbox.client.reset()
    assert result.rc == 0, result.stdout[-4000:]
    data = json.loads((dest / "report.json").read_text())
    return {"data": data, "html": dest / "index.html", "md": (dest / "report.md").read_text(), "writes": writes,
            "tenants": {t["name"]: t for t in data["tenants"]}}


def test_report_reads_only_and_shows_each_status(report):
    assert report["writes"] == []  # check mode and the drift check wrote nothing
    tenants = report["tenants"]
    assert set(tenants) == {"contoso-msp", "fabrikam", "northwind", "tailspin", "woodgrove"}
    assert tenants["woodgrove"]["status"] == "compliant", tenants["woodgrove"]["drift"]
    assert tenants["woodgrove"]["part_d"]["coverage"] == 100
    fab = tenants["fabrikam"]
    assert fab["status"] == "drift"
    assert fab["part_d"]["missing_policies"] == ["Admins need MFA", "Block legacy authentication", "Guests blocked (old)",
                                                 "Require MFA for all users"]
    assert "Part D: exclude the MSP from 'Require MFA for all users'" in fab["drift"]
    by_name = {p["name"]: p for p in fab["policies"]}
    assert by_name["Finance MFA"]["msp_exclusion_text"].startswith("not needed")
    assert by_name["Require MFA for all users"]["msp_exclusion"] is False
    assert by_name["Require MFA for all users"]["msp_exclusion_text"] == "missing: the policy includes all users"
    assert "breakglass@fabrikam.onmicrosoft.com" in by_name["Require MFA for all users"]["targets"]
    tsp = tenants["tailspin"]
    assert tsp["status"] == "failed" and tsp["status_label"] == "failed to read"
    assert "403" in tsp["error"] and "Authorization_RequestDenied" in tsp["error"]
    overview = report["data"]["overview"]
    assert overview["status"] == {"compliant": 1, "drift": 3, "failed": 1}
    assert overview["licences"] == {"P2": 1, "P1": 3, "none": 0}
    assert overview["relationships_known"] == 0 and overview["expiring"] == []


def test_partner_mfa_audit_names_the_break_glass_and_trusted_location_holes(report):
    mfa = report["tenants"]["contoso-msp"]["mfa"]
    assert report["data"]["partner_mfa"] == mfa
    assert mfa["status"] == "holes" and not mfa["covered"]
    holes = sorted((h["kind"], h["name"]) for h in mfa["holes"])
    assert holes == [("break_glass", "breakglass01@contoso-msp.onmicrosoft.com"),
                     ("break_glass", "breakglass02@contoso-msp.onmicrosoft.com"),
                     ("trusted_location", "Trusted - MSP Office")]
    assert any("trusted IPs" in n for n in report["data"]["not_visible"])
    # the client tenant that excludes the MSP: the GDAP exclusion is a sanctioned hole, declared for ScubaGear
    woodgrove = report["tenants"]["woodgrove"]
    assert woodgrove["mfa"]["status"] == "sanctioned_only"
    assert "GuestUserTypes:" in woodgrove["exports"]["scubagear"] and "- serviceProvider" in woodgrove["exports"]["scubagear"]
    assert "MT.1016" in woodgrove["exports"]["maester_note"]


def test_page_is_self_contained(report):
    page = report["html"].read_text()
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page, re.I)
    assert not re.search(r"url\(|@import|https?://", page.split("<main>", 1)[0], re.I)
    assert "failed to read" in page and "Trusted - MSP Office" in page
    assert "# " + report["data"]["title"] in report["md"] and "| tailspin | failed to read:" in report["md"]


def chromium():
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (tests/run_all.sh installs Debian's package when run as root)")
        pytest.skip("chromium is not installed (tests/run_all.sh installs it when run as root)")
    return found


def browser(url, *args):
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--user-data-dir=%s" % (ARTIFACTS / "chromium-profile")] + list(args) + [url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def visible_rows(dom):
    """(tenant, status text) of the table rows the script did not hide."""
    rows = re.findall(r'<tr class="tenant-row[^"]*"([^>]*)>(.*?)</tr>', dom, re.S)
    out = []
    for attrs, body in rows:
        if re.search(r"\bhidden\b", attrs):
            continue
        tenant = re.search(r'data-tenant="([^"]+)"', attrs).group(1)
        badge = re.search(r'<span class="badge (\w+)">([^<]+)</span>', body).group(2)
        out.append((tenant, badge))
    return out


def test_page_in_a_real_browser(report):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    url = report["html"].resolve().as_uri()
    page = browser(url, "--dump-dom", "--virtual-time-budget=3000")
    assert page.returncode == 0, page.stderr[-2000:]
    dom = page.stdout
    assert 'data-ready="true"' in dom  # the inline script ran
    assert re.search(r'id="count-failed">1<', dom) and re.search(r'id="count-compliant">1<', dom)
    assert '<span id="shown">5 of 5 tenants</span>' in dom
    assert ("tailspin", "failed to read") in visible_rows(dom)
    # the filter, driven through the address: only the failing tenant is left
    filtered = browser(url + "#status=failed", "--dump-dom", "--virtual-time-budget=3000").stdout
    assert '<span id="shown">1 of 5 tenants</span>' in filtered
    assert visible_rows(filtered) == [("tailspin", "failed to read")]
    # sorting by Part D coverage (the column header's click, through the address): worst first, then the 100%
    ordered = browser(url + "#sort=partd", "--dump-dom", "--virtual-time-budget=3000").stdout
    assert [t for t, _ in visible_rows(ordered)][-1] == "woodgrove"
    assert [t for t, _ in visible_rows(ordered)][:2] == ["contoso-msp", "tailspin"]  # no Part D figure: -1
    shot = ARTIFACTS / "report.png"
    if shot.exists():
        shot.unlink()
    taken = browser(url, "--screenshot=%s" % shot, "--window-size=1280,1700")
    assert taken.returncode == 0 and shot.stat().st_size > 20000, taken.stderr[-2000:]


# -- backups and restore ---------------------------------------------------------------------------
def state(sandbox):
    """Every policy and named location of every tenant, without the fields the server moves on each write."""
    out = {}
    for tid in (MSP, FABRIKAM, NORTHWIND, TAILSPIN, WOODGROVE):
        tenant = sandbox.client.tenant(tid)
        for kind in ("policies", "namedLocations"):
            for obj in tenant[kind]:
                out[(tid, kind, obj["id"])] = json.dumps({k: v for k, v in obj.items() if k not in SERVER_FIELDS},
                                                         sort_keys=True)
    return out


def run_with_backups(sandbox, playbook, run_time, check=False, extra_vars=None):
    env = ansible_env(dict(sandbox.env, MSP_CA_RUN_TIME=run_time))
    return run_ansible_playbook(str(REPO / "playbooks" / playbook), env, check=check, inventory=str(INVENTORY),
                                extra_vars=extra_vars)


@pytest.fixture
def backups_dir():
    run_time = "test-%s" % uuid.uuid4().hex[:8]
    yield run_time, REPO / "build" / "backups" / run_time
    shutil.rmtree(REPO / "build" / "backups" / run_time, ignore_errors=True)


def test_backups_before_every_write_never_in_check_mode_and_restore_round_trip(sandbox_reset, backups_dir):
    sandbox = sandbox_reset
    run_time, root = backups_dir
    before = state(sandbox)
    fixture_objects = {key[2]: json.loads(value) for key, value in before.items()}

    checked = run_with_backups(sandbox, "site.yml", run_time, check=True)
    assert checked.rc == 0 and not root.exists()  # check mode: no backup

    seq = last_seq(sandbox)
    applied = run_with_backups(sandbox, "site.yml", run_time)
    assert applied.rc == 0, applied.stdout[-3000:]
    writes = graph_writes(sandbox, seq)
    changes = [w for w in writes if w["method"] in ("PATCH", "DELETE")]
    assert changes, "site.yml changed nothing to back up"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    for write in changes:
        object_id = write["path"].rstrip("/").rsplit("/", 1)[-1]
        kind = "policy" if "/policies/" in write["path"] else "named_location"
        backup = root / write["tenant"] / ("%s-%s.json" % (kind, object_id))
        assert backup.exists(), "no backup before %s %s" % (write["method"], write["path"])
        assert stat.S_IMODE(backup.stat().st_mode) == 0o600
        assert stat.S_IMODE(backup.parent.stat().st_mode) == 0o700
        record = json.loads(backup.read_text())
        # saved before the write: the content is the state before the run, and the file predates the request
        assert {k: v for k, v in record["object"].items() if k not in SERVER_FIELDS} == \
            {k: v for k, v in fixture_objects[object_id].items() if k not in SERVER_FIELDS}
        assert backup.stat().st_mtime <= write["time"] + 0.001
    created = sorted(p.name for p in root.glob("*/created-*.json"))
    assert any(n.startswith("created-policy-") for n in created) and any("named_location" in n for n in created)
    assert state(sandbox) != before

    # check mode of the restore: what would be put back, nothing written
    seq = last_seq(sandbox)
    dry = run_with_backups(sandbox, "restore.yml", run_time + "-undo", check=True,
                           extra_vars={"backup": str(root), "restore_remove_created": True})
    assert dry.rc == 0, dry.stdout[-3000:]
    assert graph_writes(sandbox, seq) == []
    assert dry.task("Restore the tenant's policies and named locations", host="fabrikam")["changed"] is True

    undo = run_with_backups(sandbox, "restore.yml", run_time + "-undo",
                            extra_vars={"backup": str(root), "restore_remove_created": True})
    assert undo.rc == 0, undo.stdout[-3000:]
    after = state(sandbox)
    assert sorted(after) == sorted(before)
    for key in before:
        assert after[key] == before[key], key  # byte for byte, server fields aside
    again = run_with_backups(sandbox, "restore.yml", run_time + "-again",
                             extra_vars={"backup": str(root), "restore_remove_created": True})
    assert again.rc == 0 and again.changed == 0
    shutil.rmtree(REPO / "build" / "backups" / (run_time + "-undo"), ignore_errors=True)
    shutil.rmtree(REPO / "build" / "backups" / (run_time + "-again"), ignore_errors=True)


def test_restore_refuses_a_backup_of_another_tenant(sandbox_reset, backups_dir):
    sandbox = sandbox_reset
    run_time, root = backups_dir
    assert run_with_backups(sandbox, "client_tenants.yml", run_time).rc == 0
    seq = last_seq(sandbox)
    result = run_with_backups(sandbox, "restore.yml", run_time + "-x", extra_vars={
        "backup": str(root / FABRIKAM), "restore_hosts": "woodgrove"})
    assert result.rc != 0
    failure = result.task("Restore the tenant's policies and named locations", host="woodgrove")
    assert "holds a backup of tenant %s, not of tenant_id %s" % (FABRIKAM, WOODGROVE) in failure["msg"]
    assert failure["invalid_option"] == "backup"
    assert graph_writes(sandbox, seq) == []


def test_deleted_policy_and_location_come_back_with_their_ids(sandbox_reset, backups_dir):
    sandbox = sandbox_reset
    run_time, root = backups_dir
    office = {"@odata.type": "#microsoft.graph.ipNamedLocation", "id": TRUSTED, "displayName": "Fabrikam office",
              "isTrusted": False, "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange",
                                                "cidrAddress": "198.51.100.0/24"}]}
    sandbox.client.put_location(FABRIKAM, office)
    before = state(sandbox)
    play = """
- hosts: fabrikam
  connection: local
  gather_facts: false
  tasks:
    - name: delete a policy
      msp.conditional_access.ca_policy: {tenant_id: "{{ tenant_id }}", display_name: Finance MFA, state: absent}
      register: deleted_policy
    - name: delete a location
      msp.conditional_access.ca_named_location: {tenant_id: "{{ tenant_id }}", display_name: Fabrikam office, state: absent}
      register: deleted_location
"""
    env = ansible_env(dict(sandbox.env, MSP_CA_RUN_TIME=run_time))
    gone = run_ansible_playbook(play, env, inventory=str(INVENTORY))
    assert gone.rc == 0, gone.stdout[-3000:]
    assert gone.task("delete a policy", host="fabrikam")["backups"][0].startswith(str(root / FABRIKAM / "policy-"))
    assert gone.task("delete a location", host="fabrikam")["backups"] == [str(root / FABRIKAM /
                                                                              ("named_location-%s.json" % TRUSTED))]
    assert len(state(sandbox)) == len(before) - 2
    back = run_with_backups(sandbox, "restore.yml", run_time + "-undo", extra_vars={
        "backup": str(root), "restore_hosts": "fabrikam"})
    assert back.rc == 0, back.stdout[-3000:]
    actions = {e["display_name"]: e["action"] for e in
               back.task("Restore the tenant's policies and named locations", host="fabrikam")["restored"]}
    assert actions == {"Finance MFA": "restored", "Fabrikam office": "restored"}
    assert state(sandbox) == before  # same ids, same content
    shutil.rmtree(REPO / "build" / "backups" / (run_time + "-undo"), ignore_errors=True)
