"""Part D (playbooks/client_tenants.yml) on a small fleet with the sandbox's faults switched on.

Each test generates a fleet (6 client tenants x 8 policies), turns faults on, runs the real playbook with
ansible-playbook and asserts the outcome from the sandbox: every healthy tenant holds exactly the policies that
the independent oracle (bench/oracle.py, graph-ca.md §3) expects, a failing tenant fails alone with a clear
message, no exclusion that existed before is lost, and the run ends within a bounded time.
"""

from __future__ import annotations

import json
import re
import signal
import time

import pytest

from bench import oracle
from bench.harness import write_inventory

TENANTS, POLICIES = 6, 8
PLAYBOOK = "playbooks/client_tenants.yml"
FORKS = ["-f", str(TENANTS)]
RUN_TIMEOUT = 420          # seconds one ansible-playbook run may take before the test fails
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")


class Fleet:
    def __init__(self, sandbox, fixture, path, inventory):
        self.sandbox = sandbox
        self.client = sandbox.client
        self.fixture = fixture
        self.path = path
        self.inventory = str(inventory)
        self.msp, self.clients = _clients(fixture)
        self.hosts = write_inventory(inventory, fixture, tenants=self.clients)
        self.host_of = {tid: host for host, tid in self.hosts.items()}
        self.before = {tid: fixture["tenants"][tid]["policies"] for tid in self.clients}

    def expected(self, tid):
        return [oracle.expected_policy(p, self.msp) for p in self.before[tid]]

    def assert_converged(self, tid):
        problems = oracle.compare_tenant(self.expected(tid), self.client.policies(tid))
        assert not problems, "tenant %s did not converge:\n%s" % (tid, "\n".join(problems[:10]))

    def assert_nothing_lost(self, tid):
        lost = oracle.lost_exclusions(self.before[tid], self.client.policies(tid))
        assert not lost, "tenant %s lost exclusions:\n%s" % (tid, "\n".join(lost))

    def assert_untouched(self, tid):
        problems = oracle.compare_tenant(self.before[tid], self.client.policies(tid))
        assert not problems, "tenant %s changed:\n%s" % (tid, "\n".join(problems[:10]))

    def log(self, tid=None):
        entries = self.client.log(tenant=tid)
        return entries.get("entries", []) if isinstance(entries, dict) else entries


def _clients(fixture):
    from conftest import msp_tenant_id

    msp = msp_tenant_id(fixture)
    return msp, [tid for tid in fixture["tenants"] if tid != msp][:TENANTS]


@pytest.fixture
def fleet(sandbox, tmp_path):
    from sandbox.fixtures import generate

    fixture = generate(TENANTS + 1, POLICIES, 11)
    if len(fixture["tenants"]) < TENANTS + 1:
        fixture = generate(TENANTS + 2, POLICIES, 11)
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(fixture))
    sandbox.client.reset(fixture=str(path))
    made = Fleet(sandbox, fixture, path, tmp_path / "inventory.json")
    assert sum(oracle.needs_change(p, made.msp) for tid in made.clients for p in made.before[tid]) > 0, \
        "the generated fleet has nothing to change: the tests would prove nothing"
    return made


@pytest.fixture(autouse=True)
def deadline():
    """No fault test may hang: SIGALRM fails it after 15 minutes whatever it is waiting for."""
    def expired(_signum, _frame):
        raise TimeoutError("fault test exceeded its 900 s deadline")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(900)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def run(run_playbook, fleet, *args, **kwargs):
    start = time.monotonic()
    result = run_playbook(PLAYBOOK, inventory=fleet.inventory, diff=False, args=FORKS + list(args),
                          timeout=RUN_TIMEOUT, **kwargs)
    result.wall = time.monotonic() - start
    return result


def failure_message(result, host):
    failed = [r for r in result.results if r["host"] == host and r["status"] == "failed"]
    assert failed, "host %s did not fail; results: %s" % (host, [(r["task"], r["status"]) for r in result.results
                                                                 if r["host"] == host])
    return failed[-1]["result"].get("msg", "")


def assert_bounded(result, seconds):
    assert result.wall < seconds, "the run took %.0f s, more than the %d s bound" % (result.wall, seconds)


# -- tests ---------------------------------------------------------------------------------------------
def test_429_storm_every_tenant_converges(fleet, run_playbook):
    """Half the allowed rate: the 1 req/s pacing alone meets a 429 (no Retry-After) on every other request."""
    fleet.client.set_faults(tenant=None, throttle_rps=0.5)
    result = run(run_playbook, fleet)
    assert result.rc == 0, result.stdout[-3000:]
    throttled = [e for e in fleet.log() if e["status"] == 429]
    assert throttled, "the storm never happened: no 429 in the request log"
    for tid in fleet.clients:
        fleet.assert_converged(tid)
    assert_bounded(result, 360)


