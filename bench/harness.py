"""Measuring playbook runs against the sandbox: process-tree CPU, wall time, request log, machine load."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
for _path in (str(REPO), str(TESTS)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from conftest import ansible_env, msp_tenant_id  # noqa: E402  (links the collection, sets sys.path)

BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)"
                   r"\s+rescued=(\d+)\s+ignored=(\d+)", re.M)


# -- fixture and inventory ---------------------------------------------------------------------------
def client_tenants(fixture):
    msp = msp_tenant_id(fixture)
    return msp, [tid for tid in fixture["tenants"] if tid != msp]


def write_inventory(path, fixture, tenants=None, host_vars=None):
    """An inventory in the shape of inventories/example: one `clients` host per client tenant (GDAP mode)."""
    msp, clients = client_tenants(fixture)
    tenants = clients if tenants is None else tenants
    hosts = {}
    for n, tid in enumerate(tenants, 1):
        hosts["client%03d" % n] = dict({"tenant_id": tid, "access_mode": "gdap"}, **(host_vars or {}).get(tid, {}))
    inventory = {"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                 "msp_tenant_id": msp, "msp_tenant_name": fixture["tenants"][msp].get("display_name") or "MSP"},
        # the MSP tenant's host, as in inventories/example: site.yml (which client_tenants.yml imports, limited to
        # the clients) checks the client tenants' msp_tenant_id against it
        "children": {"msp": {"hosts": {"msp": {"tenant_id": msp}}}, "clients": {"hosts": hosts}}}}
    Path(path).write_text(json.dumps(inventory, indent=1))
    return {h: v["tenant_id"] for h, v in hosts.items()}


def bench_env(sandbox_env, **extra):
    """ansible_env() of the test suite, without the test-only result recorder (it costs controller CPU)."""
    env = ansible_env(sandbox_env)
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    env.update({"ANSIBLE_DEPRECATION_WARNINGS": "false", "ANSIBLE_HOST_KEY_CHECKING": "false"})
    env.update({k: str(v) for k, v in extra.items()})
    return env


# -- one measured process -------------------------------------------------------------------------------
def run_measured(cmd, env, out_path, timeout=3600, cwd=REPO):
    """Run ``cmd`` and measure its whole process tree with wait4 (every waited descendant's CPU and peak RSS)."""
    with open(out_path, "wb") as out:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=str(cwd),
                                start_new_session=True)
        timer = threading.Timer(timeout, _kill_group, (proc.pid,))
        timer.start()
        memory = TreeMemory(proc.pid).start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
            memory.stop()
        wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"rc": proc.returncode, "wall_s": wall, "cpu_user_s": usage.ru_utime, "cpu_sys_s": usage.ru_stime,
            "cpu_s": usage.ru_utime + usage.ru_stime, "maxrss_mb": usage.ru_maxrss / 1024.0,
            "tree_peak_rss_mb": memory.peak_rss_mb, "tree_peak_pss_mb": memory.peak_pss_mb,
            "tree_peak_processes": memory.peak_processes,
            "timed_out": wall >= timeout}


class TreeMemory:
    """Peak memory of a whole process tree (``root`` and its descendants), sampled from /proc twice a second.

    wait4's ru_maxrss is the largest single process; the tree's footprint is the sum over the processes alive
    at one moment. RSS counts the pages forked workers share with the main process once per process; PSS
    divides each shared page among its sharers, so the PSS sum is what the tree really occupies.
    """

    def __init__(self, root, interval=0.5):
        self.root = root
        self.interval = interval
        self.peak_rss_mb = self.peak_pss_mb = 0.0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)

    def _members(self):
        """The root and its descendants (workers call setsid(), so the session would miss them)."""
        children = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))   # field 4: the parent pid
        todo = [self.root]
        while todo:
            pid = todo.pop()
            yield "/proc/%d" % pid
            todo.extend(children.get(pid, ()))

    def sample(self):
        rss = pss = 0
        count = 0
        for path in self._members():
            try:
                text = Path(path, "smaps_rollup").read_text()
            except OSError:
                continue
            count += 1
            for line in text.splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        self.peak_rss_mb = max(self.peak_rss_mb, rss / 1024.0)
        self.peak_pss_mb = max(self.peak_pss_mb, pss / 1024.0)
        self.peak_processes = max(self.peak_processes, count)

    def _loop(self):
        while not self._stop.wait(self.interval):
            self.sample()


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def play_recap(text):
    return {m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)), "unreachable": int(m.group(4)),
                         "failed": int(m.group(5)), "skipped": int(m.group(6)), "rescued": int(m.group(7))}
            for m in RECAP.finditer(text)}


