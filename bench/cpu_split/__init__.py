"""The controller CPU split of one run: see sitecustomize.py beside this file."""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def env(out_dir):
    """Environment additions that turn the split on for a run (PYTHONPATH must reach every process)."""
    return {"MSP_CA_CPU_SPLIT": str(out_dir), "PYTHONPATH": str(HERE)}


def summarize(out_dir, tree_cpu_s):
    """CPU seconds by category for the whole process tree of one run (``tree_cpu_s`` from wait4).

    - start-up: module processes' own CPU outside auth/Graph/module logic (interpreter, imports, AnsiballZ),
      plus the one-off imports the main process pays when it loads the action plugins;
    - auth, Graph: as wrapped; module logic: the module's work after its argument spec;
    - in-process runner: AnsibleModule set-up, argument spec and result encoding inside a worker;
    - Ansible: the rest of the tree (main process, forking workers, templating, other tasks, shells).
    """
    split = {"start-up": 0.0, "auth": 0.0, "graph": 0.0, "module logic": 0.0, "in-process runner": 0.0}
    processes = {"main": 0, "worker": 0, "module": 0}
    for path in Path(out_dir).glob("*.json"):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            processes[record["kind"]] = processes.get(record["kind"], 0) + 1
            auth, graph, logic = record.get("auth", 0.0), record.get("graph", 0.0), record.get("logic", 0.0)
            split["auth"] += auth
            split["graph"] += graph
            split["module logic"] += logic
            split["start-up"] += record.get("parent_imports", 0.0)
            if record["kind"] == "module":
                split["start-up"] += max(record["process_cpu"] - auth - graph - logic, 0.0)
            if record["kind"] == "worker":
                split["in-process runner"] += record.get("in_process", 0.0)
    split["ansible"] = max(tree_cpu_s - sum(split.values()), 0.0)
    return {"cpu_s": split, "processes": processes}
