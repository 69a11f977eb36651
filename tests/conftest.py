"""Shared pytest fixtures: the collection path, the local sandbox and an ansible-playbook runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COLLECTIONS = REPO / "build" / "collections"
COLLECTION_LINK = COLLECTIONS / "ansible_collections" / "msp" / "conditional_access"
DEMO_FIXTURE = REPO / "sandbox" / "fixtures" / "demo.json"
BIN = Path(sys.executable).parent


def _link_collection():
    """ansible-core imports the collection from .../ansible_collections/msp/conditional_access."""
    COLLECTION_LINK.parent.mkdir(parents=True, exist_ok=True)
    if not COLLECTION_LINK.is_symlink():
        COLLECTION_LINK.symlink_to(REPO, target_is_directory=True)


_link_collection()
for path in (str(REPO), str(COLLECTIONS)):
    if path not in sys.path:
        sys.path.insert(0, path)


class PlaybookResult:
    def __init__(self, rc, stdout, stderr, recorded):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.results = recorded.get("results", [])
        self.stats = recorded.get("stats", {})
        self.starts = recorded.get("starts", [])  # [task name, start time] in the order the tasks started

    def task(self, name, host=None):
        """The result dict of the last run of task ``name`` (on ``host``)."""
        matches = [r for r in self.results if r["task"] == name and (host is None or r["host"] == host)]
        assert matches, "task %r not found; tasks run: %s\n%s" % (
            name, sorted({r["task"] for r in self.results}), self.stdout[-4000:])
        return matches[-1]["result"]

    def status(self, name, host=None):
        return [r for r in self.results if r["task"] == name and (host is None or r["host"] == host)][-1]["status"]

    @property
    def changed(self):
        return sum(s.get("changed", 0) for s in self.stats.values())

    @property
    def failed(self):
        return sum(s.get("failures", 0) for s in self.stats.values())

    def __repr__(self):
        return "PlaybookResult(rc=%s, changed=%s, failed=%s)" % (self.rc, self.changed, self.failed)


def ansible_env(extra=None):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_CALLBACK_PLUGINS": str(REPO / "tests" / "plugins" / "callback"),
        "ANSIBLE_CALLBACKS_ENABLED": "result_recorder",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "PATH": str(BIN) + os.pathsep + env.get("PATH", ""),
    })
    env.update(extra or {})
    return env


def run_ansible_playbook(playbook, env, check=False, diff=True, extra_vars=None, inventory=None, args=(),
                         timeout=900):
    """Run ansible-playbook for real and return a PlaybookResult."""
    with tempfile.TemporaryDirectory() as tmp:
        if "\n" in str(playbook):
            path = Path(tmp) / "playbook.yml"
            path.write_text(playbook)
        else:
            path = Path(playbook)
        results_file = Path(tmp) / "results.json"
        cmd = [str(BIN / "ansible-playbook"), str(path)]
        cmd += ["-i", inventory or "localhost,", ]
        if inventory is None:
            cmd += ["-c", "local"]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        cmd += list(args)
        run_env = dict(env, MSP_CA_RESULTS_FILE=str(results_file))
        proc = subprocess.run(cmd, env=run_env, capture_output=True, text=True, timeout=timeout, cwd=str(REPO))
        recorded = json.loads(results_file.read_text()) if results_file.exists() else {}
        return PlaybookResult(proc.returncode, proc.stdout, proc.stderr, recorded)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """One sandbox server process for the whole session (login + Graph + CIPP-API on loopback)."""
    from sandbox.testing import start_sandbox

    handle = start_sandbox(str(DEMO_FIXTURE), str(tmp_path_factory.mktemp("sandbox")))
    yield handle
    handle.stop()


@pytest.fixture
def sandbox_reset(sandbox):
    """Reset the sandbox to the demo fixture (log, counters and faults cleared) before a test."""
    sandbox.client.reset(fixture=str(DEMO_FIXTURE))
    return sandbox


@pytest.fixture
def run_playbook(sandbox):
    """run_playbook(text_or_path, check=False, diff=True, extra_vars=None, inventory=None) -> PlaybookResult."""
    env = ansible_env(sandbox.env)

    def run(playbook, **kwargs):
        return run_ansible_playbook(playbook, env, **kwargs)

    return run


def load_fixture(path=DEMO_FIXTURE):
    return json.loads(Path(path).read_text())


def msp_tenant_id(fixture=None):
    """The MSP tenant of a fixture: `msp_tenant_id` if the fixture names it, else the tenant called *MSP*."""
    fixture = fixture or load_fixture()
    if fixture.get("msp_tenant_id"):
        return fixture["msp_tenant_id"]
    for tid, tenant in fixture["tenants"].items():
        if "msp" in (tenant.get("display_name") or "").lower():
            return tid
    raise AssertionError("the fixture names no MSP tenant")
