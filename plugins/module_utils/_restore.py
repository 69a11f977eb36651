# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Put a backup back (ca_backup_restore, playbooks/restore.yml): policies and named locations.

PRIVATE to the msp.conditional_access collection: the API may change without notice.

Order: named locations first (a policy names them by id), then policies. An object that still exists is
PATCHed back to the backup where it differs; a deleted one comes back from Graph's soft-delete store
(``deletedItems/.../restore``, same id) or, when that is gone, is re-created; a re-created location gets a new
id, which is mapped into the policies restored after it. With ``remove_created``, what the backed-up run
created (``created-*`` markers) is deleted, policies before locations, so that the tenant is as it was before
the run. Every write goes through the module's write chokepoint, so check mode writes nothing and a restore
saves its own backup of what it overwrites. A backup of another tenant is refused before any request.
"""

from __future__ import annotations

import copy

from ._backup import absolute, backup_files, load
from ._ca import LOCATIONS, POLICIES
from ._diff import SERVER_KEYS, make_diff
from ._graph import GraphError
from ._module import InvalidOption
from ._objects import policies as policy_endpoint
from ._policy import comparable, policy_options, without_nulls, writable
from ._resolve import Resolver

DELETED = "/identity/conditionalAccess/deletedItems/%s/%s"
POLICY_FIELDS = ("displayName", "description", "state", "conditions", "grantControls", "sessionControls")
LOCATION_FIELDS = ("displayName", "ipRanges", "isTrusted", "countriesAndRegions", "includeUnknownCountriesAndRegions",
                   "countryLookupMethod")
IP_TYPE = "#microsoft.graph.ipNamedLocation"
RESTORE_SPEC = dict(backup=dict(type="path", required=True), remove_created=dict(type="bool", default=False),
                    kinds=dict(type="list", elements="str", default=["policy", "named_location"],
                               choices=["policy", "named_location"]))


def _body(obj, fields):
    return {k: copy.deepcopy(obj[k]) for k in fields if k in obj}


def _differs(now, want, fields):
    return [k for k in fields if k in want and comparable(now.get(k), k) != comparable(want.get(k), k)]


def map_locations(policy, id_map):
    """The policy with re-created locations' new ids in place of the old ones."""
    locations = ((policy.get("conditions") or {}).get("locations")) or {}
    for key in ("includeLocations", "excludeLocations"):
        if locations.get(key):
            locations[key] = [id_map.get(str(v).lower(), v) for v in locations[key]]
    return policy


