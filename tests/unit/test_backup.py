"""Backups at the write chokepoint: saved before the write, private, never in check mode, first copy wins."""

import json
import os
import stat

import pytest

from ansible_collections.msp.conditional_access.plugins.module_utils import _backup
from ansible_collections.msp.conditional_access.plugins.module_utils._graph import WriteGate
from ansible_collections.msp.conditional_access.plugins.module_utils._module import GraphModule

TENANT = "22222222-2222-4222-8222-222222222222"
POLICY = {"id": "p1", "displayName": "Require MFA", "state": "enabled"}


class RecordingGraph:
    """Graph stand-in that records what happened, in order, and what was on disk when each request went out."""

    def __init__(self, root):
        self.tenant_id = TENANT
        self.root = root
        self.events = []

    gate = WriteGate()  # the real chokepoint opens it for each write

    def request(self, method, path, body=None, version=None, lag_retries=0):
        on_disk = sorted(os.listdir(os.path.join(self.root, TENANT))) if os.path.isdir(os.path.join(self.root, TENANT)) else []
        self.events.append((method, path, on_disk))

    def get(self, path, params=None, version=None):
        self.events.append(("GET", path, None))
        return dict(POLICY, id=path.rsplit("/", 1)[-1])


class Module:
    """Just what GraphModule.write reads; the method under test is the real one."""

    write = GraphModule.write
    before_write = GraphModule.before_write
    _name = "ca_policy"

    def __init__(self, root, check_mode=False):
        self.check_mode = check_mode
        self.params = {"backup_dir": root}
        self.graph = RecordingGraph(root)
        self.writes = []
        self.backups = []


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_patch_is_preceded_by_a_private_backup_of_the_current_object(tmp_path):
    root = str(tmp_path / "run")
    module = Module(root)
    module.write("PATCH", "/identity/conditionalAccess/policies/p1", {"state": "disabled"}, current=POLICY)
    method, path, on_disk = module.graph.events[0]
    assert (method, on_disk) == ("PATCH", ["policy-p1.json"])  # the file existed when the PATCH went out
    target = os.path.join(root, TENANT, "policy-p1.json")
    assert module.backups == [target]
    record = json.loads(open(target).read())
    assert record["object"] == POLICY and record["tenant_id"] == TENANT and record["kind"] == "policy"
    assert record["before"] == "PATCH" and record["module"] == "ca_policy"
    assert mode(target) == 0o600
    assert mode(os.path.join(root, TENANT)) == 0o700 and mode(root) == 0o700


def test_check_mode_writes_no_backup_and_sends_nothing(tmp_path):
    root = str(tmp_path / "run")
    module = Module(root, check_mode=True)
    module.write("DELETE", "/identity/conditionalAccess/policies/p1", current=POLICY)
    assert module.graph.events == [] and module.backups == []
    assert not os.path.exists(root)


def test_create_has_nothing_to_back_up_before_it(tmp_path):
    module = Module(str(tmp_path))
    module.write("POST", "/identity/conditionalAccess/policies", {"displayName": "x"})
    assert module.backups == [] and module.graph.events[0][0] == "POST"


def test_without_the_current_object_it_is_read_before_the_write(tmp_path):
    module = Module(str(tmp_path))
    module.write("DELETE", "/identity/conditionalAccess/namedLocations/l1")
    assert [e[0] for e in module.graph.events] == ["GET", "DELETE"]
    assert module.backups == [os.path.join(str(tmp_path), TENANT, "named_location-l1.json")]


def test_the_first_copy_of_a_run_wins(tmp_path):
    module = Module(str(tmp_path))
    path = "/identity/conditionalAccess/policies/p1"
    module.write("PATCH", path, {"conditions": {}}, current=POLICY)
    module.write("PATCH", path, {"state": "disabled"}, current=dict(POLICY, state="enabled", displayName="changed"))
    record = json.loads(open(module.backups[0]).read())
    assert len(module.backups) == 1 and record["object"] == POLICY


def test_a_backup_that_cannot_be_written_stops_the_write(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    module = Module(str(blocker / "run"))
    with pytest.raises(_backup.BackupError, match="nothing was written"):
        module.write("PATCH", "/identity/conditionalAccess/policies/p1", {}, current=POLICY)
    assert module.graph.events == []


def test_default_directory_is_per_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not under Ansible: the working directory
    monkeypatch.setenv(_backup.RUN_TIME_ENV, "20261201T2000Z")
    assert _backup.backup_root(None) == str(tmp_path / "build" / "backups" / "20261201T2000Z")
    monkeypatch.delenv(_backup.RUN_TIME_ENV)
    assert os.path.basename(_backup.backup_root(None)).endswith("Z")


def test_backup_files_and_last_backup(tmp_path):
    for run in ("20261201T100000Z", "20261201T110000Z"):
        _backup.save(str(tmp_path / run), TENANT, "PATCH", "/identity/conditionalAccess/policies/p1", POLICY)
    _backup.save(str(tmp_path / "20261201T110000Z"), "other", "PATCH", "/identity/conditionalAccess/policies/p9", POLICY)
    last = _backup.last_backup(str(tmp_path), TENANT)
    assert last["run"] == "20261201T110000Z" and last["files"] == 1 and last["policies"] == 1
    files = _backup.backup_files(str(tmp_path / "20261201T110000Z"), TENANT)
    assert [os.path.basename(f) for f in files] == ["policy-p1.json"]
    assert _backup.load(files[0])["object"] == POLICY


def test_a_create_is_recorded_after_it_succeeds(tmp_path):
    module = Module(str(tmp_path))
    module.graph.request = lambda method, path, body=None, version=None, lag_retries=0: dict(body, id="new-1")
    module.write("POST", "/identity/conditionalAccess/policies", {"displayName": "Part A"})
    record = _backup.load(module.backups[0])
    assert os.path.basename(module.backups[0]) == "created-policy-new-1.json"
    assert record["kind"] == "created-policy" and record["object"] == {"displayName": "Part A", "id": "new-1"}
