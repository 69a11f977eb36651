"""The adversarial suite's machinery: run a case, judge it, and write the table.

Module cases run the real module in this process (``main()`` with ``patch_module_args``), so the real argument
spec, validation and Graph/CIPP clients talk to the real sandbox over HTTPS, at a few milliseconds per case
instead of one ansible-playbook fork each. Role cases run through ansible-playbook (role_cases.py).

A case is *clean* when the task failed, its message names the option (or role variable) the case expects, and
there is no traceback, no "MODULE FAILURE", no secret and no exception in the result. It *wrote* when the
sandbox log shows any request other than a read (GET) to Graph or CIPP-API while the case ran: a refused write
counts too, since the promise is to refuse before the first write.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from unittest import mock

from ansible.module_utils import _internal as module_internal
from ansible.module_utils.common import warnings as module_warnings
from ansible.module_utils.testing import patch_module_args

REPO = Path(__file__).resolve().parents[2]
TABLE_DIR = REPO / "build" / "adversarial"
MODULES = "ansible_collections.msp.conditional_access.plugins.modules."
GRAPH = "ansible_collections.msp.conditional_access.plugins.module_utils._graph"
SECRET = "sandbox-only-secret-not-real"
READS = ("GET", "HEAD", "OPTIONS")
UNCLEAN_MARKS = ("Traceback (most recent call last)", "MODULE FAILURE", "MODULE_STDERR", "Exception:",
                 "object has no attribute", "KeyError", "TypeError", "NoneType")


@dataclass
class Case:
    """One bad input: ``option`` must appear in the error message (``also``: further texts it must contain)."""

    id: str
    target: str  # module name, or "role:<name>"
    args: dict
    option: str
    env: dict = field(default_factory=dict)  # overrides; a value of None unsets the variable
    check: bool = False
    setup: object = None  # callable(sandbox) run before the case (state the case needs)
    also: tuple = ()
    why: str = ""


@dataclass
class Outcome:
    case: Case
    failed: bool
    message: str
    clean: bool
    writes: list
    problems: list

    @property
    def row(self):
        return {"id": self.case.id, "target": self.case.target, "option": self.case.option,
                "clean": self.clean, "wrote": len(self.writes), "message": self.message[:300],
                "problems": self.problems}


@contextlib.contextmanager
def environment(values):
    saved = dict(os.environ)
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_module(name, args, env, check=False):
    """(result dict, stray text) of one in-process run of module ``name``; an escaped exception is returned too."""
    module = importlib.import_module(MODULES + name)
    payload = dict(args, _ansible_check_mode=check, _ansible_diff=True)
    out, err = io.StringIO(), io.StringIO()
    escaped = None
    # what a fresh AnsiballZ process has: module-side warnings (not the controller's display), none left over
    module_warnings._global_warnings.clear()
    module_warnings._global_deprecations.clear()
    with environment(env), patch_module_args(payload), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err), mock.patch.object(module_internal, "is_controller", False), \
            mock.patch(GRAPH + ".GraphClient._pace"):  # the sandbox does not throttle; pacing is tested elsewhere
        try:
            module.main()
        except SystemExit:
            pass
        except Exception as exc:  # noqa: BLE001 - an escaped exception is the traceback the case looks for
            import traceback
            escaped = "".join(traceback.format_exception(exc))
    text = out.getvalue().strip()
    try:
        result = json.loads(text.splitlines()[-1]) if text else {}
    except ValueError:
        result = {"failed": True, "msg": "MODULE FAILURE: output is not JSON: " + text[:500]}
    stray = err.getvalue() + (escaped or "")
    return result, stray


def warnings_of(result):
    """The warning texts of a module result (the module side sends them as WarningSummary objects)."""
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings") or []]


def graph_or_cipp_writes(entries):
    return [e for e in entries if e.get("api") in ("graph", "cipp") and e.get("method") not in READS]


def judge(case, failed, message, raw_text, writes):
    problems = []
    if not failed:
        problems.append("not refused")
    if not re.search(r"(?<!\w)%s(?!\w)" % re.escape(case.option), message):  # a word: not inside another name
        problems.append("message does not name %r" % case.option)
    for text in case.also:
        if text not in message:
            problems.append("message lacks %r" % text)
    for mark in UNCLEAN_MARKS:
        if mark in raw_text:
            problems.append("output has %r" % mark)
    if SECRET in raw_text:
        problems.append("the client secret is in the output")
    clean = not problems  # the error itself; writes are judged apart
    if writes:
        sent = ", ".join("%s %s" % (w["method"], w["path"]) for w in writes[:3])
        problems.append("%d write(s): %s" % (len(writes), sent))
    return Outcome(case, failed, message, clean, writes, problems)


def run_module_case(case, sandbox, base_env):
    if case.setup:
        case.setup(sandbox)
    since = sandbox.client.log()[-1]["seq"] if sandbox.client.log() else 0
    result, stray = run_module(case.target, case.args, dict(base_env, **case.env), case.check)
    writes = graph_or_cipp_writes(sandbox.client.log(since=since))
    message = str(result.get("msg", ""))
    raw = json.dumps(result) + stray
    if "exception" in result:
        raw += " Exception: (result has an exception key)"
    return judge(case, bool(result.get("failed")), message, raw, writes)


def write_table(outcomes, path=None):
    """build/adversarial/table.md (+ results.json): per target, tried / clean error / wrote, then every case."""
    path = Path(path or TABLE_DIR / "table.md")
    path.parent.mkdir(parents=True, exist_ok=True)
    by_target = {}
    for outcome in outcomes:
        row = by_target.setdefault(outcome.case.target, [0, 0, 0])
        row[0] += 1
        row[1] += outcome.clean and not outcome.writes
        row[2] += bool(outcome.writes)
    lines = ["# Adversarial suite: bad inputs", "", "| module / role | tried | clean error | wrote |", "|---|---:|---:|---:|"]
    for target in sorted(by_target):
        tried, clean, wrote = by_target[target]
        lines.append("| %s | %d | %d | %d |" % (target, tried, clean, wrote))
    totals = [sum(r[i] for r in by_target.values()) for i in range(3)]
    lines.append("| **total** | **%d** | **%d** | **%d** |" % tuple(totals))
    lines += ["", "| case | target | option named | clean | writes | message (first 160 characters) |",
              "|---|---|---|---|---:|---|"]
    for outcome in sorted(outcomes, key=lambda o: (o.case.target, o.case.id)):
        message = outcome.message[:160].replace("|", "\\|").replace("\n", " ")
        lines.append("| %s | %s | %s | %s | %d | %s |" % (
            outcome.case.id, outcome.case.target, outcome.case.option,
            "yes" if outcome.clean and not outcome.writes else "NO: " + "; ".join(outcome.problems),
            len(outcome.writes), message))
    path.write_text("\n".join(lines) + "\n")
    (path.parent / "results.json").write_text(json.dumps([o.row for o in outcomes], indent=1))
    return path
