"""Restore against a stand-in Graph: deleted objects come back, a re-created location's new id reaches the policy."""

import copy
import json

import pytest

from ansible_collections.msp.conditional_access.plugins.module_utils import _backup
from ansible_collections.msp.conditional_access.plugins.module_utils._graph import WriteGate
from ansible_collections.msp.conditional_access.plugins.module_utils._module import GraphModule, InvalidOption
from ansible_collections.msp.conditional_access.plugins.module_utils._restore import Restore

TENANT = "33333333-3333-4333-8333-333333333333"
LOC = {"@odata.type": "#microsoft.graph.ipNamedLocation", "id": "loc-old", "displayName": "Office", "isTrusted": True,
       "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "203.0.113.0/24"}]}
POLICY = {"id": "pol-1", "displayName": "Block outside the office", "state": "enabled", "createdDateTime": "x",
          "conditions": {"users": {"includeUsers": ["All"], "excludeUsers": []},
                         "applications": {"includeApplications": ["All"]},
                         "locations": {"includeLocations": ["All"], "excludeLocations": ["loc-old"]}},
          "grantControls": {"operator": "OR", "builtInControls": ["block"]}, "sessionControls": None}


class Graph:
    """Policies and locations in memory; deleted policies stay restorable, the location was purged."""

    def __init__(self):
        self.tenant_id = TENANT
        self.requests = 0
        self.objects = {"policies": [], "namedLocations": []}
        self.deleted = {"policies": [copy.deepcopy(POLICY)], "namedLocations": []}
        self.sent = []

    def _kind(self, path):
        return "policies" if "/policies" in path else "namedLocations"

    def list(self, path, params=None):
        return copy.deepcopy(self.objects[self._kind(path)])

    def get(self, path, params=None, version=None):
        from ansible_collections.msp.conditional_access.plugins.module_utils._graph import GraphError

        oid = path.rsplit("/", 1)[-1]
        found = [o for o in self.deleted[self._kind(path)] if o["id"] == oid]
        if not found:
            raise GraphError(404, "ResourceNotFound", "not found", "GET", path)
        return copy.deepcopy(found[0])

    gate = WriteGate()  # the real chokepoint opens it for each write
    pace_seconds = lag_retries = 0  # what the policy endpoint reads

    def request(self, method, path, body=None, version=None, lag_retries=0):
        self.sent.append((method, path, copy.deepcopy(body)))
        kind = self._kind(path)
        if path.endswith("/restore"):
            item = self.deleted[kind].pop()
            self.objects[kind].append(item)
            return item
        if method == "POST":
            created = dict(body, id="loc-new" if kind == "namedLocations" else "pol-new")
            self.objects[kind].append(created)
            return created
        if method == "PATCH":
            target = next(o for o in self.objects[kind] if o["id"] == path.rsplit("/", 1)[-1])
            for key, value in body.items():
                target[key] = value
        return None


class Module:
    write = GraphModule.write
    before_write = GraphModule.before_write
    _name = "ca_backup_restore"
    _diff = True

    def __init__(self, tmp_path, backup, check_mode=False):
        self.check_mode = check_mode
        self.params = {"backup_dir": str(tmp_path / "undo"), "backup": backup, "tenant_id": TENANT,
                       "remove_created": False, "kinds": ["policy", "named_location"]}
        self.graph = Graph()
        self.writes = []
        self.backups = []


def backup_of(tmp_path, *objects):
    for obj in objects:
        kind = "policies" if "conditions" in obj else "namedLocations"
        _backup.save(str(tmp_path / "run"), TENANT, "DELETE", "/identity/conditionalAccess/%s/%s" % (kind, obj["id"]),
                     obj)
    return str(tmp_path / "run")


def test_deleted_location_is_recreated_and_the_restored_policy_points_at_its_new_id(tmp_path):
    module = Module(tmp_path, backup_of(tmp_path, LOC, POLICY))
    result = Restore(module).run()
    actions = {e["display_name"]: (e["action"], e.get("new_id")) for e in result["restored"]}
    assert actions == {"Office": ("recreated", "loc-new"), "Block outside the office": ("restored", None)}
    assert result["location_ids"] == {"loc-old": "loc-new"}
    policy = module.graph.objects["policies"][0]
    assert policy["id"] == "pol-1"  # the soft-deleted policy came back with its id
    assert policy["conditions"]["locations"]["excludeLocations"] == ["loc-new"]
    created = module.graph.objects["namedLocations"][0]
    assert {k: v for k, v in created.items() if k != "id"} == {k: v for k, v in LOC.items() if k != "id"}
    # the order of writes: the location first, then the policy revived, then repointed
    assert [(m, p.rsplit("/", 2)[-2:]) for m, p, _ in module.graph.sent] == [
        ("POST", ["conditionalAccess", "namedLocations"]), ("POST", ["pol-1", "restore"]), ("PATCH", ["policies", "pol-1"])]


def test_check_mode_writes_nothing(tmp_path):
    module = Module(tmp_path, backup_of(tmp_path, LOC, POLICY), check_mode=True)
    result = Restore(module).run()
    assert result["changed"] and module.graph.sent == [] and module.backups == []
    assert result["diff"]["after"]["named location 'Office'"]["displayName"] == "Office"


def test_a_backup_of_another_tenant_is_refused_before_any_request(tmp_path):
    _backup.save(str(tmp_path / "run"), "other-tenant", "PATCH", "/identity/conditionalAccess/policies/p", POLICY)
    module = Module(tmp_path, str(tmp_path / "run" / "other-tenant"))
    with pytest.raises(InvalidOption, match="holds a backup of tenant other-tenant, not of tenant_id " + TENANT):
        Restore(module).run()
    assert module.graph.sent == []


def test_a_file_that_is_not_a_backup_is_refused(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps({"hello": 1}))
    with pytest.raises(InvalidOption, match="cannot be read as a backup"):
        Restore(Module(tmp_path, str(bad))).run()
