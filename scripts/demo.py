"""`make demo`: the README's main job, end to end on the local sandbox.

Starts the sandbox (an MSP tenant and four client tenants, sandbox/fixtures/demo.json), shows the tenants the
inventory plugin discovers (inventories/sandbox-dynamic: the MSP's GDAP relationships and CIPP's tenant list), then
runs playbooks/site.yml on that inventory three times, exactly as a user would against real tenants:

1. check mode with --diff (must write nothing: the sandbox's write counter proves it),
2. apply,
3. apply again (must report changed=0 everywhere).

Prints each run's per-tenant summary and PLAY RECAP, keeps the full output under build/demo/, and exits
non-zero when a run fails, when check mode wrote anything, or when the second apply changed anything.
`--static` uses the static inventories/sandbox/hosts.yml instead (the shape for MSPs without GDAP or CIPP-API).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLLECTIONS = REPO / "build" / "collections"
COLLECTION_LINK = COLLECTIONS / "ansible_collections" / "msp" / "conditional_access"
FIXTURE = REPO / "sandbox" / "fixtures" / "demo.json"
INVENTORY = REPO / "inventories" / "sandbox-dynamic"
STATIC_INVENTORY = REPO / "inventories" / "sandbox" / "hosts.yml"
PLAYBOOK = REPO / "playbooks" / "site.yml"
LOG_DIR = REPO / "build" / "demo"
BIN = Path(sys.executable).parent

RECAP_LINE = re.compile(r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
                        r"\s+failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)"
                        r"\s+ignored=(?P<ignored>\d+)")
SUMMARY_TASK = re.compile(r"^TASK \[(Summary [^\]]*)\]")


def link_collection():
    """ansible-core finds the collection at .../ansible_collections/msp/conditional_access (same as tests/conftest.py)."""
    COLLECTION_LINK.parent.mkdir(parents=True, exist_ok=True)
    if not COLLECTION_LINK.is_symlink():
        COLLECTION_LINK.symlink_to(REPO, target_is_directory=True)


def ansible_env(sandbox_env):
    env = dict(os.environ)
    env.update(sandbox_env)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        # a tenant discovery that fails must stop the run, not leave an inventory without tenants
        "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "true",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "PATH": str(BIN) + os.pathsep + env.get("PATH", ""),
    })
    return env


def parse_recap(output):
    """{host: {ok, changed, unreachable, failed, ...}} from the PLAY RECAP of ansible-playbook's output."""
    recap, in_recap = {}, False
    for line in output.splitlines():
        if line.startswith("PLAY RECAP"):
            in_recap = True
            continue
        match = RECAP_LINE.match(line) if in_recap else None
        if match:
            recap[match.group("host")] = {k: int(v) for k, v in match.groupdict().items() if k != "host"}
    return recap


def summary_blocks(output):
    """The output of the playbooks' "Summary ..." tasks (one message per tenant)."""
    blocks, current = [], None
    for line in output.splitlines():
        if SUMMARY_TASK.match(line):
            current = []
            blocks.append(current)
            continue
        if current is not None:
            if not line.strip() or line.startswith(("TASK [", "PLAY ")):
                current = None
            else:
                current.append(line)
    return ["\n".join(block) for block in blocks if block]


def recap_text(output):
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("PLAY RECAP"):
            return "\n".join(line for line in lines[index:] if line.strip())
    return "(no PLAY RECAP: ansible-playbook did not finish)"


def show_inventory(env, inventory):
    """The discovered tenants, as `ansible-inventory --graph` shows them; None when discovery failed."""
    cmd = [str(BIN / "ansible-inventory"), "-i", str(inventory), "--graph"]
    print("\n=== 0. tenant discovery: %s" % " ".join(["ansible-inventory"] + cmd[1:]).replace(str(REPO) + "/", ""))
    proc = subprocess.run(cmd, env=env, cwd=str(REPO), capture_output=True, text=True)
    print(proc.stdout.rstrip() or proc.stderr.rstrip())
    return proc.returncode == 0


def run_site(number, title, env, check=False, verbose=False, inventory=INVENTORY):
    cmd = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(PLAYBOOK), "--diff"]
    if check:
        cmd.append("--check")
    print("\n=== %d. %s: %s" % (number, title, " ".join(["ansible-playbook"] + cmd[1:]).replace(str(REPO) + "/", "")))
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, cwd=str(REPO), capture_output=True, text=True)
    elapsed = time.monotonic() - started
    output = proc.stdout + ("\n" + proc.stderr if proc.stderr.strip() else "")
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / ("run%d-%s.log" % (number, "check" if check else "apply"))
    log.write_text(output)
    if verbose:
        print(output)
    else:
        for block in summary_blocks(proc.stdout):
            print(block)
        print(recap_text(proc.stdout))
    print("(rc=%d, %.0f s, full output with diffs: %s)" % (proc.returncode, elapsed, log.relative_to(REPO)))
    return proc.returncode, parse_recap(proc.stdout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="print the complete ansible-playbook output")
    parser.add_argument("--state-dir", default=str(REPO / ".sandbox" / "demo"), help="sandbox state directory")
    parser.add_argument("--static", action="store_true", help="use the static inventories/sandbox/hosts.yml")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))
    from sandbox.testing import start_sandbox

    link_collection()
    print("Starting the sandbox (login + Graph + CIPP-API) with %s ..." % FIXTURE.relative_to(REPO))
    handle = start_sandbox(str(FIXTURE), args.state_dir)
    try:
        print("Sandbox at %s" % handle.url)
        env = ansible_env(handle.env)
        problems = []
        inventory = STATIC_INVENTORY if args.static else INVENTORY
        if not args.static and not show_inventory(env, inventory):
            print("\nFAILED: tenant discovery failed (see above)")
            return 1

        rc, _ = run_site(1, "check mode with --diff (nothing is written)", env, check=True, verbose=args.verbose, inventory=inventory)
        writes = sum(handle.client.counters().get("writes", {}).values())
        print("check mode: %d writes reached the sandbox" % writes)
        if rc != 0:
            problems.append("the check run failed (rc=%d)" % rc)
        if writes:
            problems.append("check mode wrote %d times" % writes)

        rc, _ = run_site(2, "apply", env, verbose=args.verbose, inventory=inventory)
        writes = sum(handle.client.counters().get("writes", {}).values())
        print("apply: %d writes" % writes)
        if rc != 0:
            problems.append("the apply run failed (rc=%d)" % rc)

        before = writes
        rc, recap = run_site(3, "apply again (idempotence)", env, verbose=args.verbose, inventory=inventory)
        writes = sum(handle.client.counters().get("writes", {}).values()) - before
        changed = {host: s["changed"] for host, s in recap.items() if s["changed"]}
        failed = {host: s["failed"] + s["unreachable"] for host, s in recap.items() if s["failed"] + s["unreachable"]}
        if rc != 0:
            problems.append("the second apply failed (rc=%d)" % rc)
        if changed:
            problems.append("the second apply changed %s" % ", ".join("%s (%d)" % kv for kv in sorted(changed.items())))
        if failed:
            problems.append("tenants failed: %s" % ", ".join(sorted(failed)))
        if writes:
            problems.append("the second apply wrote %d times" % writes)
        if not recap:
            problems.append("no PLAY RECAP in the second apply")

        print()
        if problems:
            print("FAILED: " + "; ".join(problems))
            return 1
        print("second apply: changed=0 in %d tenants (%d writes)" % (len(recap), writes))
        return 0
    finally:
        handle.stop()


if __name__ == "__main__":
    sys.exit(main())
