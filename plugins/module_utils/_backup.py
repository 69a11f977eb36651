# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups of every object a module is about to change or delete, written before the write.

PRIVATE to the msp.conditional_access collection: the API may change without notice.

The write chokepoint (``GraphModule.write``) calls ``save_before_write`` for every PATCH and DELETE it
sends (check mode sends nothing and saves nothing). One JSON file per object and run directory:
``<backup_dir>/<tenant id>/<kind>-<object id>.json``, the directory 0700 and the file 0600 because a policy
names people and groups. The first copy in a run directory wins: a policy written twice in one run is
kept as it was before the run. ``restore.yml`` (``ca_backup_restore``) reads these files back.
"""

from __future__ import annotations

import datetime
import json
import os
import re

from ._inputs import is_path_segment

FORMAT = 1
DEFAULT_ROOT = os.path.join("build", "backups")
# One directory per playbook run when the caller sets it (README: MSP_CA_RUN_TIME=...); otherwise one per module run.
RUN_TIME_ENV = "MSP_CA_RUN_TIME"
BACKED_UP_METHODS = ("PATCH", "DELETE", "PUT")
KINDS = (("/identity/conditionalAccess/policies/", "policy"),
         ("/identity/conditionalAccess/namedLocations/", "named_location"))
BACKUP_ARGUMENT_SPEC = dict(backup_dir=dict(type="path"))
SAFE = re.compile(r"[^A-Za-z0-9._-]")


class BackupError(Exception):
    """The backup could not be written; the write it guards is not sent."""


def run_time(now=None):
    """The run directory's name: MSP_CA_RUN_TIME when set, else the time now (UTC, to the second)."""
    stamp = os.environ.get(RUN_TIME_ENV)
    if stamp:
        return SAFE.sub("_", stamp)
    return (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")


def launch_dir():
    """Where ansible-playbook was started, so that build/... means what the person who typed it meant.

    The local connection runs a module in the playbook's directory (through /bin/sh), while the Ansible worker
    that started it keeps the directory ansible-playbook was started in: the first ancestor that is not a shell
    and is an Ansible process gives it (Linux /proc); anywhere else, the working directory.
    """
    pid, depth = os.getppid(), 0
    while depth < 8:
        depth += 1
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                argv = handle.read().split(b"\0")
            with open("/proc/%d/stat" % pid) as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        if not os.path.basename(argv[0]).endswith(b"sh"):
            if any(b"ansible" in os.path.basename(arg) for arg in argv[:2]):
                try:
                    return os.readlink("/proc/%d/cwd" % pid)
                except OSError:
                    break
            break
        pid = parent
    return os.getcwd()


def absolute(path):
    return os.path.normpath(os.path.join(launch_dir(), os.path.expanduser(path)))


def backup_root(option):
    """The run directory: the option as given, or build/backups/<run time> where ansible-playbook was started."""
    return absolute(option) if option else absolute(os.path.join(DEFAULT_ROOT, run_time()))


def classify(path):
    """'/identity/conditionalAccess/policies/<id>' -> ('policy', '<id>'); other paths -> ('object', <last segment>)."""
    clean = path.split("?", 1)[0]
    for prefix, kind in KINDS:
        if prefix in clean:
            return kind, clean.split(prefix, 1)[1].strip("/").split("/")[0]
    return "object", clean.rstrip("/").rsplit("/", 1)[-1]


def _private_dirs(path):
    """Create ``path`` and its missing parents 0700 (the umask is not trusted to do it)."""
    missing = []
    head = path
    while head and not os.path.isdir(head):
        missing.append(head)
        head = os.path.dirname(head)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass
        os.chmod(directory, 0o700)


def save(root, tenant_id, method, path, current, module_name=None, now=None, kind=None):
    """Write one backup file and return its path (the existing one when this run already saved the object)."""
    kind, object_id = (kind, path.rstrip("/").rsplit("/", 1)[-1]) if kind else classify(path)
    directory = os.path.join(root, SAFE.sub("_", tenant_id or "unknown-tenant"))
    target = os.path.join(directory, "%s-%s.json" % (kind, SAFE.sub("_", object_id)))
    try:
        _private_dirs(directory)
        if os.path.exists(target):
            return target
        record = {"format": FORMAT, "tenant_id": tenant_id, "kind": kind, "id": object_id,
                  "display_name": (current or {}).get("displayName"), "before": method,
                  "saved_at": (now or datetime.datetime.now(datetime.timezone.utc)).isoformat(timespec="seconds"),
                  "module": module_name, "path": path.split("?", 1)[0], "object": current}
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(record, handle, indent=2, sort_keys=True)
            handle.write("\n")
    except OSError as exc:
        raise BackupError("could not save the backup of %s %s to %s (%s); nothing was written. Set backup_dir to "
                          "a directory you can write" % (kind, object_id, target, exc))
    return target


def save_before_write(module, method, path, current=None, version=None):
    """The chokepoint's hook: the object as it is now, saved before ``method`` changes it. None for a create."""
    if method not in BACKED_UP_METHODS:
        return None
    if current is None:
        # the caller did not hand over what it read: one GET, so that nothing is changed unsaved
        current = module.graph.get(path, version=version)
    return save(backup_root(module.params.get("backup_dir")), module.graph.tenant_id, method, path, current,
                getattr(module, "_name", None))


def record_created(module, method, path, answer):
    """After a POST that created a policy or named location: a ``created-<kind>-<id>.json`` marker (the new object)."""
    clean = path.split("?", 1)[0].rstrip("/")
    kind = dict((prefix.rstrip("/"), name) for prefix, name in KINDS).get(clean)
    if method != "POST" or not kind or not isinstance(answer, dict) or not answer.get("id"):
        return None
    return save(backup_root(module.params.get("backup_dir")), module.graph.tenant_id, "POST",
                "%s/%s" % (clean, answer["id"]), answer, getattr(module, "_name", None), kind="created-" + kind)


def save_cipp_client(module, tenant_id, row):
    """Part C: a CIPP-API client row as CIPP listed it, before AddUpdate changes its ranges."""
    if module.check_mode:
        return None
    target = save(backup_root(module.params.get("backup_dir")), tenant_id, "AddUpdate",
                  "/api/ExecApiClient/%s" % row.get("ClientId"), row, getattr(module, "_name", None),
                  kind="cipp_api_client")
    if target not in module.backups:
        module.backups.append(target)
    return target


# -- reading backups back -------------------------------------------------------------------------
def backup_files(path, tenant_id):
    """The backup files for ``tenant_id`` under ``path`` (a file, a tenant directory or a run directory)."""
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        return None
    tenant_dir = os.path.join(path, SAFE.sub("_", tenant_id or ""))
    base = tenant_dir if tenant_id and os.path.isdir(tenant_dir) else path
    return sorted(os.path.join(base, name) for name in os.listdir(base) if name.endswith(".json"))


def load(path):
    with open(path) as handle:
        record = json.load(handle)
    if not isinstance(record, dict) or record.get("format") != FORMAT or not isinstance(record.get("object"), dict) \
            or not isinstance(record.get("kind"), str) or not is_path_segment(record.get("id")):
        raise ValueError("%s is not a backup file of this collection (format %s, with kind, id and object)"
                         % (path, FORMAT))
    return record


def last_backup(root, tenant_id):
    """The newest run directory under ``root`` that holds files of ``tenant_id``: {run, path, files, kinds}."""
    if not root or not os.path.isdir(root):
        return None
    best = None
    for run in sorted(os.listdir(root), reverse=True):
        directory = os.path.join(root, run, SAFE.sub("_", tenant_id or ""))
        if os.path.isdir(directory):
            files = sorted(n for n in os.listdir(directory) if n.endswith(".json"))
            if files:
                best = {"run": run, "path": directory, "files": len(files),
                        "policies": sum(1 for n in files if n.startswith("policy-")),
                        "named_locations": sum(1 for n in files if n.startswith("named_location-"))}
                break
    return best