def test_503_with_retry_after_is_retried(fleet, run_playbook):
    fleet.client.set_faults(tenant=None, unavailable_every=3, retry_after=1)
    result = run(run_playbook, fleet)
    assert result.rc == 0, result.stdout[-3000:]
    assert [e for e in fleet.log() if e["status"] == 503 and e["api"] == "graph"], "no 503 was served"
    for tid in fleet.clients:
        fleet.assert_converged(tid)
    assert_bounded(result, 240)


def test_replication_lag_then_second_run_is_quiet(fleet, run_playbook):
    """Part D never reads a policy back by id after writing it, so a lagging replica must change nothing:
    the run converges and the immediate second run (a list per tenant) writes nothing."""
    fleet.client.set_faults(tenant=None, replication_lag=2)
    first = run(run_playbook, fleet)
    assert first.rc == 0, first.stdout[-3000:]
    for tid in fleet.clients:
        fleet.assert_converged(tid)
    second = run(run_playbook, fleet)
    assert second.rc == 0 and second.changed == 0, second.stdout[-3000:]
    assert_bounded(first, 240)


def test_forbidden_tenant_fails_alone_with_a_clear_message(fleet, run_playbook):
    bad = fleet.clients[0]
    fleet.client.set_faults(tenant=bad, forbidden=True)
    result = run(run_playbook, fleet)
    assert result.rc != 0
    assert {e["status"] for e in fleet.log(bad) if e["api"] == "graph"} == {403}
    message = failure_message(result, fleet.host_of[bad])
    assert "403" in message and bad in message, message
    assert "GDAP" in message or "permission" in message.lower(), message
    fleet.assert_untouched(bad)
    for tid in fleet.clients[1:]:
        fleet.assert_converged(tid)
    assert_bounded(result, 240)


def test_500_mid_run_fails_that_tenant_and_keeps_its_exclusions(fleet, run_playbook):
    # the tenant with the most work, so the 500s start between its PATCHes: its Graph calls are the policy list,
    # the MSP tenant's name (for the diff), then the first PATCH; the fourth call and later fail
    bad = max(fleet.clients, key=lambda t: sum(oracle.needs_change(p, fleet.msp) for p in fleet.before[t]))
    fleet.client.set_faults(tenant=bad, error_500_after=3)
    result = run(run_playbook, fleet)
    assert result.rc != 0
    landed = [e for e in fleet.log(bad) if e["write"] and e["status"] < 300]
    assert landed and [e for e in fleet.log(bad) if e["status"] == 500], "the 500s did not start mid-run"
    message = failure_message(result, fleet.host_of[bad])
    assert "500" in message and bad in message, message
    # which policies were changed and which not, by name
    assert "Changed: " in message and "Not changed: " in message, message
    fleet.assert_nothing_lost(bad)
    for tid in fleet.clients:
        if tid != bad:
            fleet.assert_converged(tid)
    assert_bounded(result, 300)
    # the fault gone, a re-run finishes the job
    fleet.client.set_faults(tenant=bad, error_500_after=10 ** 9)
    again = run(run_playbook, fleet)
    assert again.rc == 0, again.stdout[-3000:]
    fleet.assert_converged(bad)


def test_dropped_connections_are_survived(fleet, run_playbook):
    fleet.client.set_faults(tenant=None, drop_connection_every=5)
    result = run(run_playbook, fleet)
    assert result.rc == 0, result.stdout[-3000:]
    assert [e for e in fleet.log() if e["status"] == 0], "no connection was dropped"
    for tid in fleet.clients:
        fleet.assert_converged(tid)
    assert_bounded(result, 240)


def test_all_faults_at_once(fleet, run_playbook):
    """The brief's mix on one run: storms, 503s, lag, drops everywhere; one tenant 403, one 500 mid-run."""
    forbidden, broken = fleet.clients[0], fleet.clients[1]
    fleet.client.set_faults(tenant=None, throttle_rps=0.5, unavailable_every=7, retry_after=1, replication_lag=1,
                            drop_connection_every=11)
    fleet.client.set_faults(tenant=forbidden, forbidden=True)
    fleet.client.set_faults(tenant=broken, error_500_after=2)
    result = run(run_playbook, fleet)
    assert result.rc != 0
    assert "403" in failure_message(result, fleet.host_of[forbidden])
    assert "500" in failure_message(result, fleet.host_of[broken])
    fleet.assert_untouched(forbidden)
    fleet.assert_nothing_lost(broken)
    for tid in fleet.clients[2:]:
        fleet.assert_converged(tid)
    assert_bounded(result, 420)


def test_vvvv_output_holds_no_secret_and_no_token(fleet, run_playbook):
    result = run(run_playbook, fleet, "-vvvv")
    assert result.rc == 0, result.stdout[-3000:]
    secret = fleet.sandbox.env["AZURE_CLIENT_SECRET"]
    output = result.stdout + result.stderr
    assert len(output) > 10000, "-vvvv printed too little to prove anything"
    assert secret not in output
    issued = [e for e in fleet.log() if e["api"] == "login" and e["status"] == 200]
    assert issued, "no token was issued: the scan would prove nothing"
    tokens = JWT.findall(output)
    assert not tokens, "access tokens in -vvvv output: %s..." % tokens[0][:40]
    assert "Bearer ey" not in output
