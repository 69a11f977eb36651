"""One ca_client_exclusion run outside Ansible's process tree: peak RSS, CPU, and where its time goes.

The AnsiballZ payload that Ansible really ran is kept (ANSIBLE_KEEP_REMOTE_FILES) and run again on its own,
measured with wait4, with ``-X importtime`` and under cProfile.
"""

from __future__ import annotations

import json
import pstats
import re
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import BIN, REPO, bench_env, run_measured

PLAYBOOK = REPO / "playbooks" / "client_tenants.yml"
IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")
GROUPS = (("ansible", "ansible (module_utils, AnsiballZ)"), ("msgraph_core", "msgraph-core / kiota"),
          ("kiota", "msgraph-core / kiota"), ("httpx", "httpx / httpcore"), ("httpcore", "httpx / httpcore"),
          ("azure", "azure-identity / msal"), ("msal", "azure-identity / msal"),
          ("opentelemetry", "opentelemetry (kiota)"), ("ansible_collections", "the collection"))


def keep_payload(sandbox_env, inventory, workdir, playbook=PLAYBOOK, module="ca_client_exclusion"):
    """Run the playbook with the module payload kept; return the last AnsiballZ file of ``module``."""
    remote = Path(workdir) / "remote_tmp"
    remote.mkdir(parents=True, exist_ok=True)
    env = bench_env(sandbox_env, ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_REMOTE_TMP=str(remote),
                    ANSIBLE_PIPELINING="false")
    # the module path: in the worker process (the action plugins' default) there is no payload to keep
    proc = subprocess.run([str(BIN / "ansible-playbook"), str(playbook), "-i", str(inventory),
                           "-e", "msp_conditional_access_in_process=false"], env=env,
                          capture_output=True, text=True, timeout=600, cwd=str(REPO), check=False)
    found = sorted(remote.glob("ansible-tmp-*/AnsiballZ_%s.py" % module))
    if not found:
        raise RuntimeError("no AnsiballZ payload kept (rc=%s): %s" % (proc.returncode, proc.stdout[-2000:]))
    return found[-1]


PROFILER = """
import cProfile, runpy, sys
payload, out = sys.argv[1], sys.argv[2]
sys.argv = [payload]
profiler = cProfile.Profile()
try:
    profiler.runcall(runpy.run_path, payload, run_name="__main__")
except SystemExit:
    pass
finally:
    profiler.dump_stats(out)
"""


def run_profiled(payload, env, workdir, label):
    """cProfile around the payload. `python -m cProfile` would not do: AnsiballZ drops the directory of
    __main__ from sys.path, which under -m cProfile is the standard library's."""
    runner = Path(workdir) / "profile_runner.py"
    runner.write_text(PROFILER)
    stats = Path(workdir) / ("%s.prof" % label)
    out = Path(workdir) / ("module-%s.out" % label)
    time.sleep(1.5)
    run_measured([sys.executable, str(runner), str(payload), str(stats)], env, out, timeout=600, cwd=payload.parent)
    return stats


TIME = Path("/usr/bin/time")


def peak_rss_wrapped(cmd, workdir, label):
    """Wrap ``cmd`` in /usr/bin/time for the peak RSS. wait4's ru_maxrss of a child forked from this (bigger)
    Python process starts at the parent's RSS on Linux, so it cannot measure a small process."""
    if not TIME.exists():
        return cmd, None
    report = Path(workdir) / ("rss-%s.txt" % label)
    return [str(TIME), "-f", "%M", "-o", str(report)] + cmd, report


def run_payload(payload, env, workdir, label, *python_args):
    time.sleep(1.5)   # let the tenant's 1 request/second window pass: measure the module, not a 429 back-off
    out = Path(workdir) / ("module-%s.out" % label)
    cmd, rss_file = peak_rss_wrapped([sys.executable] + list(python_args) + [str(payload)], workdir, label)
    measured = run_measured(cmd, env, out, timeout=600, cwd=payload.parent)
    if rss_file is not None and rss_file.exists():
        measured["maxrss_mb"] = int(rss_file.read_text().split()[-1]) / 1024.0
        measured["rss_source"] = "/usr/bin/time -f %M"
    else:
        measured["rss_source"] = "wait4 ru_maxrss (an upper bound: includes the parent's RSS at fork)"
    text = out.read_text(errors="replace")
    measured["result"] = _module_json(text)
    measured["output"] = text
    return measured


