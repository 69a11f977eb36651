"""Policies.ensure() against a stand-in module and Graph: what is written, when, and through which endpoint."""

import copy

import pytest

from ansible_collections.msp.conditional_access.plugins.module_utils._graph import GraphError
from sandbox.graph import GraphFailure

from fake_transport import FakeTransport
from ansible_collections.msp.conditional_access.plugins.module_utils._module import InvalidOption
from ansible_collections.msp.conditional_access.plugins.module_utils._policy import ARGUMENT_SPEC, Policies, policy_options

BG1 = "aaaaaaaa-0000-4000-8000-000000000001"
SVC = "aaaaaaaa-0000-4000-8000-000000000002"
POLICY = {"id": "p1", "displayName": "P", "state": "enabled",
          "conditions": {"users": {"includeUsers": ["All"], "excludeUsers": [BG1], "includeGroups": [], "excludeGroups": [],
                                   "includeRoles": [], "excludeRoles": [], "includeGuestsOrExternalUsers": None,
                                   "excludeGuestsOrExternalUsers": None},
                         "applications": {"includeApplications": ["All"], "excludeApplications": []},
                         "clientAppTypes": ["all"], "locations": None},
          "grantControls": {"operator": "OR", "builtInControls": ["mfa"], "authenticationStrength": None},
          "sessionControls": None}


USERS = [{"id": BG1, "userPrincipalName": "bg1@x"}, {"id": SVC, "userPrincipalName": "svc@x"}]


def transport(policies, **kw):
    return FakeTransport(policies, users=USERS, **kw)


def ensure(graph, check_mode=False, **params):
    graph.last_module = graph.module(ARGUMENT_SPEC, check_mode=check_mode, **params)
    return Policies(graph.last_module).ensure()


def writes(graph):
    return [(m, path, body, path.split("/")[1]) for m, path, body, _status in graph.writes()]


def test_same_task_twice_writes_once_and_only_what_changed():
    graph = transport([POLICY])
    task = dict(display_name="P", conditions={"users": {"exclude_users": ["svc@x"]}})
    first = ensure(graph, **task)
    assert first["changed"] is True
    [(method, _, body, version)] = writes(graph)
    assert (method, version) == ("PATCH", "v1.0")
    assert list(body) == ["conditions"] and list(body["conditions"]) == ["users"]
    assert body["conditions"]["users"]["excludeUsers"] == [BG1, SVC]
    assert body["conditions"]["users"]["includeUsers"] == ["All"]  # the users object goes complete
    assert first["policy"]["conditions"]["users"]["excludeUsers"] == [BG1, SVC]  # read back
    assert first["diff"]["after"]["conditions"]["users"]["exclude_users"] == ["bg1@x", "svc@x"]
    second = ensure(graph, **task)
    assert second["changed"] is False and len(writes(graph)) == 1


def test_check_mode_predicts_and_writes_nothing():
    graph = transport([POLICY])
    result = ensure(graph, check_mode=True, display_name="P", policy_state="report_only")
    assert result["changed"] is True and writes(graph) == []
    assert (result["diff"]["before"]["policy_state"], result["diff"]["after"]["policy_state"]) == ("enabled", "report_only")


def test_every_time_goes_to_beta_without_a_v1_attempt():
    graph = transport([])
    result = ensure(graph, display_name="B", conditions={"users": {"include_users": ["svc@x"]},
                                                         "applications": {"include_applications": ["All"]}},
                    grant_controls={"built_in_controls": ["mfa"]},
                    session_controls={"sign_in_frequency": {"frequency_interval": "every_time"}})
    assert [(s[0], s[3]) for s in writes(graph)] == [("POST", "beta")]
    assert writes(graph)[0][2]["state"] == "enabledForReportingButNotEnforced"  # new policies start report-only
    assert result["changed"] is True and "warnings" not in result  # warned through module.warn instead
    [warning] = graph.last_module.warnings_seen
    assert "every-time sign-in frequency" in warning and "policy 'B'" in warning and warning.startswith("tenant ")


