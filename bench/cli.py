"""`make bench`: Part D at MSP scale, the collection side by side with a hand-written uri baseline.

    .venv/bin/python -m bench [--tenants 200 --policies 20 --forks 5,10,20,50 --latency-ms 80] [--quick] [--large]

Writes bench/results/report.md, chart.png and results.json. Numbers are measured, never estimated: a fork level
that does not fit the time budget is left out and the report says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from bench import cpu_split, oracle
from bench.harness import (REPO, LoadMonitor, ansible_playbook, bench_env, client_tenants, log_since,
                           play_recap, process_cpu_s, run_measured, traffic, write_inventory)

RESULTS = REPO / "bench" / "results"
COLLECTION_PLAYBOOK = REPO / "playbooks" / "client_tenants.yml"
BASELINE_PLAYBOOK = REPO / "bench" / "baseline" / "client_tenants_uri.yml"
MODULE_PATH = ("-e", "msp_conditional_access_in_process=false")   # the module process, as before the action plugins
RUNS = (  # key, label, playbook, check mode, diff, extra ansible-playbook arguments
    ("check", "collection: check mode (--check --diff)", COLLECTION_PLAYBOOK, True, True, ()),
    ("apply", "collection: apply", COLLECTION_PLAYBOOK, False, False, ()),
    ("steady", "collection: second apply (steady state)", COLLECTION_PLAYBOOK, False, False, ()),
    ("module_check", "before (module process): check mode", COLLECTION_PLAYBOOK, True, True, MODULE_PATH),
    ("module_apply", "before (module process): apply", COLLECTION_PLAYBOOK, False, False, MODULE_PATH),
    ("module_steady", "before (module process): second apply", COLLECTION_PLAYBOOK, False, False, MODULE_PATH),
    ("baseline_check", "baseline (uri): check mode", BASELINE_PLAYBOOK, True, True, ()),
    ("baseline", "baseline (uri): apply", BASELINE_PLAYBOOK, False, False, ()),
    ("baseline_steady", "baseline (uri): second apply", BASELINE_PLAYBOOK, False, False, ()),
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=200, help="client tenants (default 200)")
    parser.add_argument("--policies", type=int, default=20, help="policies per tenant (default 20)")
    parser.add_argument("--forks", default="5,10,20,50", help="fork levels to sweep (default 5,10,20,50)")
    parser.add_argument("--latency-ms", type=int, default=80, help="added latency per request (default 80)")
    parser.add_argument("--throttle-rps", type=float, default=1, help="CA requests/second/tenant before 429 (default 1)")
    parser.add_argument("--primary-forks", type=int, default=20,
                        help="the fork level where every run is measured; the others sweep what the budget allows")
    parser.add_argument("--sweep-tenants", type=int, default=50,
                        help="tenants in the fork sweep (default 50; 0 = all): the 200-tenant runs at the primary fork "
                             "level already take most of the budget on 2 cores")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--budget-min", type=float, default=35.0,
                        help="stop starting new fork levels when the next would end past this many minutes")
    parser.add_argument("--quick", action="store_true", help="smoke run: 8 tenants x 8 policies, forks 5,10")
    parser.add_argument("--large", action="store_true", help="the larger run: 500 tenants x 20 policies")
    parser.add_argument("--no-profile", action="store_true", help="skip the single-module profile")
    parser.add_argument("--before", default="check,apply,steady",
                        help="runs of the module path (before the action plugins) at the primary fork level: any of "
                             "check,apply,steady, or none (default: all three)")
    parser.add_argument("--no-baseline-apply", action="store_true",
                        help="measure only the baseline's steady state, on the state the collection applied (its "
                             "apply takes the longest)")
    parser.add_argument("--out", default=str(RESULTS), help="where report.md, chart.png, results.json go")
    args = parser.parse_args(argv)
    if args.quick:
        args.tenants, args.policies, args.forks, args.primary_forks, args.sweep_tenants = 8, 8, "5,10", 10, 4
    if args.large:
        args.tenants = 500
    args.fork_levels = sorted({int(f) for f in str(args.forks).split(",") if f.strip()}, reverse=True)
    if args.primary_forks not in args.fork_levels:
        args.primary_forks = max(args.fork_levels)
    return args


class Bench:
    def __init__(self, args, workdir):
        self.args = args
        self.workdir = Path(workdir)
        self.started = time.monotonic()
        self.sandbox = None
        self.fixture = None
        self.fixture_path = self.workdir / "fixture.json"
        self.inventory = self.workdir / "inventory.json"
        self.monitor = LoadMonitor()
        self.seq = 0
        self.runs = []
        self.notes = []

    # -- set-up ---------------------------------------------------------------------------------
    def setup(self):
        from sandbox.fixtures import generate
        from sandbox.testing import start_sandbox

        self.fixture = generate(self.args.tenants + 1, self.args.policies, self.args.seed)
        self.msp, self.clients = client_tenants(self.fixture)
        if len(self.clients) != self.args.tenants:
            # generate() may or may not count the MSP tenant: keep exactly --tenants clients
            self.fixture = generate(self.args.tenants, self.args.policies, self.args.seed)
            self.msp, self.clients = client_tenants(self.fixture)
        self.fixture_path.write_text(json.dumps(self.fixture))
        self.hosts = write_inventory(self.inventory, self.fixture)
        # the fork sweep may run on the first --sweep-tenants tenants, so that it fits the time budget
        sweep = self.args.sweep_tenants or len(self.clients)
        self.fleets = {"all": (self.inventory, self.clients)}
        if sweep < len(self.clients):
            path = self.workdir / "inventory-sweep.json"
            write_inventory(path, self.fixture, tenants=self.clients[:sweep])
            self.fleets["sweep"] = (path, self.clients[:sweep])
        else:
            self.fleets["sweep"] = self.fleets["all"]
        self.expected = {tid: [oracle.expected_policy(p, self.msp) for p in self.fixture["tenants"][tid]["policies"]]
                         for tid in self.clients}
        self.to_change = {tid: sum(oracle.needs_change(p, self.msp) for p in self.fixture["tenants"][tid]["policies"])
                          for tid in self.clients}
        self.sandbox = start_sandbox(str(self.fixture_path), str(self.workdir / "sandbox"))
        self.sandbox_pid = _sandbox_pid(self.sandbox)
        self.monitor.start()

    def set_faults(self):
        self.sandbox.client.set_faults(tenant=None, latency_ms=self.args.latency_ms, throttle_rps=self.args.throttle_rps)

    def reset(self):
        self.sandbox.client.reset(fixture=str(self.fixture_path))
        self.set_faults()
        self.seq = 0

    # -- one run --------------------------------------------------------------------------------
    def measure(self, key, label, playbook, forks, check, diff, fleet="all", extra=()):
        inventory, tenants = self.fleets[fleet]
        cmd = ansible_playbook(playbook, inventory, forks, check=check, diff=diff, extra=extra)
        out = self.workdir / ("%s-f%d-%s.out" % (key, forks, fleet))
        split_dir = self.workdir / ("split-%s-f%d-%s" % (key, forks, fleet))
        split_dir.mkdir()
        before = self.monitor.window()
        sandbox_cpu = process_cpu_s(self.sandbox_pid) if self.sandbox_pid else 0.0
        self_cpu = sum(os.times()[:2])
        measured = run_measured(cmd, bench_env(self.sandbox.env, **cpu_split.env(split_dir)), out, timeout=3600)
        after = self.monitor.window()
        sandbox_cpu = (process_cpu_s(self.sandbox_pid) if self.sandbox_pid else 0.0) - sandbox_cpu
        self_cpu = sum(os.times()[:2]) - self_cpu
        busy, capacity = LoadMonitor.busy_between(before, after)
        entries = log_since(self.sandbox.client, self.seq)
        self.seq = max([self.seq] + [e.get("seq", 0) for e in entries])
        recap = play_recap(out.read_text(errors="replace"))
        n = len(tenants)
        run = dict(measured, key=key, label=label, forks=forks, tenants=n, policies=self.args.policies,
                   cpu_per_tenant_s=measured["cpu_s"] / n,
                   hosts_failed=sum(1 for h in recap.values() if h["failed"] or h["unreachable"]),
                   hosts_changed=sum(1 for h in recap.values() if h["changed"]),
                   hosts_seen=len(recap), traffic=traffic(entries, tenants), fleet=fleet,
                   changes_per_tenant=sum(self.to_change[t] for t in tenants) / n,
                   sandbox_cpu_s=sandbox_cpu, machine_busy_cpu_s=busy, machine_capacity_cpu_s=capacity,
                   others_cpu_s=max(busy - measured["cpu_s"] - sandbox_cpu - self_cpu, 0.0),
                   cpu_split=cpu_split.summarize(split_dir, measured["cpu_s"]),
                   output=str(out))
        self.runs.append(run)
        if not recap:
            raise RuntimeError("%s: ansible-playbook ended without a play recap (rc %d):\n%s"
                               % (label, measured["rc"], out.read_text(errors="replace")[-3000:]))
        print("  %-45s n=%-4d f=%-3d wall %7.1fs  cpu/tenant %.2fs  graph req/tenant %.1f  429s %d  failed hosts %d  rc %d"
              % (label, n, forks, run["wall_s"], run["cpu_per_tenant_s"], run["traffic"]["per_tenant_mean"]["graph"],
                 run["traffic"]["totals"]["429"], run["hosts_failed"], run["rc"]), flush=True)
        return run

    def verify(self, run):
        """Every tenant of the run holds exactly the oracle's policies (graph-ca.md §3)."""
        problems = []
        for tid in self.fleets[run["fleet"]][1]:
            diff = oracle.compare_tenant(self.expected[tid], self.sandbox.client.policies(tid))
            problems += ["%s: %s" % (tid, d) for d in diff]
        run["state_matches_expected"] = not problems
        run["state_problems"] = problems[:20]
        run["state_problem_count"] = len(problems)
        if problems:
            print("    state differs from the expected policies in %d places, e.g. %s" % (len(problems), problems[0]))
        return not problems

    def group(self, forks, keys, fleet="all"):
        """Runs that share one sandbox state: reset, then e.g. check -> apply -> steady."""
        spec = {run[0]: run[1:] for run in RUNS}
        self.reset()
        for key in keys:
            label, playbook, check, diff, extra = spec[key]
            run = self.measure(key, label, playbook, forks, check, diff, fleet, extra)
            if key.endswith("check"):
                run["writes_ok"] = run["traffic"]["totals"]["writes"] == 0
            if key in ("apply", "baseline", "module_apply"):
                self.verify(run)

    def plan(self):
        """(forks, runs, fleet, required): everything on every tenant at the primary fork level (always run),
        then the fork sweep on the sweep fleet, as far as the budget goes."""
        primary = self.args.primary_forks
        sweep = [f for f in self.args.fork_levels if f != primary or "sweep" in self.separate_sweep()]
        before = [k for k in ("check", "apply", "steady") if k in self.args.before.split(",")]
        first = ["check", "apply", "steady"]
        if "steady" in before and "apply" not in before:
            first.append("module_steady")     # the module path's steady state on the state the collection applied
            before.remove("steady")
        if self.args.no_baseline_apply:
            first.insert(0, "baseline_check")  # check mode writes nothing: the same unapplied state for both
            first.append("baseline_steady")   # the baseline's steady state on the state the collection applied
        if self.args.no_baseline_apply:
            self.notes.append("baseline apply: not run (--no-baseline-apply, the longest run); the baseline's check "
                              "mode ran on the unapplied state and its steady state on the state the collection applied")
        plan = [(primary, tuple(first), "all", True)]
        if before:
            plan.append((primary, tuple("module_" + k for k in before), "all", True))
        if not self.args.no_baseline_apply:
            plan.append((primary, ("baseline_check", "baseline", "baseline_steady"), "all", True))
        plan += [(f, ("apply", "steady"), "sweep", False) for f in sweep]
        plan += [(f, ("baseline", "baseline_steady"), "sweep", False) for f in sweep]
        plan += [(f, ("check",), "sweep", False) for f in sweep]
        return plan

    def separate_sweep(self):
        return ["sweep"] if self.fleets["sweep"] is not self.fleets["all"] else []

    def estimate(self, forks, keys, fleet):
        """Seconds a group would take, from what was measured so far (None when nothing comparable ran yet)."""
        cpus = os.cpu_count() or 1
        tenants = len(self.fleets[fleet][1])
        total = 0.0
        for key in keys:
            seen = [r for r in self.runs if r["key"] == key]
            if not seen:
                return None
            ref = min(seen, key=lambda r: (abs(r["tenants"] - tenants), abs(r["forks"] - forks)))
            scale = tenants / ref["tenants"]
            ref = dict(ref, cpu_s=ref["cpu_s"] * scale, wall_s=ref["wall_s"] * scale)
            guess = ref["cpu_s"] / cpus                                   # CPU-bound floor on this machine
            if forks < ref["forks"]:
                guess = max(guess, ref["wall_s"] * ref["forks"] / forks)  # fewer parallel tenants
            if key == "apply":
                changes = sum(self.to_change[t] for t in self.fleets[fleet][1]) / tenants
                guess = max(guess, (changes + 1) * tenants / min(forks, tenants))
            if forks == ref["forks"]:
                guess = ref["wall_s"]
            total += guess * 1.1
        return total

    # -- the whole bench ------------------------------------------------------------------------
    def run(self):
        budget = self.args.budget_min * 60
        for forks, keys, fleet, required in self.plan():
            elapsed = time.monotonic() - self.started
            estimate = self.estimate(forks, keys, fleet)
            if not required and estimate is not None and elapsed + estimate > budget:
                note = ("forks %d, %d tenants, %s: not run; estimated %.0f s from the runs measured before, and the "
                        "%.0f-minute budget had %.0f s left" % (
                            forks, len(self.fleets[fleet][1]), " + ".join(keys), estimate, self.args.budget_min,
                            max(budget - elapsed, 0)))
                self.notes.append(note)
                print("  " + note, flush=True)
                continue
            print("forks=%d, %d tenants: %s" % (forks, len(self.fleets[fleet][1]), ", ".join(keys)), flush=True)
            self.group(forks, keys, fleet)
        self.profile = None
        if not self.args.no_profile:
            from bench.profile_module import profile
            busiest = max(self.clients, key=lambda t: self.to_change[t])
            single = self.workdir / "single.json"
            write_inventory(single, self.fixture, tenants=[busiest])
            print("profiling one module run (tenant %s, %d policies to change)" % (busiest, self.to_change[busiest]))
            self.profile = profile(self.sandbox, self.fixture_path, single, self.workdir, self.set_faults)
            self.profile["tenant_policies_to_change"] = self.to_change[busiest]

    def fixture_summary(self):
        return {"client_tenants": len(self.clients), "policies_per_tenant": self.args.policies,
                "policies_to_change_total": sum(self.to_change.values()),
                "policies_to_change_mean": sum(self.to_change.values()) / max(len(self.clients), 1)}

    def results(self):
        self.monitor.stop()
        return {
            "args": {k: v for k, v in vars(self.args).items()},
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                        "load": self.monitor.load_summary()},
            "fixture": self.fixture_summary(),
            "runs": [{k: v for k, v in r.items() if k != "output"} for r in self.runs],
            "profile": self.profile, "notes": self.notes,
            "elapsed_s": time.monotonic() - self.started,
            "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        }

    def close(self):
        if self.sandbox is not None:
            self.sandbox.stop()


def _sandbox_pid(handle):
    for attr in ("pid", "process", "proc", "_proc", "_process", "popen"):
        value = getattr(handle, attr, None)
        if isinstance(value, int):
            return value
        if getattr(value, "pid", None):
            return value.pid
    return None


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from bench.report import write_report

    with tempfile.TemporaryDirectory(prefix="msp-ca-bench-") as workdir:
        bench = Bench(args, workdir)
        try:
            print("bench: %d client tenants x %d policies, forks %s, latency %d ms, throttle %s req/s/tenant"
                  % (args.tenants, args.policies, args.fork_levels, args.latency_ms, args.throttle_rps), flush=True)
            bench.setup()
            bench.run()
            data = bench.results()
        finally:
            bench.close()
    (out / "results.json").write_text(json.dumps(data, indent=1, default=str))
    write_report(data, out)
    print("wrote %s, %s and %s" % (out / "report.md", out / "chart.png", out / "results.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
