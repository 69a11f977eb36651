"""bench/results/report.md and chart.png from the measured results (nothing here is estimated but the bounds,
which are labelled as such)."""

from __future__ import annotations

from pathlib import Path

LABELS = {"check": "collection: check mode (--check --diff)", "apply": "collection: apply",
          "steady": "collection: second apply (steady)",
          "module_check": "before (module process): check mode", "module_apply": "before (module process): apply",
          "module_steady": "before (module process): second apply (steady)",
          "baseline_check": "baseline uri: check mode", "baseline": "baseline uri: apply",
          "baseline_steady": "baseline uri: second apply"}
STYLE = {"check": ("tab:blue", ":"), "apply": ("tab:blue", "-"), "steady": ("tab:blue", "--"),
         "module_check": ("tab:green", ":"), "module_apply": ("tab:green", "-"), "module_steady": ("tab:green", "--"),
         "baseline_check": ("tab:red", ":"), "baseline": ("tab:red", "-"), "baseline_steady": ("tab:red", "--")}
SPLIT = ("start-up", "auth", "graph", "module logic", "in-process runner", "ansible")
RSS_TARGET_MB = 120


def by_key(runs, tenants=None):
    """{key: {forks: run}} for the runs on ``tenants`` tenants (default: the largest fleet measured)."""
    tenants = tenants or max((r["tenants"] for r in runs), default=0)
    table = {}
    for run in runs:
        if run["tenants"] == tenants:
            table.setdefault(run["key"], {})[run["forks"]] = run
    return table


def fleets(runs):
    return sorted({r["tenants"] for r in runs}, reverse=True)


def paced_requests(run):
    """Graph requests per tenant the 1 request/second/tenant limit spaces out: what the run sent (the collection's
    lost-update read before each write and its read-back listing included; its one MSP lookup per tenant is not a
    Conditional Access request, so this is a slight over-estimate), or, for a run without a request log, the policies
    to change + 1 list."""
    sent = ((run.get("traffic") or {}).get("per_tenant_mean") or {}).get("graph")
    return sent if sent else run["changes_per_tenant"] + 1


def pacing_bound(requests_per_tenant, tenants, forks):
    """Lower bound of an apply's wall time from 1 request/second/tenant alone: each tenant needs one second per
    request, and at most `forks` tenants run at once."""
    return requests_per_tenant * tenants / min(forks, tenants)


def write_chart(data, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_wall, ax_cpu) = plt.subplots(1, 2, figsize=(13, 5.2))
    markers = ["o", "s", "^", "D"]
    for index, tenants in enumerate(fleets(data["runs"])):
        table = by_key(data["runs"], tenants)
        for key, runs in table.items():
            forks = sorted(runs)
            color, style = STYLE.get(key, ("gray", "-"))
            label = "%s, %d tenants" % (LABELS.get(key, key), tenants)
            marker = markers[index % len(markers)]
            ax_wall.plot(forks, [runs[f]["wall_s"] for f in forks], style, marker=marker, color=color, label=label,
                         alpha=1.0 if index == 0 else 0.6)
            ax_cpu.plot(forks, [runs[f]["cpu_per_tenant_s"] for f in forks], style, marker=marker, color=color,
                        label=label, alpha=1.0 if index == 0 else 0.6)
        applies = table.get("apply", {})
        if len(applies) > 1:
            forks = sorted(applies)
            ax_wall.plot(forks, [pacing_bound(paced_requests(applies[f]), tenants, f) for f in forks],
                         color="gray", linestyle="-.", marker=marker, markersize=3,
                         label="bound from 1 req/s/tenant pacing (apply), %d tenants" % tenants)
    all_forks = sorted({r["forks"] for r in data["runs"]})
    ax_wall.set_xlabel("forks")
    ax_wall.set_ylabel("wall time (s)")
    ax_wall.set_yscale("log")
    ax_wall.set_title("Wall time (%d policies per tenant)" % data["fixture"]["policies_per_tenant"])
    ax_wall.legend(fontsize=7)
    ax_cpu.set_xlabel("forks")
    ax_cpu.set_ylabel("controller CPU seconds per tenant")
    ax_cpu.set_title("Controller CPU per tenant (ansible-playbook tree)")
    ax_cpu.set_ylim(bottom=0)
    ax_cpu.legend(fontsize=7)
    for ax in (ax_wall, ax_cpu):
        ax.set_xscale("log")
        ax.set_xticks(all_forks)
        ax.set_xticklabels([str(f) for f in all_forks])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(str(Path(out) / "chart.png"), dpi=110)
    plt.close(fig)