def _module_json(text):
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return {}


def import_breakdown(stderr_text):
    """Cumulative import time (s) per library group, from the top-level lines of ``-X importtime``."""
    groups = {}
    total = 0.0
    for line in stderr_text.splitlines():
        match = IMPORT_LINE.match(line)
        if not match or len(match.group(3)) != 1:    # top level only: one space of indentation
            continue
        cumulative = int(match.group(2)) / 1e6
        name = match.group(4)
        total += cumulative
        label = next((lab for prefix, lab in GROUPS if name == prefix or name.startswith(prefix + ".")), "other")
        groups[label] = groups.get(label, 0.0) + cumulative
    return total, dict(sorted(groups.items(), key=lambda kv: -kv[1]))


def profile_breakdown(stats_path):
    """Seconds spent in auth, Graph requests (with pacing sleep), and the whole module, from cProfile."""
    stats = pstats.Stats(str(stats_path))
    cumulative = {}
    for (filename, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
        key = "%s:%s" % (Path(filename).name, func)
        cumulative[key] = max(cumulative.get(key, 0.0), ct)

    def cum(suffix):
        return max((v for k, v in cumulative.items() if k.endswith(suffix)), default=0.0)

    token = cum("_auth.py:graph_token")
    send = cum("_graph.py:_send")
    sleep = cum("time.sleep>") or cum(":<built-in method time.sleep>")
    run = cum("_exclusion.py:run") or cum("_exclusion.py:exclusion_report")
    main = cum("ca_client_exclusion.py:main")
    return {"module_main_s": main, "work_s": run, "auth_s": token, "graph_s": max(send - token, 0.0),
            "sleep_s": sleep, "total_profiled_s": stats.total_tt}


def profile(sandbox, fixture_path, inventory, workdir, set_faults):
    """Peak RSS / CPU / time breakdown of one module run on a tenant with work to do, then on a steady one."""
    env = bench_env(sandbox.env)
    sandbox.client.reset(fixture=str(fixture_path))
    set_faults()
    payload = keep_payload(sandbox.env, inventory, workdir)
    sandbox.client.reset(fixture=str(fixture_path))
    set_faults()
    start = time.monotonic()
    apply_run = run_payload(payload, env, workdir, "apply")
    steady_run = run_payload(payload, env, workdir, "steady")
    imports_run = run_payload(payload, env, workdir, "importtime", "-X", "importtime")
    import_total, import_groups = import_breakdown(imports_run["output"])
    prof_steady = run_profiled(payload, env, workdir, "cprofile-steady")
    sandbox.client.reset(fixture=str(fixture_path))
    set_faults()
    prof_apply = run_profiled(payload, env, workdir, "cprofile-apply")
    bare = bare_import_cost(env, workdir)
    return {
        "apply": _summary(apply_run), "steady": _summary(steady_run),
        "imports_total_s": import_total, "imports": import_groups,
        "profile_steady": profile_breakdown(prof_steady), "profile_apply": profile_breakdown(prof_apply),
        "bare_python_ansible_import": bare,
        "elapsed_s": time.monotonic() - start,
    }


def bare_import_cost(env, workdir):
    """Wall, CPU and peak RSS of starting Python and importing AnsibleModule: the floor of any module run."""
    cmd, rss_file = peak_rss_wrapped([sys.executable, "-c", "import ansible.module_utils.basic"], workdir, "bare")
    bare = run_measured(cmd, env, Path(workdir) / "bare.out", timeout=120)
    if rss_file is not None and rss_file.exists():
        bare["maxrss_mb"] = int(rss_file.read_text().split()[-1]) / 1024.0
    return {"wall_s": bare["wall_s"], "cpu_s": bare["cpu_s"], "maxrss_mb": bare["maxrss_mb"]}


def _summary(run):
    result = run["result"]
    return {"rc": run["rc"], "wall_s": run["wall_s"], "cpu_s": run["cpu_s"], "maxrss_mb": run["maxrss_mb"],
            "rss_source": run.get("rss_source"),
            "changed": result.get("changed"), "graph_requests": result.get("graph_requests"),
            "summary": result.get("summary"), "failed": result.get("failed", False),
            "msg": result.get("msg")}
