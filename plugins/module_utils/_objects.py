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

from ._ca import LOCATIONS, POLICIES, by_name, needs_beta, read_back_differences
from ._graph import GraphError, odata_quote
from ._module import ModuleError

# v1.0 refuses some policies as preview features with a 400 that names the beta endpoint (1038 is one wording
# seen; no source confirms the code for every case); /beta takes them.
PREVIEW_REFUSED = 1038
BETA_WARNING = "Graph v1.0 refused the policy (%s); it was written through /beta"
EVERY_TIME_NOTE = ("written through /beta: Graph v1.0 documents every-time sign-in frequency only for risky users, "
                   "risky sign-ins and Intune enrolment")


def names_beta(exc):
    """A v1.0 refusal that a /beta write may not meet: 1038, or any 400 whose text names the beta endpoint."""
    return exc.status == 400 and (exc.service_code == PREVIEW_REFUSED or "beta" in (exc.message or "").lower())


def has_nested_null(obj):
    return isinstance(obj, dict) and any(v is None or has_nested_null(v) for v in obj.values())


def without_nulls(obj):
    if isinstance(obj, dict):
        return {k: without_nulls(v) for k, v in obj.items() if v is not None}
    return obj


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
        self.unverified = {}  # object id -> what writes asked, for read_back="later"
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

    def get(self, oid, after_write=False, version=None):
        """The object, or None when Graph says 404 (after a write, 404 is read-after-write lag at first)."""
        version = version or self.versions.get(oid)
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
    def _write(self, method, path, body, oid=None, current=None, beta=False):
        """One write through the chokepoint: on /beta when this object needed it before or when v1.0 does not
        document it (``needs_beta``: no failed v1.0 attempt first); a v1.0 refusal naming beta is tried there."""
        why = None
        if self.versions.get(oid) != "beta" and not beta:
            if not (self.beta_fallback and method != "DELETE" and needs_beta(patched(current, body))):
                try:
                    return self.module.write(method, path, body, current=current)
                except GraphError as exc:
                    if not (self.beta_fallback and names_beta(exc)):
                        raise
                    why = BETA_WARNING % ("Graph said: %s" % (exc.message or exc.code)[:300])
            else:
                why = EVERY_TIME_NOTE
        answer = self.module.write(method, path, body, version="beta", current=current)
        if oid is not None or (answer or {}).get("id"):
            self.versions[oid or answer["id"]] = "beta"
        if why and why not in self.warnings:
            self.warnings.append(why)
        return answer

    def create(self, body, version=None):
        """POST; the created object (in check mode: the body with id None), compared with what was asked."""
        # version="beta": a copy of a /beta read, whose preview properties v1.0 may not take
        created = self._write("POST", self.path, body, beta=version == "beta")
        if created is None:
            return dict(copy.deepcopy(body), id=None)
        self.verify(body, created, "POST")
        return self._stamp(created)

    def verify(self, asked, got, method):
        """Graph accepted a write: its answer or read-back must hold what was asked, or the write did not happen
        as asked (a silent no-op, a nested null Graph ignored) and the task fails instead of reporting a change."""
        differ = read_back_differences(asked, got)
        if differ:
            raise ModuleError("Graph accepted the %s of %s %r but reads back otherwise at %s: asked %s, Graph holds %s"
                              % (method, self.what, (got or asked or {}).get("displayName"), ", ".join(differ),
                                 _at(asked, differ), _at(got, differ)), read_back=got)

    def verify_later(self, oid, asked):
        """Part D's writes are verified together by one listing afterwards (``verify_all``)."""
        self.unverified.setdefault(oid, {}).update(copy.deepcopy(asked))

    def verify_all(self):
        """{object id: error text} for every write held back by ``verify_later``, from one listing."""
        if not self.unverified or self.module.check_mode:
            return {}
        now = {o.get("id"): o for o in self.graph.list(self.path)}
        failures = {}
        for oid, asked in self.unverified.items():
            try:
                self.verify(asked, now.get(oid) or {}, "PATCH")
            except ModuleError as exc:
                failures[oid] = str(exc)
        self.unverified.clear()
        return failures

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
        session = body.get("sessionControls")
        if has_nested_null(session) and current.get("sessionControls") and current.get("grantControls"):
            # Graph removes a session control only with the whole object (Terraform's reading): null it, then
            # send the complete new object. Without a grant control the policy cannot go without its session
            # controls for a moment, so the one PATCH goes as it is and the read-back decides.
            self._write("PATCH", path, {"sessionControls": None}, oid, current)
            current_now = patched(current, {"sessionControls": None})
            body = dict(body, sessionControls=without_nulls(session) or None)
            self._write("PATCH", path, body, oid, current_now)
        else:
            self._write("PATCH", path, body, oid, current)
        intended = patched(current, body)
        if self.module.check_mode:
            return current, intended
        if self.read_back == "later":
            self.verify_later(oid, body)
            return current, intended
        if not self.read_back:
            return current, intended
        after = self.get(oid, after_write=True)
        self.verify(body, after, "PATCH")
        return current, after

    def delete(self, current):
        self._write("DELETE", "%s/%s" % (self.path, current["id"]), None, current["id"], current)

    def _stale(self, oid):
        read = self.read_at.get(oid) if self.reread else None
        window = self.graph.pace_seconds or 0
        return read is not None and time.monotonic() - read > window


def _at(obj, paths):
    """The values of ``obj`` at dotted ``paths``, for an error text."""
    out = {}
    for path in paths:
        value = obj
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        out[path] = value
    return out


def policies(module, read_back=True):
    return Endpoint(module, POLICIES, "Conditional Access policy", beta_fallback=True, read_back=read_back,
                    reread=True)


def named_locations(module):
    # a location's ranges are the task's, whole (declarative): no re-read before the PATCH; after it, one read
    # back, compared with what was asked (a PATCH answers 204 without a body)
    return Endpoint(module, LOCATIONS, "named location")