def ansible_playbook(playbook, inventory, forks, check=False, diff=False, extra=()):
    cmd = [str(BIN / "ansible-playbook"), str(playbook), "-i", str(inventory), "-f", str(forks)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    return cmd + list(extra)


# -- machine load -----------------------------------------------------------------------------------------
def _proc_stat():
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in fields]
    idle = values[3] + values[4]          # idle + iowait
    return sum(values[:8]), idle


def process_cpu_s(pid):
    """CPU seconds of a live process (its threads plus its reaped children)."""
    try:
        parts = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return sum(int(v) for v in parts[11:15]) / CLK_TCK


class LoadMonitor:
    """Samples /proc/stat and the load average: how busy the machine was, and how much of it was us."""

    def __init__(self, interval=2.0):
        self.interval = interval
        self.samples = []
        self._stop = threading.Event()
        self._thread = None
        self.start_total, self.start_idle = _proc_stat()
        self.started = time.monotonic()

    def start(self):
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self):
        while not self._stop.wait(self.interval):
            self.samples.append((time.monotonic(), os.getloadavg()[0]))

    def window(self):
        """A marker for busy_between()."""
        total, idle = _proc_stat()
        return {"t": time.monotonic(), "total": total, "idle": idle}

    @staticmethod
    def busy_between(start, end):
        """Machine CPU seconds used between two window() markers (all processes of everyone)."""
        total = (end["total"] - start["total"]) / CLK_TCK
        idle = (end["idle"] - start["idle"]) / CLK_TCK
        return total - idle, total

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def load_summary(self):
        loads = [load for _t, load in self.samples] or [os.getloadavg()[0]]
        return {"load1_min": min(loads), "load1_max": max(loads), "load1_mean": sum(loads) / len(loads)}


# -- the sandbox log --------------------------------------------------------------------------------------
def log_since(client, since):
    entries = client.log(since=since)
    if isinstance(entries, dict):
        entries = entries.get("entries", [])
    return entries


def traffic(entries, tenants):
    """Requests per tenant by API, writes, 429s and 503s, from sandbox log entries."""
    wanted = {t.lower() for t in tenants}
    per_tenant = {}
    statuses = {}
    for entry in entries:
        tenant = (entry.get("tenant") or "").lower()
        if tenant not in wanted:
            continue
        row = per_tenant.setdefault(tenant, {"login": 0, "graph": 0, "writes": 0, "429": 0, "503": 0})
        api = entry.get("api") or "graph"
        if api in ("login", "graph"):
            row[api] += 1
        if entry.get("write"):
            row["writes"] += 1
        status = entry.get("status")
        statuses[status] = statuses.get(status, 0) + 1
        if status in (429, 503):
            row[str(status)] += 1
    count = max(len(tenants), 1)
    totals = {k: sum(r[k] for r in per_tenant.values()) for k in ("login", "graph", "writes", "429", "503")}
    return {"per_tenant_mean": {k: v / count for k, v in totals.items()}, "totals": totals,
            "graph_max": max((r["graph"] for r in per_tenant.values()), default=0),
            "graph_min": min((r["graph"] for r in per_tenant.values()), default=0),
            "statuses": {str(k): v for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))}}


def last_seq(client):
    entries = log_since(client, 0)
    return max((e.get("seq", 0) for e in entries), default=0)
