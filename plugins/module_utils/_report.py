# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report: what report.yml gathered per tenant, turned into report.json, report.md and one HTML page.

PRIVATE to the msp.conditional_access collection: the API may change without notice.

``build(tenants, ...)`` takes, per tenant, the raw results of the read modules (``ca_tenant_info``,
``ca_policy_info``, ``ca_client_exclusion_info``, ``ca_mfa_coverage_info``) and of the guide's roles run in
check mode, and decides the tenant's status: ``failed`` (a read failed: the reason is shown, the other
tenants are not affected), ``drift`` (a run would change something) or ``compliant``. ``html``/``markdown``
render the same data. The page is self-contained (inline CSS, SVG and a small script; no fonts, images or
links to fetch) so that it opens offline and can be mailed; the script sorts and filters the tenant table and
the sections, which stays usable at 500 tenants because the sections are collapsed ``<details>``.
"""

from __future__ import annotations

import datetime
import json
import os
import re

from ._backup import last_backup

FAILED, DRIFT, COMPLIANT = "failed", "drift", "compliant"
STATUS_LABELS = {FAILED: "failed to read", DRIFT: "drift", COMPLIANT: "compliant"}
STATE_LABELS = {"enabled": "on", "report_only": "report-only", "disabled": "off",
                "enabledForReportingButNotEnforced": "report-only"}
# what a role's summary line says when check mode found something to do
CHANGED = re.compile(r":\s*(?:would change|changed)\b", re.I)
COUNT = re.compile(r"\b(\w+)=(\d+)")
PART_D_CHANGES = {"excluded": "exclude the MSP from", "cloned": "clone and disable",
                  "removed": "remove the MSP exclusion from"}


def _failed(result):
    """A read that failed, or never ran because an earlier read of the tenant failed."""
    return not isinstance(result, dict) or bool(result.get("failed"))


def _message(result):
    if not isinstance(result, dict):
        return "not read (an earlier read of this tenant failed)"
    return str(result.get("msg") or "failed without a message")


def _join(values):
    return ", ".join(str(v) for v in values or [])


def targets_text(policy):
    """Who and what a policy (ca_policy_info form, with names) applies to, in one line."""
    cond = policy.get("conditions") or {}
    users = cond.get("users") or {}
    parts = []
    include = (users.get("include_users") or []) + ["group %s" % g for g in users.get("include_groups") or []] + \
        ["role %s" % r for r in users.get("include_roles") or []]
    guests = users.get("include_guests_or_external_users")
    if guests:
        include.append("guests (%s)" % _join(guests.get("guest_or_external_user_types")))
    parts.append("users: %s" % (_join(include) or "none"))
    exclude = (users.get("exclude_users") or []) + ["group %s" % g for g in users.get("exclude_groups") or []] + \
        ["role %s" % r for r in users.get("exclude_roles") or []]
    guests = users.get("exclude_guests_or_external_users")
    if guests:
        tenants = guests.get("external_tenants") or {}
        scope = _join(tenants.get("members")) if tenants.get("membership_kind") == "enumerated" else "all tenants"
        exclude.append("%s of %s" % (_join(guests.get("guest_or_external_user_types")), scope))
    if exclude:
        parts.append("except %s" % _join(exclude))
    apps = cond.get("applications") or {}
    parts.append("apps: %s" % (_join(apps.get("include_applications") or apps.get("include_user_actions")
                                     or apps.get("include_authentication_context_class_references")) or "none"))
    if apps.get("exclude_applications"):
        parts.append("except %s" % _join(apps["exclude_applications"]))
    locations = cond.get("locations") or {}
    if locations:
        text = "locations: %s" % (_join(locations.get("include_locations")) or "any")
        if locations.get("exclude_locations"):
            text += " except %s" % _join(locations["exclude_locations"])
        parts.append(text)
    if cond.get("client_app_types") and cond["client_app_types"] != ["all"]:
        parts.append("client apps: %s" % _join(cond["client_app_types"]))
    for key in ("user_risk_levels", "sign_in_risk_levels"):
        if cond.get(key):
            parts.append("%s: %s" % (key.replace("_", " "), _join(cond[key])))
    return "; ".join(parts)


def controls_text(policy):
    grant = policy.get("grant_controls") or {}
    parts = []
    controls = list(grant.get("built_in_controls") or [])
    if grant.get("authentication_strength"):
        controls.append("authentication strength %s" % grant["authentication_strength"])
    if grant.get("terms_of_use"):
        controls.append("terms of use")
    if controls:
        parts.append((" %s " % (grant.get("operator") or "OR")).join(controls))
    session = policy.get("session_controls") or {}
    if session:
        parts.append("session: %s" % _join(sorted(session)))
    return "; ".join(parts) or "none"


def exclusion_text(entry):
    """Part D per policy: present, missing (and why it matters), or not needed."""
    if entry is None:
        return None, "not checked"
    if entry.get("excluded"):
        return True, "present"
    if entry.get("targeting"):
        return False, "missing: the policy %s" % (entry.get("targeting_reason") or "can reach the MSP's users")
    return None, "not needed: the policy cannot reach the MSP's users"


def relationship(host, now, expiring_days):
    end = host.get("gdap_relationship_end")
    if not end:
        return None
    try:
        when = datetime.datetime.fromisoformat(str(end).replace("Z", "+00:00"))
    except ValueError:
        return {"end": str(end), "days_left": None, "expiring": False, "auto_extend": host.get("gdap_auto_extend")}
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    auto = host.get("gdap_auto_extend")
    if isinstance(auto, str):
        auto = auto.upper() not in ("", "PT0S", "FALSE", "NO", "0")
    days = (when - now).days
    return {"end": when.isoformat(), "days_left": days, "auto_extend": auto,
            "expiring": days <= expiring_days and not auto}


def licence(tenant_info):
    lic = (tenant_info or {}).get("licenses")
    if not lic:
        return None
    return "P2" if lic.get("entra_id_p2") else "P1" if lic.get("entra_id_p1") else "none"


def drift_items(host):
    """What a run of the guide would change here, from the roles run in check mode (report.yml forces check
    mode per task, so a role's summary says 'changed' or 'would change' for the same thing)."""
    items = [CHANGED.sub(": would change", str(line)) for line in host.get("drift_summaries") or []
             if _says_change(str(line))]
    part_d = host.get("part_d")
    if isinstance(part_d, dict) and not part_d.get("failed"):
        for entry in part_d.get("policies") or []:
            if entry.get("action") in PART_D_CHANGES:
                items.append("Part D: %s %r" % (PART_D_CHANGES[entry["action"]], entry.get("display_name")))
    return items


def _says_change(line):
    if CHANGED.search(line):
        return True
    return any(key in PART_D_CHANGES and int(n) > 0 for key, n in COUNT.findall(line))


def tenant_record(host, now, backup_root, expiring_days):
    # in report.yml's order, so that the first failure is the one that stopped the reads
    reads = [("tenant", host.get("tenant_info")), ("policies", host.get("policies"))]
    if host.get("role") != "msp":
        reads.append(("exclusions", host.get("exclusions")))
    reads.append(("mfa", host.get("mfa")))
    failures = [(what, _message(result)) for what, result in reads if _failed(result)]
    # a drift check that failed (Part C without CIPP-API credentials, say) leaves the reads standing: the tenant is
    # shown as drift with the reason, never as compliant
    drift_errors = sorted({"could not check what a run would change: " + _message(host[what])
                           for what in ("part_d", "drift_failure")
                           if isinstance(host.get(what), dict) and host[what].get("failed")})
    record = {
        "name": host.get("name"), "tenant_id": host.get("tenant_id"), "role": host.get("role") or "client",
        "mode": host.get("mode"), "display_name": host.get("display_name") or host.get("name"),
        "relationship": relationship(host, now, expiring_days),
        "last_backup": last_backup(backup_root, host.get("tenant_id")),
    }
    if failures:
        first = failures[0]
        record.update(status=FAILED, status_label=STATUS_LABELS[FAILED],
                      error="%s: %s" % (first[0], first[1]), errors=["%s: %s" % f for f in failures],
                      licence=None, security_defaults=None, policies=[], policy_counts=None, managed=[],
                      part_d=None, mfa=None, drift=[], exports=None)
        return record
    info = host["tenant_info"]
    exclusions = {e.get("id"): e for e in (host.get("exclusions") or {}).get("policies") or []}
    policies = []
    for entry in (host["policies"].get("policies") or []):
        present, why = exclusion_text(exclusions.get(entry.get("id"))) if record["role"] != "msp" else \
            (None, "n/a (MSP tenant)")
        policies.append({"id": entry.get("id"), "name": entry.get("display_name"),
                         "state": STATE_LABELS.get(entry.get("policy_state"), entry.get("policy_state")),
                         "managed": bool(entry.get("managed")), "targets": targets_text(entry),
                         "controls": controls_text(entry), "msp_exclusion": present, "msp_exclusion_text": why})
    counts = {"total": len(policies), "enabled": sum(p["state"] == "on" for p in policies),
              "report_only": sum(p["state"] == "report-only" for p in policies),
              "disabled": sum(p["state"] == "off" for p in policies),
              "microsoft_managed": sum(p["managed"] for p in policies)}
    part_d = None
    if record["role"] != "msp":
        targeting = [e for e in exclusions.values() if e.get("targeting")]
        covered = [e for e in targeting if e.get("excluded")]
        part_d = {"targeting": len(targeting), "excluded": len(covered), "missing": len(targeting) - len(covered),
                  "coverage": round(100.0 * len(covered) / len(targeting)) if targeting else 100,
                  "missing_policies": sorted(e.get("display_name") for e in targeting if not e.get("excluded"))}
    mfa = host["mfa"]
    drift = drift_errors + drift_items(host)
    if part_d and part_d["missing"] and not host.get("part_d"):
        drift += ["Part D: exclude the MSP from %r" % name for name in part_d["missing_policies"]]
    status = DRIFT if drift else COMPLIANT
    record.update(
        status=status, status_label=STATUS_LABELS[status], error=None, errors=[],
        licence=licence(info), security_defaults=info.get("security_defaults_enabled"),
        policies=policies, policy_counts=counts, managed=[p["name"] for p in policies if p["managed"]],
        part_d=part_d, drift=drift,
        mfa={k: mfa.get(k) for k in ("status", "status_text", "covered", "open_holes", "holes", "break_glass",
                                     "baseline_policy", "security_defaults_enabled")},
        exports={"scubagear": mfa.get("scubagear"), "maester": mfa.get("maester"),
                 "maester_note": mfa.get("maester_note")},
        permissions={k: v for k, v in (info.get("permissions") or {}).items() if v != "ok"},
    )
    return record


def build(tenants, backup_root=None, now=None, expiring_days=30, title=None):
    """report.json's content: the fleet overview first, then one record per tenant (MSP tenant first)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    records = [tenant_record(t, now, backup_root, expiring_days) for t in tenants]
    records.sort(key=lambda r: (r["role"] != "msp", (r["display_name"] or "").lower()))
    ok = [r for r in records if r["status"] != FAILED]
    overview = {
        "tenants": len(records),
        "status": {s: sum(r["status"] == s for r in records) for s in (COMPLIANT, DRIFT, FAILED)},
        "licences": {k: sum(r["licence"] == k for r in ok) for k in ("P2", "P1", "none")},
        "security_defaults_on": [r["name"] for r in ok if r["security_defaults"]],
        "mfa_covered": sum(bool(r["mfa"] and r["mfa"]["covered"]) for r in ok),
        "mfa_holes": sum(bool(r["mfa"] and not r["mfa"]["covered"]) for r in ok),
        "part_d": [{"name": r["name"], "coverage": r["part_d"]["coverage"] if r["part_d"] else None,
                    "status": r["status"]} for r in records if r["role"] != "msp"],
        "relationships_known": sum(r["relationship"] is not None for r in records),
        "expiring": [{"name": r["name"], "end": r["relationship"]["end"], "days_left": r["relationship"]["days_left"]}
                     for r in records if r["relationship"] and r["relationship"]["expiring"]],
        "expiring_days": expiring_days,
    }
    msp = next((r for r in records if r["role"] == "msp"), None)
    return {"title": title or "Conditional Access fleet report", "generated_at": now.isoformat(timespec="seconds"),
            "overview": overview, "partner_mfa": (msp or {}).get("mfa"),
            "msp_tenant": msp["name"] if msp else None, "tenants": records,
            "not_visible": _not_visible(tenants)}


def _not_visible(tenants):
    for host in tenants:
        notes = (host.get("mfa") or {}).get("not_visible") if isinstance(host.get("mfa"), dict) else None
        if notes:
            return notes
    return []


# -- rendering ------------------------------------------------------------------------------------
def chart_svg(part_d):
    """Part D coverage per client tenant, worst first: a labelled bar per tenant up to 40 tenants, beyond that one
    thin column each (the name in a tooltip), so the chart stays one screen high at 500 tenants."""
    rows = sorted(part_d, key=lambda r: (r["coverage"] is not None, r["coverage"] or 0, r["name"]))
    out = []

    def draw(x, y, w, h, row):
        pct = row["coverage"]
        cls = "bar-failed" if pct is None else "bar-full" if pct == 100 else "bar-part" if pct >= 50 else "bar-low"
        out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="%s"><title>%s: %s</title></rect>'
                   % (x, y, w, h, cls, _esc(row["name"]), "failed to read" if pct is None else "%d%%" % pct))

    if len(rows) <= 40:
        width, left, line = 960, 200, 22
        height = line * len(rows) + 24
        out.append('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" style="max-width:%dpx" '
                   'role="img" aria-label="Part D coverage per client tenant" class="chart">' % (width, height, width))
        span = width - left - 60
        for pct in (0, 50, 100):
            x = left + span * pct / 100.0
            out.append('<line x1="%.1f" x2="%.1f" y1="0" y2="%d" class="grid"/><text x="%.1f" y="%d" class="axis" '
                       'text-anchor="middle">%d%%</text>' % (x, x, height - 18, x, height - 4, pct))
        for index, row in enumerate(rows):
            y = index * line + 4
            pct = row["coverage"]
            out.append('<text x="%d" y="%.1f" class="label" text-anchor="end">%s</text>'
                       % (left - 8, y + 13, _esc(row["name"])))
            draw(left, y, max(3.0, span * (pct or 0) / 100.0) if pct is not None else 6, line - 8, row)
            out.append('<text x="%.1f" y="%.1f" class="label">%s</text>' % (
                left + (span * (pct or 0) / 100.0 if pct is not None else 6) + 6, y + 13,
                "failed to read" if pct is None else "%d%%" % pct))
    else:
        width, height, top = 960, 180, 12
        step = (width - 52) / len(rows)
        out.append('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" '
                   'aria-label="Part D coverage per client tenant" class="chart">' % (width, height + 8))
        for pct in (0, 50, 100):
            y = top + (height - top) * (1 - pct / 100.0)
            out.append('<line x1="48" x2="%d" y1="%.1f" y2="%.1f" class="grid"/><text x="44" y="%.1f" class="axis" '
                       'text-anchor="end">%d%%</text>' % (width, y, y, y + 4, pct))
        for index, row in enumerate(rows):
            pct = row["coverage"]
            h = 6 if pct is None else max(2.0, (height - top) * pct / 100.0)
            draw(52 + index * step, height - h, max(1.0, step * 0.85), h, row)
    out.append("</svg>")
    return "".join(out)


def _esc(text):
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;"))


def html(report):
    import jinja2  # ansible-core's own dependency, as is markupsafe
    from markupsafe import Markup

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True)
    return env.from_string(HTML_TEMPLATE).render(r=report, chart=Markup(chart_svg(report["overview"]["part_d"])))


def markdown(report):
    o = report["overview"]
    lines = ["# %s" % report["title"], "", "Generated %s. Read-only: nothing was changed." % report["generated_at"], "",
             "## Fleet", "",
             "| Tenants | Compliant | Drift | Failed to read | MFA covered | MFA holes | P2 | P1 | No P1/P2 |",
             "|---|---|---|---|---|---|---|---|---|",
             "| %d | %d | %d | %d | %d | %d | %d | %d | %d |" % (
                 o["tenants"], o["status"][COMPLIANT], o["status"][DRIFT], o["status"][FAILED], o["mfa_covered"],
                 o["mfa_holes"], o["licences"]["P2"], o["licences"]["P1"], o["licences"]["none"]), ""]
    if o["security_defaults_on"]:
        lines += ["Security defaults on: %s" % ", ".join(o["security_defaults_on"]), ""]
    if o["expiring"]:
        lines += ["GDAP relationships ending within %d days (no auto-extend): %s" % (o["expiring_days"], ", ".join(
            "%s (%s days)" % (e["name"], e["days_left"]) for e in o["expiring"])), ""]
    lines += ["| Tenant | Status | Licence | Security defaults | MFA | Part D | Would change |", "|---|---|---|---|---|---|---|"]
    for t in report["tenants"]:
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            _md(t["display_name"]), t["status_label"] + (": " + _md(t["error"]) if t["error"] else ""),
            t["licence"] or "-", {True: "on", False: "off", None: "-"}[t["security_defaults"]],
            _md(t["mfa"]["status_text"]) if t["mfa"] else "-",
            ("%d%% (%d/%d)" % (t["part_d"]["coverage"], t["part_d"]["excluded"], t["part_d"]["targeting"]))
            if t["part_d"] else "-", len(t["drift"])))
    for t in report["tenants"]:
        lines += ["", "## %s (%s)" % (_md(t["display_name"]), t["tenant_id"]), "", "Status: **%s**" % t["status_label"]]
        if t["error"]:
            lines += ["", "Could not be read: %s" % _md(t["error"])]
            continue
        if t["mfa"]:
            lines += ["", "MFA: %s" % t["mfa"]["status_text"]]
            for h in t["mfa"]["holes"]:
                lines.append("- %s: %s (%s%s)" % (h["kind"], _md(h["name"]), _md(h["detail"]),
                                                  ", sanctioned" if h["sanctioned"] else ""))
        if t["drift"]:
            lines += ["", "A run would change:"] + ["- %s" % _md(d) for d in t["drift"]]
        lines += ["", "| Policy | State | Targets | Controls | MSP exclusion |", "|---|---|---|---|---|"]
        lines += ["| %s%s | %s | %s | %s | %s |" % (_md(p["name"]), " (Microsoft-managed)" if p["managed"] else "",
                                                    p["state"], _md(p["targets"]), _md(p["controls"]),
                                                    _md(p["msp_exclusion_text"])) for p in t["policies"]]
        backup = t["last_backup"]
        lines += ["", "Last backup: %s" % ("%s (%d files)" % (backup["run"], backup["files"]) if backup else "none")]
    if report["not_visible"]:
        lines += ["", "## What Graph cannot show", ""] + ["- %s" % n for n in report["not_visible"]]
    return "\n".join(lines) + "\n"


def _md(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def write(report, dest):
    """report.json, report.md and index.html under ``dest``; returns their paths."""
    os.makedirs(dest, exist_ok=True)
    paths = {"json": os.path.join(dest, "report.json"), "markdown": os.path.join(dest, "report.md"),
             "html": os.path.join(dest, "index.html")}
    for kind, text in (("json", json.dumps(report, indent=2, sort_keys=True) + "\n"), ("markdown", markdown(report)),
                       ("html", html(report))):
        with open(paths[kind], "w", encoding="utf-8") as handle:
            handle.write(text)
    return paths


HTML_TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ r.title }}</title>
<style>
:root { --ok:#1a7f37; --drift:#b35900; --fail:#c62828; --muted:#5f6b7a; --line:#d8dee4; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; margin: 0; color: #1f2328; }
header { background: #0b3d66; color: #fff; padding: 16px 24px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; opacity: .85; }
main { padding: 16px 24px 48px; max-width: 1400px; }
h2 { font-size: 18px; margin: 28px 0 10px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 150px; background: #fff; }
.card .n { font-size: 28px; font-weight: 700; display: block; }
.card.compliant .n { color: var(--ok); } .card.drift .n { color: var(--drift); } .card.failed .n { color: var(--fail); }
.card small { color: var(--muted); }
.badge { display: inline-block; border-radius: 10px; padding: 1px 9px; font-size: 12px; font-weight: 600; color: #fff; }
.badge.compliant { background: var(--ok); } .badge.drift { background: var(--drift); } .badge.failed { background: var(--fail); }
.badge.hole { background: var(--fail); } .badge.covered { background: var(--ok); } .badge.neutral { background: var(--muted); }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: var(--bg); position: sticky; top: 0; cursor: pointer; user-select: none; white-space: nowrap; }
th[aria-sort="ascending"]::after { content: " \25B2"; } th[aria-sort="descending"]::after { content: " \25BC"; }
tr.failed td:first-child { border-left: 4px solid var(--fail); } tr.drift td:first-child { border-left: 4px solid var(--drift); }
tr.compliant td:first-child { border-left: 4px solid var(--ok); }
.controls { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; margin: 8px 0; }
.controls input[type=search] { padding: 5px 8px; width: 260px; border: 1px solid var(--line); border-radius: 6px; }
.controls select { padding: 4px; }
#shown { color: var(--muted); }
.chart .grid { stroke: #e5e9ee; } .chart .axis, .chart .label { font-size: 13px; fill: #3d4753; }
.bar-full { fill: var(--ok); } .bar-part { fill: #d29922; } .bar-low { fill: var(--fail); } .bar-failed { fill: #9aa4ae; }
details.tenant { border: 1px solid var(--line); border-radius: 8px; margin: 8px 0; background: #fff; }
details.tenant > summary { padding: 8px 12px; cursor: pointer; font-weight: 600; }
details.tenant > div { padding: 0 12px 12px; }
.error { color: var(--fail); font-weight: 600; }
.tid { color: var(--muted); font-size: 11px; white-space: nowrap; }
td .error { font-size: 12px; font-weight: 400; }
.muted { color: var(--muted); }
pre { background: var(--bg); padding: 8px; overflow: auto; font-size: 12px; }
ul.holes li.sanctioned { color: var(--muted); }
.missing { color: var(--fail); font-weight: 600; } .present { color: var(--ok); }
</style>
</head>
<body>
{% macro hole_item(h) %}<li class="{{ 'sanctioned' if h.sanctioned }}"><strong>{{ h.name }}</strong>
({{ h.kind | replace('_', ' ') }}{% if h.policy %}, in {{ h.policy }}{% endif %}): {{ h.detail }}
{{- ' - sanctioned' if h.sanctioned }}</li>{% endmacro %}
<header>
<h1>{{ r.title }}</h1>
<p>Generated {{ r.generated_at }} &middot; read-only (nothing was changed) &middot; {{ r.overview.tenants }} tenants</p>
</header>
<main>
<section id="overview">
<h2>Fleet overview</h2>
<div class="cards">
  <div class="card compliant" id="card-compliant"><span class="n" id="count-compliant">{{ r.overview.status.compliant }}</span>compliant</div>
  <div class="card drift" id="card-drift"><span class="n" id="count-drift">{{ r.overview.status.drift }}</span>drift
    <small>(a run would change something)</small></div>
  <div class="card failed" id="card-failed"><span class="n" id="count-failed">{{ r.overview.status.failed }}</span>failed to read</div>
  <div class="card"><span class="n" id="count-mfa-holes">{{ r.overview.mfa_holes }}</span>with MFA holes
    <small>({{ r.overview.mfa_covered }} covered)</small></div>
  <div class="card"><span class="n">{{ r.overview.licences.P2 }} / {{ r.overview.licences.P1 }} /
    {{ r.overview.licences.none }}</span>licences P2 / P1 / none</div>
  <div class="card"><span class="n" id="count-security-defaults">{{ r.overview.security_defaults_on | length }}</span>security defaults on</div>
  <div class="card"><span class="n" id="count-expiring">{{ r.overview.expiring | length }}</span>GDAP relationships
    ending &le; {{ r.overview.expiring_days }} days
    {% if not r.overview.relationships_known %}<small>(unknown: the inventory has no relationship dates)</small>{% endif %}</div>
</div>
{% if r.partner_mfa %}
<h2>Partner MFA requirement (MSP tenant {{ r.msp_tenant }})</h2>
<p><span class="badge {{ 'covered' if r.partner_mfa.covered else 'hole' }}" id="partner-mfa">{{ r.partner_mfa.status_text }}</span>
{% if r.partner_mfa.baseline_policy %} &middot; baseline policy: {{ r.partner_mfa.baseline_policy }}{% endif %}</p>
{% if r.partner_mfa.holes %}<ul class="holes" id="partner-holes">{% for h in r.partner_mfa.holes %}
{{ hole_item(h) }}{% endfor %}</ul>{% endif %}
{% endif %}
{% if r.overview.expiring %}<p>Ending soon: {% for e in r.overview.expiring %}{{ e.name }} ({{ e.days_left }} days)
{{- ", " if not loop.last }}{% endfor %}</p>{% endif %}
{% if r.overview.part_d %}
<h2>Part D coverage per client tenant</h2>
<p class="muted">Share of the policies that can reach the MSP's users which exclude it (100% = CIPP cannot be locked out).</p>
{{ chart }}
{% endif %}
</section>
<section id="tenants">
<h2>Tenants</h2>
<div class="controls">
  <input type="search" id="filter-text" placeholder="Filter by name or tenant id" aria-label="Filter tenants">
  <label>Status <select id="filter-status"><option value="">all</option><option value="compliant">compliant</option>
    <option value="drift">drift</option><option value="failed">failed to read</option></select></label>
  <label><input type="checkbox" id="filter-mfa"> only MFA holes</label>
  <span id="shown">{{ r.tenants | length }} of {{ r.tenants | length }} tenants</span>
</div>
<table id="tenant-table">
<thead><tr>
<th data-key="name">Tenant</th><th data-key="status">Status</th><th data-key="licence">Licence</th><th data-key="sd">Security defaults</th>
<th data-key="mfa">MFA</th><th data-key="partd" data-type="num">Part D</th><th data-key="drift" data-type="num">Would change</th>
<th data-key="rel" data-type="num">GDAP ends</th><th data-key="backup">Last backup</th>
</tr></thead>
<tbody>
{% for t in r.tenants %}
<tr class="tenant-row {{ t.status }}" data-tenant="{{ t.name }}" data-status="{{ t.status }}" data-mfa="{{ 'hole' if t.mfa and not t.mfa.covered else 'ok' }}"
    data-search="{{ (t.display_name ~ ' ' ~ t.name ~ ' ' ~ t.tenant_id) | lower }}"
    data-name="{{ t.display_name | lower }}" data-licence="{{ t.licence or '' }}" data-sd="{{ t.security_defaults }}"
    data-partd="{{ t.part_d.coverage if t.part_d else -1 }}" data-drift="{{ t.drift | length }}"
    data-rel="{{ t.relationship.days_left if t.relationship and t.relationship.days_left is not none else 99999 }}"
    data-backup="{{ t.last_backup.run if t.last_backup else '' }}">
<td><a href="#t-{{ t.name }}">{{ t.display_name }}</a>{% if t.role == 'msp' %} <span class="badge neutral">MSP</span>{% endif %}
<br><span class="tid">{{ t.tenant_id }}</span></td>
<td><span class="badge {{ t.status }}">{{ t.status_label }}</span>{% if t.error %}<br><span class="error">{{ t.error | truncate(160) }}</span>{% endif %}</td>
<td>{{ t.licence or '-' }}</td>
<td>{{ {True: 'on', False: 'off'}.get(t.security_defaults, '-') }}</td>
<td>{% if t.mfa %}<span class="badge {{ 'covered' if t.mfa.covered else 'hole' }}">{{ t.mfa.status | replace('_', ' ') }}</span>
{% if t.mfa.open_holes %} {{ t.mfa.open_holes }} hole{{ 's' if t.mfa.open_holes != 1 }}{% endif %}{% else %}-{% endif %}</td>
<td>{% if t.part_d %}{{ t.part_d.coverage }}% <span class="muted">({{ t.part_d.excluded }}/{{ t.part_d.targeting }})</span>{% else %}-{% endif %}</td>
<td>{{ t.drift | length }}</td>
<td>{% if t.relationship %}{{ t.relationship.end[:10] }}{% if t.relationship.days_left is not none %}
 <span class="{{ 'missing' if t.relationship.expiring else 'muted' }}">({{ t.relationship.days_left }} d
{{- ', auto-extend' if t.relationship.auto_extend }})</span>{% endif %}{% else %}<span class="muted">unknown</span>{% endif %}</td>
<td>{% if t.last_backup %}{{ t.last_backup.run }}{% else %}<span class="muted">none</span>{% endif %}</td>
</tr>
{% endfor %}
</tbody>
</table>
</section>
<section id="details">
<h2>Per tenant</h2>
{% for t in r.tenants %}
<details class="tenant" id="t-{{ t.name }}" data-tenant="{{ t.name }}" data-status="{{ t.status }}"
    data-mfa="{{ 'hole' if t.mfa and not t.mfa.covered else 'ok' }}"
    data-search="{{ (t.display_name ~ ' ' ~ t.name ~ ' ' ~ t.tenant_id) | lower }}"
    {{- ' open' if t.status == 'failed' and r.tenants | length <= 20 }}>
<summary><span class="badge {{ t.status }}">{{ t.status_label }}</span> {{ t.display_name }}
<span class="muted">{{ t.tenant_id }}{% if t.mode %} &middot; {{ t.mode }}{% endif %}</span></summary>
<div>
{% if t.status == 'failed' %}
<p class="error">Could not be read, so nothing is known about this tenant's policies:</p>
<ul>{% for e in t.errors %}<li class="error">{{ e }}</li>{% endfor %}</ul>
{% else %}
<p>{{ t.policy_counts.total }} policies: {{ t.policy_counts.enabled }} on, {{ t.policy_counts.report_only }} report-only,
{{ t.policy_counts.disabled }} off{% if t.managed %}; Microsoft-managed: {{ t.managed | join(', ') }}{% endif %}.
Licence {{ t.licence or 'unknown' }}; security defaults {{ {True: 'on', False: 'off'}.get(t.security_defaults, 'unknown') }}.</p>
{% if t.permissions %}<p class="error">Not readable:
{% for k, v in t.permissions.items() %}{{ k }} ({{ v }}){{ '; ' if not loop.last }}{% endfor %}</p>{% endif %}
<h3>MFA coverage: <span class="badge {{ 'covered' if t.mfa.covered else 'hole' }}">{{ t.mfa.status_text }}</span></h3>
{% if t.mfa.holes %}<ul class="holes">{% for h in t.mfa.holes %}{{ hole_item(h) }}{% endfor %}</ul>{% endif %}
<h3>A run would change</h3>
{% if t.drift %}<ul class="drift">{% for d in t.drift %}<li>{{ d }}</li>{% endfor %}</ul>{% else %}<p class="muted">nothing</p>{% endif %}
<h3>Policies</h3>
<table class="policies"><thead><tr><th>Policy</th><th>State</th><th>Targets</th><th>Controls</th><th>MSP exclusion</th></tr></thead><tbody>
{% for p in t.policies %}<tr><td>{{ p.name }}{% if p.managed %} <span class="badge neutral">Microsoft-managed</span>{% endif %}</td>
<td>{{ p.state }}</td><td>{{ p.targets }}</td><td>{{ p.controls }}</td>
<td class="{{ 'present' if p.msp_exclusion else 'missing' if p.msp_exclusion == false else 'muted' }}">{{ p.msp_exclusion_text }}</td></tr>
{% endfor %}</tbody></table>
{% if t.exports and (t.exports.scubagear or t.exports.maester_note) %}
<h3>Audit tools</h3>
{% if t.exports.scubagear %}<p>ScubaGear configuration (sanctioned MSP exclusion):</p><pre>{{ t.exports.scubagear }}</pre>{% endif %}
{% if t.exports.maester %}<p>Maester configuration fragment:</p><pre>{{ t.exports.maester | tojson_pretty }}</pre>{% endif %}
{% if t.exports.maester_note %}<p class="muted">{{ t.exports.maester_note }}</p>{% endif %}
{% endif %}
{% endif %}
<p>Last backup: {% if t.last_backup %}{{ t.last_backup.run }} ({{ t.last_backup.policies }} policies,
{{ t.last_backup.named_locations }} named locations) <span class="muted">{{ t.last_backup.path }}</span>
{%- else %}<span class="muted">none</span>{% endif %}</p>
</div>
</details>
{% endfor %}
</section>
{% if r.not_visible %}
<section id="not-visible"><h2>What Graph cannot show</h2><ul>{% for n in r.not_visible %}<li>{{ n }}</li>{% endfor %}</ul></section>
{% endif %}
</main>
<script>
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.tenant-row"));
  var sections = Array.prototype.slice.call(document.querySelectorAll("details.tenant"));
  var text = document.getElementById("filter-text"), status = document.getElementById("filter-status");
  var mfa = document.getElementById("filter-mfa"), shown = document.getElementById("shown");
  function matches(el) {
    var q = text.value.trim().toLowerCase();
    return (!q || el.getAttribute("data-search").indexOf(q) >= 0) &&
      (!status.value || el.getAttribute("data-status") === status.value) &&
      (!mfa.checked || el.getAttribute("data-mfa") === "hole");
  }
  function apply() {
    var n = 0;
    rows.forEach(function (row) { var ok = matches(row); row.hidden = !ok; if (ok) { n += 1; } });
    sections.forEach(function (s) { s.hidden = !matches(s); });
    shown.textContent = n + " of " + rows.length + " tenants";
  }
  function fromHash() {
    // index.html#status=failed&q=contoso&sort=partd opens the page filtered and sorted (links in mails, the browser test)
    location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var kv = part.split("="), v = decodeURIComponent(kv[1] || "");
      if (kv[0] === "status") { status.value = v; } else if (kv[0] === "q") { text.value = v; }
      else if (kv[0] === "mfa") { mfa.checked = v === "hole"; }
      else if (kv[0] === "sort") { sortKey = v; }
    });
  }
  var sortKey = null;
  var tbody = document.querySelector("#tenant-table tbody");
  Array.prototype.forEach.call(document.querySelectorAll("#tenant-table th"), function (th) {
    th.addEventListener("click", function () {
      var key = "data-" + th.getAttribute("data-key"), num = th.getAttribute("data-type") === "num";
      var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
      Array.prototype.forEach.call(document.querySelectorAll("#tenant-table th"), function (o) { o.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
      rows.sort(function (a, b) {
        var x = a.getAttribute(key), y = b.getAttribute(key);
        if (num) { return dir * (parseFloat(x) - parseFloat(y)); }
        return dir * x.localeCompare(y);
      });
      var frag = document.createDocumentFragment();
      rows.forEach(function (row) { frag.appendChild(row); });
      tbody.appendChild(frag);
    });
  });
  [text, status, mfa].forEach(function (el) { el.addEventListener("input", apply); el.addEventListener("change", apply); });
  window.addEventListener("hashchange", function () { fromHash(); apply(); });
  fromHash();
  if (sortKey) {
    var th = document.querySelector('#tenant-table th[data-key="' + sortKey.replace(/[^a-z]/g, "") + '"]');
    if (th) { th.click(); }
  }
  apply();
  document.body.setAttribute("data-ready", "true");
})();
</script>
</body>
</html>
"""