@pytest.mark.parametrize("text", ["1038: The policy contains preview features. Use the Canary endpoint (beta).",
                                  "This policy can only be managed through the beta endpoint."])
def test_a_v1_refusal_naming_beta_is_written_through_beta_and_says_what_it_saw(text):
    graph = transport([], faults={"v1_preview_refusal": text})
    result = ensure(graph, display_name="B", conditions={"users": {"include_users": ["svc@x"]},
                                                         "applications": {"include_applications": ["All"]}},
                    grant_controls={"built_in_controls": ["mfa"]})
    assert [(s[0], s[3]) for s in writes(graph)] == [("POST", "v1.0"), ("POST", "beta")]
    assert writes(graph)[0][2] == writes(graph)[1][2] and result["changed"] is True
    [warning] = graph.last_module.warnings_seen
    assert text in warning and "/beta" in warning


def test_other_graph_errors_are_not_retried_on_beta():
    def refuse(graph, method, path, body):
        if method == "PATCH":
            raise GraphFailure(400, "BadRequest", "1040: NamedLocation with id x does not exist.")
    graph = transport([POLICY])
    graph.hooks.append(refuse)
    with pytest.raises(GraphError):
        ensure(graph, display_name="P", description="d")
    assert [s[3] for s in writes(graph)] == ["v1.0"]


NAMED = dict(copy.deepcopy(POLICY), id="aaaaaaaa-0000-4000-8000-0000000000b2", displayName="CA001-Global-BaseProtection-AllApps-AnyPlatform-MFA")


def test_naming_convention_is_checked_when_nothing_changes():
    """An unchanged policy whose name contradicts it fails with naming_convention=microsoft, and nothing is written."""
    wrong = dict(copy.deepcopy(NAMED), displayName="CA001-Global-BaseProtection-AllApps-AnyPlatform-Block")
    graph = transport([wrong])
    with pytest.raises(InvalidOption, match="GrantControl part Block") as err:
        ensure(graph, display_name=wrong["displayName"], naming_convention="microsoft")
    assert err.value.option == "display_name" and writes(graph) == []
    # an unchanged task that repeats what the policy has is checked too
    with pytest.raises(InvalidOption, match="GrantControl part Block"):
        ensure(graph, display_name=wrong["displayName"], naming_convention="microsoft",
               grant_controls={"built_in_controls": ["mfa"]})
    assert writes(graph) == []
    # by id, the policy's own name is checked
    with pytest.raises(InvalidOption, match="GrantControl part Block"):
        ensure(graph, id=NAMED["id"], naming_convention="microsoft")
    # without the convention, the same task is a no-op
    assert ensure(graph, display_name=wrong["displayName"])["changed"] is False


def test_naming_convention_passes_an_unchanged_policy_that_follows_it():
    graph = transport([NAMED])
    result = ensure(graph, display_name=NAMED["displayName"], naming_convention="microsoft",
                    grant_controls={"built_in_controls": ["mfa"]})
    assert result["changed"] is False and writes(graph) == []


def test_naming_convention_leaves_microsoft_managed_policies_alone():
    """Microsoft names its managed policies: a play-wide naming_convention still lets a task turn one off."""
    mmp = dict(copy.deepcopy(POLICY), id="m1", displayName="Microsoft-managed: MFA for admins")
    graph = transport([mmp])
    result = ensure(graph, display_name=mmp["displayName"], naming_convention="microsoft", policy_state="disabled")
    assert result["changed"] is True
    assert [(m, body) for m, _path, body, _v in writes(graph)] == [("PATCH", {"state": "disabled"})]
    # the MSP's own policies are still held to the framework
    with pytest.raises(InvalidOption):
        ensure(graph, display_name="Block legacy auth", naming_convention="microsoft", policy_state="disabled")