class Restore:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.graph = module.graph
        self.tenant = (module.params.get("tenant_id") or self.graph.tenant_id or "").lower()
        self.id_map = {}
        self.done = []
        self.before = {}
        self.after = {}

    # -- input ----------------------------------------------------------------------------------
    def records(self):
        path = absolute(self.params["backup"])
        files = backup_files(path, self.tenant)
        if files is None:
            raise InvalidOption("backup", path, "no such backup file or directory")
        records = []
        for name in files:
            try:
                records.append(load(name))
            except (ValueError, OSError) as exc:
                raise InvalidOption("backup", name, "cannot be read as a backup: %s" % exc)
        foreign = sorted({r.get("tenant_id") for r in records if (r.get("tenant_id") or "").lower() != self.tenant})
        if foreign:
            raise InvalidOption("backup", path, "holds a backup of tenant %s, not of tenant_id %s; nothing was written"
                                % (", ".join(str(f) for f in foreign), self.tenant))
        kinds = set(self.params.get("kinds") or ())
        return [r for r in records if r["kind"].replace("created-", "") in kinds], files

    # -- the work -------------------------------------------------------------------------------
    def run(self):
        records, files = self.records()
        locations = [r for r in records if r["kind"] == "named_location"]
        policies = [r for r in records if r["kind"] == "policy"]
        created = [r for r in records if r["kind"].startswith("created-")] if self.params.get("remove_created") else []
        current_policies = self.graph.list(POLICIES) if policies or created else []
        for record in [r for r in created if r["kind"] == "created-policy"]:
            self.remove_created(record, current_policies, POLICIES)
        if locations or any(r["kind"] == "created-named_location" for r in created):
            current_locations = self.graph.list(LOCATIONS)
            for record in locations:
                self.restore_location(record, current_locations)
        for record in policies:
            self.restore_policy(record, current_policies)
        for record in [r for r in created if r["kind"] == "created-named_location"]:
            self.remove_created(record, current_locations, LOCATIONS)
        changed = any(d["action"] != "unchanged" for d in self.done)
        result = {"changed": changed, "restored": self.done, "location_ids": self.id_map, "files": len(files),
                  "graph_requests": self.graph.requests}
        if self.module._diff:
            result["diff"] = make_diff(self.before, self.after, "tenant %s now" % self.tenant,
                                       "tenant %s from the backup" % self.tenant)
        return result

    def note(self, record, action, name, new_id=None, before=None, after=None):
        entry = {"kind": record["kind"], "id": record["id"], "display_name": name, "action": action}
        if new_id and new_id != record["id"]:
            entry["new_id"] = new_id
        self.done.append(entry)
        if action != "unchanged":
            key = "%s %r" % (record["kind"].replace("_", " "), name)
            self.before[key] = before or {}
            self.after[key] = after or {}

    def deleted(self, collection, oid):
        try:
            return self.graph.get(DELETED % (collection, oid))
        except GraphError as exc:
            if exc.status in (400, 404):
                return None
            raise

    def by_name(self, current, want, kind):
        matches = [c for c in current if c.get("displayName") == want.get("displayName")
                   and (kind == "policy" or c.get("@odata.type") == want.get("@odata.type"))]
        if len(matches) > 1:
            raise InvalidOption("backup", want.get("displayName"), "%d %ss have this name (ids: %s) and the backed-up "
                                "id %s no longer exists; cannot tell which to restore" % (
                                    len(matches), kind.replace("_", " "), ", ".join(m["id"] for m in matches),
                                    want.get("id")))
        return matches[0] if matches else None

    def find(self, want, current, collection, kind):
        """(the object as it is now, how it was found): by id; else revived from the soft-deleted items (same id);
        else by display name. (None, None) when it has to be re-created."""
        oid = want["id"]
        now = next((c for c in current if c["id"].lower() == oid.lower()), None)
        if now is not None:
            return now, "updated"
        now = self.deleted(collection, oid)
        if now is not None:
            self.module.write("POST", DELETED % (collection, oid) + "/restore")
            return now, "restored"
        now = self.by_name(current, want, kind)
        return (now, "matched") if now is not None else (None, None)

    def restore_location(self, record, current):
        want = record["object"]
        now, action = self.find(want, current, "namedLocations", "named_location")
        if now is None:
            body = dict(_body(want, LOCATION_FIELDS), **{"@odata.type": want.get("@odata.type")})
            created = self.module.write("POST", LOCATIONS, body) or {}
            new_id = created.get("id") or "(re-created: %s)" % want.get("displayName")
            self.id_map[want["id"].lower()] = new_id
            return self.note(record, "recreated", want.get("displayName"), new_id, None, _body(want, LOCATION_FIELDS))
        if now["id"].lower() != want["id"].lower():
            self.id_map[want["id"].lower()] = now["id"]
        changes = _differs(now, want, LOCATION_FIELDS)
        if changes:
            patch = dict(_body(want, changes), **{"@odata.type": want.get("@odata.type") or IP_TYPE})
            self.module.write("PATCH", "%s/%s" % (LOCATIONS, now["id"]), patch, current=now)
        elif action in ("updated", "matched"):
            action = "unchanged"
        self.note(record, action, want.get("displayName"), now["id"], _body(now, changes), _body(want, changes))

    def restore_policy(self, record, current):
        want = map_locations(copy.deepcopy(record["object"]), self.id_map)
        resolver = Resolver(self.graph)
        now, action = self.find(want, current, "policies", "policy")
        if now is None:
            body = without_nulls({k: v for k, v in want.items() if k in POLICY_FIELDS})
            created = policy_endpoint(self.module).create(body)  # /beta when v1.0 refuses it
            return self.note(record, "recreated", want.get("displayName"), created.get("id"), None,
                             policy_options(want, resolver))
        changes = _differs(now, want, POLICY_FIELDS)
        if changes:
            patch = {k: writable(now.get(k), want.get(k)) if isinstance(want.get(k), dict) else want.get(k)
                     for k in changes}
            policy_endpoint(self.module, read_back=False).update(now, patch)
        elif action in ("updated", "matched"):
            return self.note(record, "unchanged", want.get("displayName"), now["id"])
        self.note(record, action, want.get("displayName"), now["id"], policy_options(now, resolver),
                  policy_options(dict(now, **{k: want.get(k) for k in changes}), resolver))

    def remove_created(self, record, current, collection):
        oid = record["object"]["id"]
        now = next((c for c in current if c["id"].lower() == oid.lower()), None)
        name = record["object"].get("displayName")
        if now is None:
            return self.note(record, "unchanged", name)
        path = "%s/%s" % (collection, oid)
        if collection == LOCATIONS and now.get("isTrusted"):
            # Graph refuses to delete a trusted location: untrust it first
            self.module.write("PATCH", path, {"@odata.type": IP_TYPE, "isTrusted": False}, current=now)
        self.module.write("DELETE", path, current=now)
        self.note(record, "removed", name, before={k: v for k, v in now.items() if k not in SERVER_KEYS})


def restore(module):
    return Restore(module).run()
