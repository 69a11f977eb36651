"""The fleet report at MSP scale: build and render time, file sizes and peak RSS of ca_report's work, and how
long headless Chromium takes to open the page filtered (when Chromium is installed).

    .venv/bin/python -m bench.report_render [--tenants 500] [--policies 20]   # writes bench/results/report_render.md

The tenants are what report.yml hands to ca_report (the read modules' results), made up here with the shapes the
sandbox tests use: every third policy lacks the MSP exclusion, one tenant in fifty failed to read.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def fleet(tenants, policies):
    hosts = []
    for index in range(tenants):
        names = ["CA%03d policy of tenant %03d" % (n, index) for n in range(policies)]
        host = {"name": "tenant%03d" % index, "tenant_id": "tid-%03d" % index, "role": "client", "mode": "gdap",
                "tenant_info": {"licenses": {"entra_id_p1": True, "entra_id_p2": index % 4 == 0},
                                "security_defaults_enabled": index % 25 == 3},
                "policies": {"policies": [{
                    "id": "p%d" % n, "display_name": name, "policy_state": "enabled", "managed": n == 0,
                    "conditions": {"users": {"include_users": ["All"], "exclude_users": ["breakglass@tenant%03d" % index]},
                                   "applications": {"include_applications": ["All"]}},
                    "grant_controls": {"operator": "OR", "built_in_controls": ["mfa"]}} for n, name in enumerate(names)]},
                "exclusions": {"policies": [{"id": "p%d" % n, "display_name": name, "targeting": True,
                                             "targeting_reason": "includes all users", "excluded": (index + n) % 3 != 0}
                                            for n, name in enumerate(names)]},
                "mfa": {"status": "holes", "status_text": "holes", "covered": False, "open_holes": 1, "holes": [
                    {"kind": "excluded_user", "name": "breakglass@tenant%03d" % index, "policy": names[0],
                     "detail": "user excluded", "sanctioned": False}], "break_glass": [], "baseline_policy": names[0],
                    "scubagear": "Aad: {}\n", "maester": {}, "maester_note": None, "not_visible": []},
                "part_d": {"policies": [{"display_name": name, "action": "excluded" if (index + n) % 3 == 0 else
                                         "already_excluded"} for n, name in enumerate(names)]}}
        if index % 50 == 7:
            host["tenant_info"] = {"failed": True, "msg": "HTTP 403 Authorization_RequestDenied"}
        hosts.append(host)
    return hosts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=500)
    parser.add_argument("--policies", type=int, default=20)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "report_render.md"))
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO / "build" / "collections"))
    sys.path.insert(0, str(REPO / "tests"))
    import conftest  # noqa: F401 - links the collection under build/collections

    from ansible_collections.msp.conditional_access.plugins.module_utils import _report

    hosts = fleet(args.tenants, args.policies)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        report = _report.build(hosts)
        built = time.perf_counter()
        paths = _report.write(report, tmp)
        written = time.perf_counter()
        sizes = {k: Path(v).stat().st_size // 1024 for k, v in paths.items()}
        browser = "chromium not installed"
        chromium = shutil.which("chromium")
        if chromium:
            began = time.perf_counter()
            dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                                  "--user-data-dir=%s/profile" % tmp, "--virtual-time-budget=5000",
                                  Path(paths["html"]).as_uri() + "#status=failed"], capture_output=True, text=True,
                                 timeout=300).stdout
            shown = dom.split('<span id="shown">', 1)[-1].split("<", 1)[0]
            browser = "%.1f s to open and filter (%s shown; includes Chromium's start)" % (
                time.perf_counter() - began, shown)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    text = "\n".join([
        "# Fleet report at %d tenants x %d policies" % (args.tenants, args.policies), "",
        "`.venv/bin/python -m bench.report_render --tenants %d --policies %d`" % (args.tenants, args.policies), "",
        "| Step | Figure |", "|---|---|",
        "| build (status, drift, Part D, per tenant) | %.2f s |" % (built - start),
        "| render and write HTML, JSON, Markdown | %.2f s |" % (written - built),
        "| index.html / report.json / report.md | %d / %d / %d KB |" % (sizes["html"], sizes["json"], sizes["markdown"]),
        "| peak RSS of this process | %d MB |" % rss,
        "| headless Chromium, `index.html#status=failed` | %s |" % browser, ""])
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
