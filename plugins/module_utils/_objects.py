# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Conditional Access endpoints as objects: policies and named locations.

PRIVATE to the msp.conditional_access collection: the API may change without notice.

An ``Endpoint`` finds objects by id or by the collection's display-name rule (``_ca.by_name``), writes them
through the module's chokepoint (``GraphModule.write``), and answers every write with the object as it now is:
read back from Graph, or in check mode the object Graph would hold (``patched``), so no caller predicts a
result or skips a read-back itself. A policy that v1.0 refused as a preview feature (1038) is written through
/beta, and the endpoint remembers that per object: its later writes and reads go to /beta directly.

Lost updates: every object read is stamped; a PATCH planned on a read older than the pacing window first
reads the object again and rebuilds its body from that read (``update(current, build)``), so a concurrent
writer's change (another run, an admin in the portal) is merged into, never overwritten.
"""

from __future__ import annotations

import copy
import time

from ._ca import LOCATIONS, POLICIES, by_name
from ._graph import GraphError, odata_quote

# v1.0 refuses some policies as preview features (1038, e.g. every-time sign-in frequency); /beta takes them.
PREVIEW_REFUSED = 1038
BETA_WARNING = ("Graph v1.0 refused the policy as a preview feature (1038, or a 400 naming the beta endpoint); it was "
                "written through /beta")


def needs_beta(exc):
    """A v1.0 refusal that /beta takes: 1038 is one reading; no source confirms the code, only that the 400 names
    the beta endpoint."""
    return exc.status == 400 and (exc.service_code == PREVIEW_REFUSED or "beta" in (exc.message or "").lower())


def patched(current, patch):
    """Graph's PATCH semantics: nested objects merged, arrays and scalars replaced, null clears."""
    out = copy.deepcopy(current or {})
    for key, value in (patch or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = patched(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class Endpoint:
    """One Graph collection of Conditional Access objects, for one module run."""

    def __init__(self, module, path, what, beta_fallback=False, read_back=True, reread=False):
        self.module = module
        self.graph = module.graph
        self.path = path
        self.what = what
        self.beta_fallback = beta_fallback
        self.read_back = read_back
        self.reread = reread  # re-read a stale object before a PATCH (see the module docstring)
        self.versions = {}   # object id -> "beta" once v1.0 refused it
        self.read_at = {}    # object id -> monotonic time of the read the caller holds
        self.warnings = []

    # -- reads ------------------------------------------------------------------------------------------
    def _stamp(self, obj):
        if isinstance(obj, dict) and obj.get("id"):
            self.read_at[obj["id"]] = time.monotonic()
        return obj

    def list(self, params=None):
        items = self.graph.list(self.path, params=params)
        for item in items:
            self._stamp(item)
        return items

    def get(self, oid, after_write=False):
        """The object, or None when Graph says 404 (after a write, 404 is read-after-write lag at first)."""
        version = self.versions.get(oid)
        try:
            if after_write:
                return self._stamp(self.graph.request("GET", "%s/%s" % (self.path, oid), version=version,
                                                      lag_retries=self.graph.lag_retries))
            return self._stamp(self.graph.get("%s/%s" % (self.path, oid), version=version))
        except GraphError as exc:
            if exc.status == 404 and not after_write:
                return None
            raise

    def named(self, name, option="display_name"):
        """All objects Graph's ``displayName eq`` returns, narrowed by the collection's rule."""
        found = self.list(params={"$filter": "displayName eq %s" % odata_quote(str(name).strip())})
        return by_name(found, name, self.what, option)

    def find(self, oid=None, name=None, option="display_name"):
        """By id (None if it does not exist) or else by display name (None, one, or an error naming the ids)."""
        if oid:
            return self.get(oid)
        return self.named(name, option) if name else None

    # -- writes -----------------------------------------------------------------------------------------
    def _write(self, method, path, body, oid=None, current=None):
        """One write through the chokepoint, on /beta when this object needed it before."""
        if self.versions.get(oid) != "beta":
            try:
                return self.module.write(method, path, body, current=current)
            except GraphError as exc:
                if not (self.beta_fallback and needs_beta(exc)):
                    raise
        answer = self.module.write(method, path, body, version="beta", current=current)
        if oid is not None or (answer or {}).get("id"):
            self.versions[oid or answer["id"]] = "beta"
        name = ((current or body or {}).get("displayName"))
        warning = "%s (%s %r)" % (BETA_WARNING, self.what, name) if name else BETA_WARNING
        if warning not in self.warnings:
            self.warnings.append(warning)
        return answer

    def create(self, body):
        """POST; the created object (in check mode: the body with id None)."""
        created = self._write("POST", self.path, body)
        if created is None:
            return dict(copy.deepcopy(body), id=None)
        return self._stamp(created)

    def update(self, current, build):
        """PATCH ``current`` with ``build(current)`` (a dict, or None for nothing to do); the object afterwards.

        When ``current`` was read longer ago than the pacing window, it is read again first and ``build``
        is given the fresh object, so the body merges into what Graph holds now.
        """
        oid = current["id"]
        if self._stale(oid):
            fresh = self.get(oid)
            if fresh is None:
                raise GraphError(404, "NotFound", "the %s %r was deleted while this task ran"
                                 % (self.what, current.get("displayName")), "PATCH", self.path, self.graph.tenant_id)
            current = fresh
        body = build(current) if callable(build) else build
        if not body:
            return current, current
        path = "%s/%s" % (self.path, oid)
        self._write("PATCH", path, body, oid, current)
        if self.module.check_mode or not self.read_back:
            return current, patched(current, body)
        return current, self.get(oid, after_write=True)

    def delete(self, current):
        self._write("DELETE", "%s/%s" % (self.path, current["id"]), None, current["id"], current)

    def _stale(self, oid):
        read = self.read_at.get(oid) if self.reread else None
        window = self.graph.pace_seconds or 0
        return read is not None and time.monotonic() - read > window


def policies(module, read_back=True):
    return Endpoint(module, POLICIES, "Conditional Access policy", beta_fallback=True, read_back=read_back,
                    reread=True)


def named_locations(module):
    # a location's ranges are the task's, whole (declarative): no re-read; the PATCH answer is trusted
    return Endpoint(module, LOCATIONS, "named location", read_back=False)