def _fmt(value, digits=1):
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    return ("%%.%df" % digits) % value


def runs_table(data):
    lines = ["| run | tenants | forks | wall s | CPU s | CPU s/tenant | Graph req/tenant (min-max) | login req/tenant | "
             "writes | 429 | 503 | hosts failed | state = expected | tree peak PSS / RSS MB (processes) | sandbox CPU s | "
             "others' CPU |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
    for run in sorted(data["runs"], key=lambda r: (-r["tenants"], -r["forks"], list(LABELS).index(r["key"]))):
        t = run["traffic"]
        others = run["others_cpu_s"] / max(run["machine_capacity_cpu_s"], 1e-9)
        state = run.get("state_matches_expected")
        if run["key"].endswith("check"):
            state = "0 writes" if run.get("writes_ok") else "**WROTE**"
        memory = "%.0f / %.0f (%d)" % (run["tree_peak_pss_mb"], run["tree_peak_rss_mb"], run["tree_peak_processes"]) \
            if run.get("tree_peak_pss_mb") is not None else "n/a"
        lines.append("| %s | %d | %d | %.1f | %.1f | %.2f | %.2f (%d-%d) | %.2f | %d | %d | %d | %d%s | %s | %s | %.1f | %.0f%% |" % (
            LABELS.get(run["key"], run["key"]), run["tenants"], run["forks"], run["wall_s"], run["cpu_s"], run["cpu_per_tenant_s"],
            t["per_tenant_mean"]["graph"], t["graph_min"], t["graph_max"], t["per_tenant_mean"]["login"],
            t["totals"]["writes"], t["totals"]["429"], t["totals"]["503"], run["hosts_failed"],
            " (rc %d)" % run["rc"] if run["rc"] else "", "n/a" if state is None else _fmt(state) if isinstance(state, bool)
            else state, memory, run["sandbox_cpu_s"], 100 * others))
    return lines


def split_table(data):
    """Controller CPU seconds per tenant by category (bench/cpu_split), for every run that recorded it."""
    lines = ["| run | tenants | forks | CPU s/tenant | " + " | ".join(SPLIT) + " | processes (main/worker/module) |",
             "|---|---:|---:|---:|" + "---:|" * len(SPLIT) + "---|"]
    for run in sorted(data["runs"], key=lambda r: (-r["tenants"], -r["forks"], list(LABELS).index(r["key"]))):
        split = run.get("cpu_split")
        if not split:
            continue
        n = run["tenants"]
        p = split["processes"]
        lines.append("| %s | %d | %d | %.3f | %s | %d/%d/%d |" % (
            LABELS.get(run["key"], run["key"]), n, run["forks"], run["cpu_per_tenant_s"],
            " | ".join("%.3f" % (split["cpu_s"][k] / n) for k in SPLIT), p.get("main", 0), p.get("worker", 0),
            p.get("module", 0)))
    return lines


def _ratio_row(name, fast, slow, goal):
    ratio = slow["wall_s"] / fast["wall_s"]
    return (name, "%.1f s vs %.1f s: %.2fx" % (fast["wall_s"], slow["wall_s"], ratio), ratio >= goal, "")


def targets(data):
    table = by_key(data["runs"])
    tenants = max(fleets(data["runs"]) or [0])
    rows = []
    steady = table.get("steady", {})
    for forks in sorted(steady):
        run = steady[forks]
        base = table.get("baseline_steady", {}).get(forks)
        if base:
            rows.append(_ratio_row("%d tenants, forks %d: steady state >= 3x faster than the baseline's" % (
                tenants, forks), run, base, 3))
        rows.append(("%d tenants, forks %d: steady state <= 0.25 s controller CPU per tenant" % (tenants, forks),
                     "%.3f s" % run["cpu_per_tenant_s"], run["cpu_per_tenant_s"] <= 0.25, ""))
        t = run["traffic"]["per_tenant_mean"]
        rows.append(("Steady state: 2 requests per tenant (token + list)",
                     "%.2f Graph (max %d) + %.2f login requests per tenant" % (
                         t["graph"], run["traffic"]["graph_max"], t["login"]),
                     run["traffic"]["graph_max"] <= 1 and t["login"] <= 1,
                     "the login side counts every request to the token endpoint and OpenID metadata"))
        check = table.get("check", {}).get(forks)
        if check:
            rows.append(("%d tenants, forks %d: check mode as fast as steady state (within 10%%)" % (tenants, forks),
                         "%.1f s vs %.1f s steady" % (check["wall_s"], run["wall_s"]),
                         check["wall_s"] <= 1.1 * run["wall_s"], ""))
    for forks in sorted(table.get("apply", {})):
        apply, base = table["apply"][forks], table.get("baseline", {}).get(forks)
        if not base:
            continue
        rows.append(_ratio_row("%d tenants, forks %d: apply >= 3x faster than the baseline" % (tenants, forks),
                               apply, base, 3))
        cpu = apply["cpu_per_tenant_s"] / base["cpu_per_tenant_s"]
        rows.append(("%d tenants, forks %d: controller CPU/tenant <= 1/2 of the baseline" % (tenants, forks),
                     "%.2f s vs %.2f s: %.2f of it" % (apply["cpu_per_tenant_s"], base["cpu_per_tenant_s"], cpu),
                     cpu <= 0.5, ""))
    prof = data.get("profile")
    if prof:
        rss = max(prof["apply"]["maxrss_mb"], prof["steady"]["maxrss_mb"])
        rows.append(("Module peak RSS <= %d MB (the module path)" % RSS_TARGET_MB, "%.1f MB (apply), %.1f MB (steady)"
                     % (prof["apply"]["maxrss_mb"], prof["steady"]["maxrss_mb"]), rss <= RSS_TARGET_MB, ""))
    lines = ["| target | measured | met |", "|---|---|---|"]
    for name, measured, met, note in rows:
        lines.append("| %s | %s%s | %s |" % (name, measured, " (%s)" % note if note else "", "yes" if met else "**missed**"))
    return lines


def before_after(data):
    """The collection before (module process) and after (in the worker) the action plugins, per run kind."""
    table = by_key(data["runs"])
    lines = ["| run | forks | before: wall s | before: CPU s/tenant | after: wall s | after: CPU s/tenant | "
             "wall: after is | peak tree PSS MB before / after |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for kind in ("check", "apply", "steady"):
        for forks, after in sorted(table.get(kind, {}).items()):
            before = table.get("module_" + kind, {}).get(forks)
            if not before:
                continue
            lines.append("| %s | %d | %.1f | %.3f | %.1f | %.3f | %.2fx faster | %.0f / %.0f |" % (
                kind, forks, before["wall_s"], before["cpu_per_tenant_s"], after["wall_s"], after["cpu_per_tenant_s"],
                before["wall_s"] / after["wall_s"], before.get("tree_peak_pss_mb") or 0,
                after.get("tree_peak_pss_mb") or 0))
    return lines if len(lines) > 2 else []


def profile_section(data):
    prof = data.get("profile")
    if not prof:
        return ["(not run: --no-profile)"]
    lines = []
    for key, title in (("apply", "apply (policies to change: %d)" % prof.get("tenant_policies_to_change", 0)),
                       ("steady", "steady state (nothing to change)")):
        run = prof[key]
        lines.append("- **%s**: wall %.2f s, CPU %.2f s, peak RSS %.1f MB, %s Graph requests, result %s%s"
                     % (title, run["wall_s"], run["cpu_s"], run["maxrss_mb"], run["graph_requests"], run["summary"],
                        " FAILED: %s" % run["msg"] if run["failed"] else ""))
    lines.append("- peak RSS measured with %s" % (prof["apply"].get("rss_source") or "wait4 ru_maxrss (an upper "
                                                    "bound: it includes the bench process's RSS at fork)"))
    bare = prof["bare_python_ansible_import"]
    lines.append("- bare `python -c 'import ansible.module_utils.basic'`: wall %.2f s, CPU %.2f s, RSS %.1f MB"
                 % (bare["wall_s"], bare["cpu_s"], bare["maxrss_mb"]))
    lines.append("- imports (top level, `-X importtime`, cumulative): %.2f s in all; %s" % (
        prof["imports_total_s"], ", ".join("%s %.2f s" % kv for kv in list(prof["imports"].items())[:7])))
    for key in ("profile_steady", "profile_apply"):
        p = prof[key]
        lines.append("- cProfile, %s: module main %.2f s = auth (token) %.2f s + Graph requests %.2f s (of which "
                     "sleeping %.2f s: pacing and retry back-off) + the rest (planning, imports inside main) %.2f s" % (
                         key.split("_")[1], p["module_main_s"], p["auth_s"], p["graph_s"], p["sleep_s"],
                         max(p["module_main_s"] - p["auth_s"] - p["graph_s"], 0.0)))
    return lines


def analysis(data):
    """Plain statements computed from the figures: what bounds each run."""
    cpus = data["machine"]["cpus"] or 1
    lines = []
    for run in sorted(data["runs"], key=lambda r: (-r["tenants"], r["forks"])):
        if run["key"] not in ("apply", "baseline", "module_apply"):
            continue
        paced = paced_requests(run)
        bound = pacing_bound(paced, run["tenants"], run["forks"])
        cpu_bound = (run["cpu_s"] + run["sandbox_cpu_s"]) / cpus
        lines.append("- %s, %d tenants, forks %d: %.0f s measured. Lower bounds: %.1f requests per tenant at 1 "
                     "request/second/tenant need %.0f s; "
                     "the controller's %.0f CPU s plus the sandbox's %.0f need %.0f s on %d cores -> %s-bound%s." % (
                         LABELS[run["key"]], run["tenants"], run["forks"], run["wall_s"], paced, bound, run["cpu_s"],
                         run["sandbox_cpu_s"], cpu_bound, cpus, "pacing" if bound >= cpu_bound else "CPU",
                         "" if run["key"] != "baseline" else " (the baseline does not pace, so its bound is the 429 "
                         "retries instead: %d 429s)" % run["traffic"]["totals"]["429"]))
    table = by_key(data["runs"])
    prof = data.get("profile")
    steady = table.get("module_steady", {})
    if prof and steady:
        forks = max(steady)
        run = steady[forks]
        module_cpu = prof["steady"]["cpu_s"]
        lines.append("- steady state on the module path, forks %d: %.2f controller CPU s per tenant, of which one "
                     "module process is "
                     "%.2f s (start-up and imports %.2f s wall); the rest, %.2f s, is Ansible's own per-host work "
                     "(forking a worker, templating the role's arguments, building the AnsiballZ payload, the "
                     "assert/set_fact tasks, results)." % (
                         forks, run["cpu_per_tenant_s"], module_cpu, prof["imports_total_s"],
                         max(run["cpu_per_tenant_s"] - module_cpu, 0.0)))
    return lines


def write_report(data, out):
    out = Path(out)
    for run in data["runs"]:
        run.setdefault("changes_per_tenant", data["fixture"]["policies_to_change_mean"])
        run.setdefault("fleet", "all")
    write_chart(data, out)
    args, fixture, machine = data["args"], data["fixture"], data["machine"]
    load = machine["load"]
    others = [r["others_cpu_s"] / max(r["machine_capacity_cpu_s"], 1e-9) for r in data["runs"]]
    ours = [r["cpu_s"] / max(r["machine_capacity_cpu_s"], 1e-9) for r in data["runs"]]
    command = "python -m bench --tenants %d --policies %d --forks %s --latency-ms %d" % (
        args["tenants"], args["policies"], ",".join(str(f) for f in sorted(args["fork_levels"])), args["latency_ms"])
    for option in ("primary_forks", "sweep_tenants", "budget_min"):  # the rest of the command line, when stored
        if args.get(option) is not None:
            command += " --%s %s" % (option.replace("_", "-"), args[option])
    if args.get("before") not in (None, "check,apply,steady"):
        command += " --before " + args["before"]
    for flag in ("no_profile", "no_baseline_apply"):
        if args.get(flag):
            command += " --" + flag.replace("_", "-")
    if args.get("out") and not str(args["out"]).rstrip("/").endswith("bench/results"):
        command += " --out " + str(args["out"])
    sweep_tenants = args.get("sweep_tenants") or fixture["client_tenants"]
    if sweep_tenants < fixture["client_tenants"]:
        sweep_scope = ("runs on the first %d tenants: the runs on every tenant at the primary fork level take most "
                       "of the time budget on this 2-core machine" % sweep_tenants)
    else:
        sweep_scope = "runs on all %d tenants" % sweep_tenants
    lines = [
        "# Part D at MSP scale: benchmark report",
        "",
        "Generated by `make bench` (`%s`) on %s; the bench took %.1f minutes. Regenerate with the same command;"
        " `results.json` beside this file has every figure." % (command + (" --quick" if args.get("quick") else ""),
                                                                 data["generated"], data["elapsed_s"] / 60),
        "",
        "## Set-up",
        "",
        "- Sandbox: %d client tenants x %d Conditional Access policies (`sandbox.fixtures.generate`, seed %d); "
        "%d policies need the MSP exclusion (%.1f per tenant on average), the rest are already excluded or out of "
        "scope." % (fixture["client_tenants"], fixture["policies_per_tenant"], args["seed"],
                    fixture["policies_to_change_total"], fixture["policies_to_change_mean"]),
        "- Faults on for every run: %d ms added latency on every request, Graph's Conditional Access throttle of "
        "%s request/second/tenant (429 without Retry-After)." % (args["latency_ms"], args["throttle_rps"]),
        "- Runs: the collection's `playbooks/client_tenants.yml` (a) in check mode with --diff, (b) applied, (c) "
        "applied again (steady state: nothing to change) - the modules running in Ansible's worker process "
        "(plugins/action/). \"before\" is the same three runs after a reset with "
        "`-e msp_conditional_access_in_process=false`: each task runs its module in a new Python process "
        "(AnsiballZ), as the collection did before the action plugins. The baseline, after a reset: "
        "`bench/baseline/client_tenants_uri.yml` (token + list + PATCH with `ansible.builtin.uri`, the same §3 merge "
        "in Jinja, `until`/`retries` on 429/503) in check mode, applied, and applied again. After every apply the "
        "tenants' policies are compared with an independent oracle (`bench/oracle.py`).",
        "- Peak memory: the process tree of ansible-playbook sampled from /proc twice a second; PSS shares the "
        "pages forked workers have in common with the main process among them (RSS counts them in every process).",
        "- Every run is measured on all %d tenants at %d forks. The fork sweep (%s) %s. A sweep run that "
        "would not fit the budget is not run and is listed under \"Left out\"." % (
            fixture["client_tenants"], args.get("primary_forks", 0),
            ", ".join(str(f) for f in sorted(args["fork_levels"])), sweep_scope),
        "- Controller CPU = user+sys of the whole ansible-playbook process tree (wait4), divided by the tenants. "
        "Requests, writes and 429s come from the sandbox request log.",
        "- Machine: %d cores, Python %s, %s. The cores were shared with other engineers during the run: 1-minute "
        "load average %.1f to %.1f (mean %.1f); other people's processes used %.0f%%-%.0f%% of the machine's CPU "
        "during the measured runs (ours: %.0f%%-%.0f%%). Wall times are therefore pessimistic, and CPU seconds "
        "grow too under sharing (caches, clock): compare the collection with the baseline of the same run." % (
            machine["cpus"], machine["python"], machine["platform"], load["load1_min"], load["load1_max"],
            load["load1_mean"], 100 * min(others or [0]), 100 * max(others or [0]), 100 * min(ours or [0]),
            100 * max(ours or [0])),
        "",
        "## Results",
        "",
    ] + runs_table(data) + [
        "",
        "![wall time and controller CPU per tenant against forks](chart.png)",
        "",
        "## Before and after the action plugins",
        "",
    ] + (before_after(data) or ["(the module path was not measured in this run)"]) + [
        "",
        "## Controller CPU split (seconds per tenant)",
        "",
        "From `bench/cpu_split` (CPU time wrapped around Authenticator.token, GraphClient._send and GraphModule.run "
        "in every process of the tree): start-up = module processes outside those (interpreter, imports, "
        "AnsibleModule) plus the main process importing the action plugins once; in-process runner = AnsibleModule "
        "and argument handling inside a worker; Ansible = the rest of the tree (the main process, forking workers, "
        "templating, the other tasks of the play, shells).",
        "",
    ] + split_table(data) + [
        "",
        "## Against the targets",
        "",
    ] + targets(data) + [
        "",
        "## One module process (ca_client_exclusion), measured alone",
        "",
        "The AnsiballZ payload Ansible ran was kept and run again by itself (wait4 for CPU and peak RSS; "
        "`-X importtime`; cProfile).",
        "",
    ] + profile_section(data) + [
        "",
        "## What bounds the figures",
        "",
    ] + analysis(data)
    if data.get("notes"):
        lines += ["", "## Left out", ""] + ["- " + n for n in data["notes"]]
    problems = [r for r in data["runs"] if r.get("state_problems")]
    if problems:
        lines += ["", "## State differences", ""]
        for run in problems:
            lines.append("- %s, forks %d: %d differences, e.g.:" % (LABELS.get(run["key"]), run["forks"],
                                                                  run["state_problem_count"]))
            lines += ["  - `%s`" % p[:400] for p in run["state_problems"][:3]]
    (out / "report.md").write_text("\n".join(lines) + "\n")