def test_managed_policy_with_other_casing_is_refused_delete_and_changes():
    mmp = dict(copy.deepcopy(POLICY), id="m1", displayName="microsoft-managed: MFA for admins")
    graph = transport([mmp])
    with pytest.raises(InvalidOption, match="cannot be deleted"):
        ensure(graph, display_name=mmp["displayName"], state="absent")
    with pytest.raises(InvalidOption, match="Clone it under a new name"):
        ensure(graph, display_name=mmp["displayName"], grant_controls={"built_in_controls": ["compliant_device"]})
    assert writes(graph) == []


SECURE = dict(copy.deepcopy(POLICY), id="s1", displayName="S",
              sessionControls={"signInFrequency": {"isEnabled": True, "frequencyInterval": "timeBased", "type": "hours",
                                                   "value": 4, "authenticationType": "primaryAndSecondaryAuthentication"},
                               "secureSignInSession": {"isEnabled": True}})


def test_secure_sign_in_session_survives_reapplying_its_export_and_can_be_set():
    graph = transport([SECURE])
    options = policy_options(SECURE, Policies(graph.module(ARGUMENT_SPEC, display_name="S")).resolver)  # the ca_policy_info export
    assert options["session_controls"]["secure_sign_in_session"] == {"is_enabled": True}
    again = ensure(graph, display_name="S", session_controls=options["session_controls"],
                   grant_controls=options["grant_controls"], conditions=options["conditions"])
    assert again["changed"] is False and writes(graph) == []

    graph = transport([POLICY])
    result = ensure(graph, display_name="P", session_controls={"secure_sign_in_session": {"is_enabled": True}})
    [(method, _, body, _)] = writes(graph)
    assert method == "PATCH" and body == {"sessionControls": {"secureSignInSession": {"isEnabled": True}}}
    assert result["policy"]["sessionControls"] == {"secureSignInSession": {"isEnabled": True}}
    assert result["diff"]["after"]["session_controls"] == {"secure_sign_in_session": {"is_enabled": True}}


def test_an_id_that_does_not_exist_with_an_existing_name_is_an_error_not_a_duplicate():
    graph = transport([POLICY])
    with pytest.raises(InvalidOption, match="has id p1") as err:
        ensure(graph, id="aaaaaaaa-0000-4000-8000-00000000dead", display_name=" p ", description="d")
    assert err.value.option == "id" and writes(graph) == []


@pytest.mark.parametrize("strength, message", [
    ("strong please", "not a built-in strength"),
    ("aaaaaaaa-0000-4000-8000-00000000dead", "not a built-in strength"),
    ("Contoso FIDO", None),
])
def test_authentication_strength_must_be_built_in_or_exist(strength, message):
    custom = {"id": "aaaaaaaa-0000-4000-8000-0000000f1d00", "displayName": "Contoso FIDO", "policyType": "custom"}
    graph = transport([POLICY], authenticationStrengthPolicies=[custom])
    if message is None:  # an existing custom strength, by name
        result = ensure(graph, display_name="P", grant_controls={"authentication_strength": "contoso fido"})
        assert result["policy"]["grantControls"]["authenticationStrength"]["id"] == custom["id"]
        assert result["diff"]["after"]["grant_controls"]["authentication_strength"] == "Contoso FIDO"
        return
    with pytest.raises(InvalidOption, match=message) as err:
        ensure(graph, display_name="P", grant_controls={"authentication_strength": strength})
    assert err.value.option == "grant_controls.authentication_strength" and writes(graph) == []
    assert ensure(graph, display_name="P", grant_controls={"authentication_strength": "phishing_resistant_mfa"})[
        "policy"]["grantControls"]["authenticationStrength"]["id"] == "00000000-0000-0000-0000-000000000004"


def test_display_names_match_like_graphs_eq_and_two_matches_name_both_ids():
    graph = transport([POLICY, dict(copy.deepcopy(POLICY), id="p9", displayName="p")])
    with pytest.raises(InvalidOption, match="p1, p9") as err:
        ensure(graph, display_name="P", description="d")
    assert err.value.option == "display_name" and writes(graph) == []
    graph = transport([POLICY])
    assert ensure(graph, display_name="  p", description="d")["changed"] is True  # the same policy, not a new one
    assert [w[0] for w in writes(graph)] == ["PATCH"]
