# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AnsibleModule base for the Graph modules of the collection.

PRIVATE to the msp.conditional_access collection: the API may change without notice.

Modules stay thin: DOCUMENTATION, an argument spec and one call into a resource helper.
This base adds the auth options, builds the Graph client lazily, and owns the single write
chokepoint (``write``) for every API the collection writes to (Graph and CIPP-API): check mode is
enforced there and nowhere else, and each client's ``WriteGate`` refuses a write that did not come
through it.
"""

from __future__ import annotations

import copy

from ansible.module_utils.basic import AnsibleModule

from ._auth import AUTH_ARGUMENT_SPEC, AuthError, Authenticator
from ._backup import BACKUP_ARGUMENT_SPEC, BackupError, record_created, save_before_write
from ._graph import GraphClient, GraphError
from ._inputs import INPUT_ARGUMENT_SPEC, InvalidOption, validate_common

__all__ = ["GraphModule", "InvalidOption", "ModuleError"]

# The retry budget of a task (_graph.Retries); documented in doc_fragments/graph.py.
RETRY_ARGUMENT_SPEC = dict(retry_budget=dict(type="float", default=600.0))


class ModuleError(Exception):
    """A failure of a non-Graph API (CIPP-API), already phrased for the user."""

    def __init__(self, message, **details):
        super().__init__(message)
        self.details = details


class GraphModule(AnsibleModule):
    """AnsibleModule with the collection's auth options and a Graph client."""

    def __init__(self, argument_spec=None, api_version="v1.0", **kwargs):
        spec = copy.deepcopy(AUTH_ARGUMENT_SPEC)
        spec.update(RETRY_ARGUMENT_SPEC)
        spec.update(BACKUP_ARGUMENT_SPEC)
        spec.update(INPUT_ARGUMENT_SPEC)
        spec.update(argument_spec or {})
        # set before AnsibleModule validates: its argument errors already go through fail_json below
        self.api_version = api_version
        self._graph = None
        self.writes = []  # (method, path) of every write sent, or that check mode held back
        self.backups = []  # backup files saved before a write (never in check mode)
        super().__init__(argument_spec=spec, **kwargs)
        try:
            validate_common(self.params, spec)  # before any client exists: bad input never reaches the wire
        except InvalidOption as exc:
            self.fail_json(msg=exc.named(self.params.get("input_names")), invalid_option=exc.option)

    @property
    def graph(self):
        if self._graph is None:
            self._graph = GraphClient(Authenticator(self.params), api_version=self.api_version,
                                      retry_budget=self.params.get("retry_budget") or 0)
        return self._graph

    def write(self, method, path, body=None, client=None, current=None, **options):
        """The only way the collection writes, to Graph (``client`` None) or CIPP-API (a ``CippClient``).

        ``current`` is the object about to be changed or deleted, as last read (None for a create).
        Check mode records the intent and sends nothing (and saves no backup); the answer is then None.
        """
        client = client or self.graph
        self.writes.append((method, path))
        if self.check_mode:
            return None
        backup = self.before_write(method, path, body, current, client, options.get("version"))
        client.gate.open = True
        try:
            answer = client.request(method, path, body=body, **options)
        finally:
            client.gate.open = False
        if client is self.graph:
            # a create is recorded after it, so that a rollback (restore.yml, remove_created) can take it away
            backup = backup or record_created(self, method, path, answer)
        if backup and backup not in self.backups:
            self.backups.append(backup)
        return answer

    def before_write(self, method, path, body, current, client, version=None):
        """Runs before every write that is sent (never in check mode), with the object it changes or deletes:
        a Graph PATCH or DELETE saves ``current`` (else the object read now) under backup_dir (issue 14).
        CIPP-API rows are saved by ``_cipp`` itself. Returns the backup file, if any."""
        if client is not self.graph:
            return None
        return save_before_write(self, method, path, current, version)

    def run(self, operation):
        """Run ``operation()`` (which returns the result dict) and exit; errors become one failure."""
        try:
            result = operation()
        except GraphError as exc:
            self.fail_json(msg=str(exc), **exc.details())
        except BackupError as exc:
            self.fail_json(msg=str(exc))
        except InvalidOption as exc:
            self.fail_json(msg=exc.named(self.params.get("input_names")), invalid_option=exc.option)
        except ModuleError as exc:
            self.fail_json(msg=str(exc), **exc.details)
        except AuthError as exc:
            self.fail_json(msg=str(exc))
        finally:
            if self._graph is not None:
                self._graph.close()
        if self.backups:
            result.setdefault("backups", self.backups)
        self.exit_json(**result)

    def exit_json(self, **kwargs):
        self.report_retries()
        super().exit_json(**kwargs)

    def fail_json(self, msg, **kwargs):
        self.report_retries()
        if self.backups:  # a failed run may have written: name the files that undo it
            kwargs.setdefault("backups", self.backups)
        super().fail_json(msg=msg, **kwargs)

    def tenant_label(self):
        """'tenant Fabrikam (2222...)' for warnings and diff headers: the tenant's own name from Graph, read once
        and only when something is shown; the id alone when the app may not read it."""
        if getattr(self, "_tenant_label", None) is None:
            tid = self.params.get("tenant_id") or self.graph.tenant_id
            try:
                orgs = self.graph.list("/organization", params={"$select": "id,displayName"})
            except GraphError as exc:
                if exc.status not in (400, 403, 404):
                    raise
                orgs = []
            name = orgs[0].get("displayName") if orgs else None
            self._tenant_label = "tenant %s (%s)" % (name, tid) if name else "tenant %s" % tid
        return self._tenant_label

    def report_retries(self):
        """Tell the user when a request had to be retried, and why (one warning naming the tenant)."""
        summary = self._graph.retries.summary() if self._graph is not None else None
        if summary and not getattr(self, "_retries_reported", False):
            self._retries_reported = True
            self.warn("%s: %s" % (self.tenant_label(), summary))
