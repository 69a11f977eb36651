# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the collection's modules inside Ansible's worker process instead of a new Python process.

PRIVATE to the msp.conditional_access collection: the API may change without notice.

Every module of the collection talks to HTTPS APIs from the controller, and a module process spends
about 0.6 s starting Python and importing ansible, azure-identity, httpx and kiota before its first
request. The action plugins of the same names (plugins/action/, one line each) run the very same module
code here instead: the same ``main()``, the same AnsibleModule (argument spec, check mode, diff, no_log,
warnings, fail_json), fed the same arguments Ansible would put in the AnsiballZ payload and read back
through the same result parser. What changes is where it runs:

* the heavy imports happen when the strategy loads the action plugin class in the controller's main
  process, before it forks the task's workers, so each worker inherits them already imported;
* the tokens of one run are shared by its workers in memory (_token_cache.py), so the tasks of a play
  sign in to a tenant once.

The module path stays for everything that is not "this controller, as is": a task delegated to another
host, a connection other than local, become, async, or ``msp_conditional_access_in_process: false``.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import io
import json
import os
import sys
from collections.abc import Sequence

from ansible import constants as C
from ansible.module_utils import _internal
from ansible.module_utils.common.json import Direction, get_module_encoder
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.vars.clean import remove_internal_keys

display = Display()

COLLECTION = "msp.conditional_access"
PACKAGE = "ansible_collections.msp.conditional_access.plugins.modules"
PROFILE = "legacy"  # the serialization profile ansible-core gives a module without METADATA
SWITCH = "msp_conditional_access_in_process"

try:
    # Paid once in the controller's main process (the strategy imports this file to load the action
    # class) rather than in every module process. Missing libraries are not an error here: the task
    # then takes the module path, which reports them the way the module always has.
    import azure.identity  # noqa: F401  pylint: disable=unused-import
    import httpx  # noqa: F401  pylint: disable=unused-import
    import kiota_http.kiota_client_factory  # noqa: F401  pylint: disable=unused-import
    import msgraph_core  # noqa: F401  pylint: disable=unused-import
    from ansible.module_utils._internal._ansiballz import _loader

    from ansible_collections.msp.conditional_access.plugins.module_utils import _auth, _graph
    from ansible_collections.msp.conditional_access.plugins.plugin_utils._token_cache import (
        SharedPacer, SharedTokenCache)

    IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the controller's Python
    IMPORT_ERROR = exc
else:
    if _auth.TOKEN_CACHE is None:
        _auth.TOKEN_CACHE = SharedTokenCache()
    if _graph.PACER is None:
        _graph.PACER = SharedPacer()

# What the libraries import only on their first request (measured: about 0.25 s of CPU in every worker
# otherwise). Internal module names of other projects: one that has moved is skipped, never an error.
FIRST_REQUEST_IMPORTS = (
    "httpcore", "anyio._backends._asyncio", "h11", "h2.connection", "msal",
    "azure.core.pipeline.transport._requests_basic", "msal_extensions.token_cache",
)
if IMPORT_ERROR is None:
    for _name in FIRST_REQUEST_IMPORTS:
        try:
            importlib.import_module(_name)
        except ImportError:  # pragma: no cover - another version of the library
            pass
    # The imports above left tens of thousands of objects in the main process. Frozen, the garbage collector
    # of every forked worker leaves them alone instead of walking them, which would also copy their pages.
    gc.freeze()


class InProcessModule(ActionBase):
    """Action plugin that runs the module of the same name in this worker process."""

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        module_name = self._task.resolved_action or self._task.action
        reason = self._module_path_reason(module_name, task_vars)
        if reason:
            display.vvv("%s: running the module (%s)" % (module_name, reason), host=self._task_host(task_vars))
            wrap_async = self._task.async_val and not self._connection.has_native_async
            result.update(self._execute_module(module_name=module_name, task_vars=task_vars, wrap_async=wrap_async))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result
        display.vvv("%s: running in the controller's worker process" % module_name, host=self._task_host(task_vars))
        result.update(self._run_in_process(module_name, task_vars))
        return result

    def _task_host(self, task_vars):
        return task_vars.get("inventory_hostname")

    def _module_path_reason(self, module_name, task_vars):
        """Why this task must run the module the usual way; None when it can run here."""
        if IMPORT_ERROR is not None:
            return "the controller's Python cannot import %s" % IMPORT_ERROR.name
        if not module_name.startswith(COLLECTION + "."):
            return "%s is not a module of %s" % (module_name, COLLECTION)
        if not boolean(task_vars.get(SWITCH, True), strict=False):
            return "%s is false" % SWITCH
        if self._connection.transport != "local":
            return "connection %s" % self._connection.transport
        delegate = self._task.delegate_to
        if delegate and delegate not in C.LOCALHOST and delegate != task_vars.get("inventory_hostname"):
            return "delegated to %s" % delegate
        if self._play_context.become:
            return "become"
        if self._task.async_val:
            return "async"
        return None

    def _run_in_process(self, module_name, task_vars):
        module_args = dict(self._task.args)
        self._update_module_args(module_name, module_args, task_vars)
        environment = {}
        self._compute_environment_string(environment)
        encoder = get_module_encoder(PROFILE, Direction.CONTROLLER_TO_MODULE)
        params = json.dumps({"ANSIBLE_MODULE_ARGS": module_args}, cls=encoder).encode("utf-8")
        stdout, rc = run_module(PACKAGE + "." + module_name.rsplit(".", 1)[-1], params, environment)
        data = self._parse_returned_data({"stdout": stdout, "stderr": "", "rc": rc}, PROFILE)
        # what ActionBase._execute_module does with a module's result, in the same order
        data.pop("_ansible_suppress_tmpdir_delete", None)
        if "results" in data and (not isinstance(data["results"], Sequence) or isinstance(data["results"], str)):
            data["ansible_module_results"] = data.pop("results")
        remove_internal_keys(data)
        return data


@contextlib.contextmanager
def _as_module_process(environment):
    """What a module process sees: target-side module_utils, the task's environment, its own stdout."""
    saved_env = {name: os.environ.get(name) for name in environment}
    saved_controller = _internal.is_controller
    saved_stdout = sys.stdout
    os.environ.update({str(k): str(v) for k, v in environment.items()})
    # module_utils behave as on a target: warnings and deprecations go into the result, not the display
    _internal.is_controller = False
    sys.stdout = captured = io.StringIO()
    try:
        yield captured
    finally:
        sys.stdout = saved_stdout
        _internal.is_controller = saved_controller
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_module(module_fqn, params, environment):
    """Run a module as the AnsiballZ wrapper would (as ``__main__``); return its stdout and exit code.

    The worker process runs one task and exits, so what the module leaves behind (AnsibleModule's
    globals, the token cache's entries) ends with it, except the cache entries, which are meant to last.
    """
    rc = 0
    with _as_module_process(environment) as captured:
        try:
            _loader.run_module(json_params=params, profile=PROFILE, module_fqn=module_fqn, modlib_path="",
                               extensions={})
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return captured.getvalue(), rc


def action_for(module_file):
    """The action plugin class for plugins/action/<module>.py (imports the module in the controller now)."""
    name = module_file.rsplit(".", 1)[-1]
    if IMPORT_ERROR is None:
        __import__(PACKAGE + "." + name)
    return type("ActionModule", (InProcessModule,), {"__module__": module_file, "__doc__": InProcessModule.__doc__})
