"""The core's guarantees, driven through the one fake transport: the write chokepoint and its gate, check mode,
the backup hook, lost updates (a concurrent writer between plan and write), retries and their budget."""

import copy

import pytest

from ansible_collections.msp.conditional_access.plugins.module_utils._ca import POLICIES
from ansible_collections.msp.conditional_access.plugins.module_utils._exclusion import ARGUMENT_SPEC as PART_D
from ansible_collections.msp.conditional_access.plugins.module_utils._exclusion import ClientExclusion
from ansible_collections.msp.conditional_access.plugins.module_utils._graph import GraphError, Retries
from ansible_collections.msp.conditional_access.plugins.module_utils._policy import ARGUMENT_SPEC, Policies
from fake_transport import FakeTransport
from test_ca_policy_run import BG1, POLICY, SVC, USERS

MSP = "11111111-2222-3333-4444-555555555555"
ADMIN = "aaaaaaaa-0000-4000-8000-0000000000ad"


def transport(*policies):
    return FakeTransport(policies or [POLICY], users=USERS + [{"id": ADMIN, "userPrincipalName": "admin@x"}])


def test_a_write_around_the_chokepoint_is_refused():
    graph = transport()
    module = graph.module(ARGUMENT_SPEC, display_name="P")
    with pytest.raises(RuntimeError, match="outside the write chokepoint"):
        module.graph.request("PATCH", POLICIES + "/p1", body={"state": "disabled"})
    assert graph.writes() == [] and graph.policy("p1")["state"] == "enabled"


def test_check_mode_sends_no_write_and_calls_no_backup_hook():
    graph = transport()
    module = graph.module(ARGUMENT_SPEC, check_mode=True, display_name="P", policy_state="disabled")
    seen = []
    module.before_write = lambda *args: seen.append(args)
    result = Policies(module).ensure()
    assert result["changed"] is True and result["policy"]["state"] == "disabled"  # the predicted object
    assert graph.writes() == [] and seen == [] and module.writes == [("PATCH", POLICIES + "/p1")]


def test_the_backup_hook_sees_the_object_before_it_changes():
    graph = transport()
    module = graph.module(ARGUMENT_SPEC, display_name="P", policy_state="disabled")
    seen = []
    module.before_write = lambda method, path, body, current, *rest: seen.append((method, copy.deepcopy(current)))
    Policies(module).ensure()
    [(method, current)] = seen
    assert method == "PATCH" and current["state"] == "enabled" and graph.policy("p1")["state"] == "disabled"


def concurrent_admin(exclude):
    """A portal admin who adds an exclusion right after the task planned (before it writes)."""
    def hook(graph, method, path, body):
        if method == "GET" and path.endswith("/policies/p1") and not hook.done:
            hook.done = True
            graph.policy("p1")["conditions"]["users"]["excludeUsers"].append(exclude)
    hook.done = False
    return hook


def test_ca_policy_never_erases_an_exclusion_added_between_plan_and_write():
    graph = transport()
    graph.hooks.append(concurrent_admin(ADMIN))
    result = Policies(graph.module(ARGUMENT_SPEC, display_name="P",
                                   conditions={"users": {"exclude_users": ["svc@x"]}})).ensure()
    assert result["changed"] is True
    assert graph.policy("p1")["conditions"]["users"]["excludeUsers"] == [BG1, ADMIN, SVC]
    [patch] = [body for method, _path, body, _status in graph.writes()]
    assert patch["conditions"]["users"]["excludeUsers"] == [BG1, ADMIN, SVC]


def test_a_fresh_plan_is_not_read_again():
    graph = transport()
    module = graph.module(ARGUMENT_SPEC, display_name="P", description="d")
    module.graph.pace_seconds = 60  # the plan is younger than the pacing window
    Policies(module).ensure()
    methods = [m for m, path, _b, _s in graph.log if "/policies" in path]
    assert methods == ["GET", "PATCH", "GET"]  # find, write, read-back: no re-read in between


def test_part_d_never_erases_an_exclusion_added_between_plan_and_write():
    policy = dict(copy.deepcopy(POLICY), grantControls={"operator": "OR", "builtInControls": ["block"]})
    graph = transport(policy)
    graph.hooks.append(concurrent_admin(ADMIN))
    result = ClientExclusion(graph.module(PART_D, msp_tenant_id=MSP)).run()
    assert result["changed"] is True
    users = graph.policy("p1")["conditions"]["users"]
    assert users["excludeUsers"] == [BG1, ADMIN]  # the admin's exclusion survived our complete users object
    assert users["excludeGuestsOrExternalUsers"]["externalTenants"]["members"] == [MSP]


def test_part_d_writes_nothing_when_another_writer_already_added_the_msp():
    graph = transport()

    def other_run(graph, method, path, body):
        if method == "GET" and path.endswith("/policies/p1"):
            graph.policy("p1")["conditions"]["users"]["excludeGuestsOrExternalUsers"] = {
                "guestOrExternalUserTypes": "serviceProvider", "externalTenants": {
                    "@odata.type": "#microsoft.graph.conditionalAccessEnumeratedExternalTenants",
                    "membershipKind": "enumerated", "members": [MSP]}}
    graph.hooks.append(other_run)
    result = ClientExclusion(graph.module(PART_D, msp_tenant_id=MSP)).run()
    assert graph.writes() == [] and result["changed"] is False
    assert result["policies"][0]["action"] == "already_excluded"


def test_lag_retries_are_reported_with_their_reason_and_bounded_by_the_budget():
    graph = transport()
    module = graph.module(ARGUMENT_SPEC, display_name="P")
    module.graph.lag_retries = 3
    with pytest.raises(GraphError):
        module.graph.request("GET", POLICIES + "/missing", lag_retries=3)
    summary = module.graph.retries.summary()
    assert "3 x GET" in summary and "read-after-write lag: 404" in summary
    spent = Retries(budget=0.5, max_wait=30)
    assert spent.allow("GET", "/x", "throttled (429)", 0.1) and not spent.allow("GET", "/x", "throttled (429)", 5)
    assert "retry_budget (0.5 s) was used up" in spent.summary()


def test_a_post_that_timed_out_is_not_sent_again_and_429_asks_the_budget():
    import httpx
    from kiota_http.middleware.options import RetryHandlerOption

    from ansible_collections.msp.conditional_access.plugins.module_utils._graph import bounded_retry_handler

    retries = Retries(budget=600, max_wait=5)
    handler = bounded_retry_handler(RetryHandlerOption(delay=1.0, max_retries=6), 5, retries)
    post = httpx.Request("POST", "https://graph.test/v1.0" + POLICIES, content=b"{}")
    assert not handler.should_retry(post, handler.options, httpx.Response(504, request=post))
    handler.get_delay_time(1, httpx.Response(429), 1.0)
    assert handler.should_retry(post, handler.options, httpx.Response(429, request=post))
    assert retries.made[0][:3] == ("POST", "/v1.0" + POLICIES, "throttled (429)")
