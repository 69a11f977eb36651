"""Bench only: where the controller's CPU goes (start-up, auth, Graph, module logic), per process.

Loaded by every Python process of a measured ansible-playbook run when the bench puts this directory on
PYTHONPATH and sets MSP_CA_CPU_SPLIT to a directory: the main process, its forked workers (they inherit it)
and, on the module path, each module process. It wraps, once they are imported,

- Authenticator.token (auth: credential, token request) and GraphClient._send (Graph requests),
- GraphModule.run (the module's own work after the argument spec: planning, diff, result),
- the in-process runner (_in_process.run_module) in a worker, and the import of _in_process in the main
  process (the one-off imports the parent pays before it forks),

with CPU time (time.process_time, exclusive of nested wrapped calls), and appends one JSON line per process
to MSP_CA_CPU_SPLIT/<pid>.json. bench/cpu_split/__init__.py adds them up. Nothing here runs in a normal run.
"""

import json
import os
import sys
import time

OUT = os.environ.get("MSP_CA_CPU_SPLIT")
PREFIX = "ansible_collections.msp.conditional_access.plugins."
TARGETS = {  # module -> [(class or None, attribute, category)]
    PREFIX + "module_utils._auth": [("Authenticator", "token", "auth")],
    PREFIX + "module_utils._graph": [("GraphClient", "_send", "graph")],
    PREFIX + "module_utils._module": [("GraphModule", "run", "logic")],
    PREFIX + "plugin_utils._in_process": [(None, "run_module", "in_process")],
}
totals = {}
stack = []
kind = "module"   # a module process unless the in-process runner or the parent's import says otherwise


def _clock():
    return time.process_time()


def _wrap(func, category):
    def wrapper(*args, **kwargs):
        stack.append(0.0)
        start = _clock()
        try:
            return func(*args, **kwargs)
        finally:
            spent = _clock() - start
            nested = stack.pop()
            totals[category] = totals.get(category, 0.0) + spent - nested
            if stack:
                stack[-1] += spent
            elif category == "in_process":
                _write("worker")
    wrapper.__wrapped__ = func
    return wrapper


def _patch(module):
    for owner, attr, category in TARGETS[module.__name__]:
        target = getattr(module, owner) if owner else module
        setattr(target, attr, _wrap(getattr(target, attr), category))


def _write(process_kind):
    times = os.times()
    own = dict(totals)
    if process_kind == "worker":
        own.pop("parent_imports", None)   # inherited from the main process by fork, counted there
    record = dict(own, pid=os.getpid(), ppid=os.getppid(), kind=process_kind,
                  process_cpu=times.user + times.system)
    with open(os.path.join(OUT, "%d.json" % os.getpid()), "a") as out:
        out.write(json.dumps(record) + "\n")


class _Loader:
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        global kind
        start = _clock()
        self.loader.exec_module(module)
        if module.__name__.endswith("._in_process") and not stack:
            # imported by the strategy in the main process (or, failing that, in a worker)
            totals["parent_imports"] = totals.get("parent_imports", 0.0) + _clock() - start
            kind = "main"
        _patch(module)

    def __getattr__(self, name):
        return getattr(self.loader, name)


class _Finder:
    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if fullname not in TARGETS:
            return None
        for finder in list(sys.meta_path):
            if finder is _Finder or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                spec.loader = _Loader(spec.loader)
                return spec
        return None

    @staticmethod
    def invalidate_caches():
        pass


class _FinderFirst(list):
    """sys.meta_path that keeps _Finder in front (Ansible's collection finder inserts itself at 0)."""

    def insert(self, index, value):
        super().insert(index, value)
        if value is not _Finder and _Finder in self:
            self.remove(_Finder)
            super().insert(0, _Finder)


def _at_exit():
    # the main process and module processes end through sys.exit; forked workers end with os._exit
    if kind == "main" or kind == "module" and totals:
        _write(kind)


if OUT:
    import atexit

    sys.meta_path = _FinderFirst([_Finder] + list(sys.meta_path))
    atexit.register(_at_exit)
