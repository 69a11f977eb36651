# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AnsibleModule base for the Graph modules of the collection.

PRIVATE to the msp.conditional_access collection: the API may change without notice.

Modules stay thin: DOCUMENTATION, an argument spec and one call into a resource helper.
This base adds the auth options, builds the Graph client lazily, and owns the single write
chokepoint so that check mode can never reach Graph.
"""

from __future__ import annotations

import copy

from ansible.module_utils.basic import AnsibleModule

from ._auth import AUTH_ARGUMENT_SPEC, AuthError, Authenticator
from ._graph import GraphClient, GraphError
from ._inputs import InvalidOption, validate_common

__all__ = ["GraphModule", "InvalidOption", "ModuleError"]


class ModuleError(Exception):
    """A failure of a non-Graph API (CIPP-API), already phrased for the user."""

    def __init__(self, message, **details):
        super().__init__(message)
        self.details = details


class GraphModule(AnsibleModule):
    """AnsibleModule with the collection's auth options and a Graph client."""

    def __init__(self, argument_spec=None, api_version="v1.0", **kwargs):
        spec = copy.deepcopy(AUTH_ARGUMENT_SPEC)
        spec.update(argument_spec or {})
        super().__init__(argument_spec=spec, **kwargs)
        try:
            validate_common(self.params, spec)  # before any client exists: bad input never reaches the wire
        except InvalidOption as exc:
            self.fail_json(msg=exc.named(self.params.get("input_names")), invalid_option=exc.option)
        self.api_version = api_version
        self._graph = None
        self.writes = []  # (method, path) of every write sent, or that check mode held back

    @property
    def graph(self):
        if self._graph is None:
            self._graph = GraphClient(Authenticator(self.params), api_version=self.api_version)
        return self._graph

    def write(self, method, path, body=None, version=None, lag_retries=0):
        """The only way a module writes to Graph. Check mode records the intent and sends nothing."""
        self.writes.append((method, path))
        if self.check_mode:
            return None
        return self.graph.request(method, path, body=body, version=version, lag_retries=lag_retries)

    def run(self, operation):
        """Run ``operation()`` (which returns the result dict) and exit; errors become one failure."""
        try:
            result = operation()
        except GraphError as exc:
            self.fail_json(msg=str(exc), **exc.details())
        except InvalidOption as exc:
            self.fail_json(msg=exc.named(self.params.get("input_names")), invalid_option=exc.option)
        except ModuleError as exc:
            self.fail_json(msg=str(exc), **exc.details)
        except AuthError as exc:
            self.fail_json(msg=str(exc))
        finally:
            if self._graph is not None:
                self._graph.close()
        self.exit_json(**result)
