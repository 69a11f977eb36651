"""Every role, fed bad role variables in ONE ansible-playbook run: each case is a block that includes the role and
rescues its failure, so a case costs a few tasks, not a process. The error must name the role variable."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from conftest import DEMO_FIXTURE, ansible_env, run_ansible_playbook
from sandbox.testing import start_sandbox

from .harness import graph_or_cipp_writes, judge
from .module_cases import MSP
from .role_cases import all_cases

CASES = all_cases()


def playbook(cases):
    tasks = []
    for case in cases:
        tasks += [
            {"name": "case " + case.id, "block": [
                {"name": "run " + case.id, "ansible.builtin.include_role": {
                    "name": "msp.conditional_access." + case.target.split(":", 1)[1]}, "vars": case.args},
                {"name": "reached " + case.id, "ansible.builtin.debug": {"msg": "not refused"}}],
             "rescue": [{"name": "refused " + case.id, "ansible.builtin.debug": {"var": "ansible_failed_result"}}]},
        ]
    tasks.append({"name": "end", "ansible.builtin.debug": {"msg": "end"}})
    return yaml.safe_dump([{"name": "Adversarial role cases", "hosts": "localhost", "gather_facts": False,
                            "vars": {"tenant_id": MSP, "msp_tenant_id": MSP},
                            "tasks": tasks}], sort_keys=False)


def test_every_role_is_tried():
    tried = {case.target for case in CASES}
    assert tried == {"role:" + name for name in ("trusted_location", "technician_access", "service_account_mfa",
                                                 "cipp_api_allowlist", "client_exclusion")}


def failure_text(failed):
    """The message a user sees: the task's msg plus, for a loop, each failed item's msg."""
    parts = [str(failed.get("msg", ""))]
    parts += [str(r.get("msg", "")) for r in failed.get("results") or [] if isinstance(r, dict) and r.get("failed")]
    return " | ".join(p for p in parts if p)


def run_group(cases, state_dir):
    """One ansible-playbook run of ``cases`` against a sandbox of their own (so its log is theirs alone)."""
    sandbox = start_sandbox(str(DEMO_FIXTURE), str(state_dir))
    try:
        for case in cases:
            if case.setup:
                case.setup(sandbox)
        since = max([e["seq"] for e in sandbox.client.log()] or [0])
        result = run_ansible_playbook(playbook(cases), ansible_env(sandbox.env), diff=False)
        return result, result.starts, sandbox.client.log(since=since)
    finally:
        sandbox.stop()


@pytest.fixture(scope="module")
def role_runs(tmp_path_factory):
    """{case id: (result, task starts, sandbox log)}: one playbook per role, the roles in parallel."""
    groups = {}
    for case in CASES:
        groups.setdefault(case.target, []).append(case)
    with ThreadPoolExecutor(max_workers=len(groups)) as pool:
        futures = {target: pool.submit(run_group, cases, tmp_path_factory.mktemp(target.replace(":", "-")))
                   for target, cases in groups.items()}
        runs = {target: future.result() for target, future in futures.items()}
    return {case.id: runs[case.target] for case in CASES}


def case_writes(case, starts, log):
    begins = [t for name, t in starts if name.startswith("run ") or name == "end"]
    mine = [t for name, t in starts if name == "run " + case.id]
    if not mine:
        return []
    start = mine[0]
    end = min([t for t in begins if t > start] or [float("inf")])
    return [e for e in graph_or_cipp_writes(log) if start <= e["time"] < end]


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=c.why)) if c.why else c
                                  for c in CASES], ids=[c.id for c in CASES])
def test_bad_role_variable_is_refused_cleanly_before_any_write(case, role_runs, outcomes):
    result, starts, log = role_runs[case.id]
    refused = [r for r in result.results if r["task"] == "refused " + case.id]
    failed = refused[-1]["result"].get("ansible_failed_result", {}) if refused else {}
    message = failure_text(failed)
    outcome = judge(case, bool(refused), message, json.dumps(failed), case_writes(case, starts, log))
    outcomes.append(outcome)
    assert outcome.clean and not outcome.writes, "%s: %s\nmessage: %s" % (case.id, outcome.problems, message)
