"""The three implementations of the Part D merge agree: bench/oracle.py (what the fault tests and the bench
expect), the collection's planner, and the Jinja of the hand-written baseline (bench/baseline/).

No sandbox needed: the baseline's template runs in a real ansible-playbook on the shapes of graph-ca.md §3.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import yaml

from bench import oracle
from conftest import REPO, ansible_env

MSP = "aaaaaaaa-0000-4000-8000-000000000001"
OTHER = "bbbbbbbb-0000-4000-8000-000000000002"
ENUM = oracle.ENUMERATED


def policy(n, **users_kw):
    users = {"includeUsers": ["All"], "excludeUsers": ["0c1d2e3f-0000-4000-8000-00000000bb01"], "includeGroups": [],
             "excludeGroups": [], "includeRoles": [], "excludeRoles": [], "includeGuestsOrExternalUsers": None,
             "excludeGuestsOrExternalUsers": None}
    users.update(users_kw)
    return {"id": "00000000-0000-4000-8000-%012d" % n, "displayName": "P%d" % n, "state": "enabled",
            "conditions": {"users": users}}


def enumerated(*members):
    return {"@odata.type": ENUM, "membershipKind": "enumerated", "members": list(members)}


# (policy, expected excludeGuestsOrExternalUsers after the run; "same" = untouched)
CASES = [
    (policy(1), {"guestOrExternalUserTypes": "serviceProvider", "externalTenants": enumerated(MSP)}),
    (policy(2, excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "serviceProvider",
                                             "externalTenants": enumerated(MSP.upper())}), "same"),
    (policy(3, excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "internalGuest,b2bCollaborationGuest",
                                             "externalTenants": {"membershipKind": "all"}}),
     {"guestOrExternalUserTypes": "internalGuest,b2bCollaborationGuest,serviceProvider",
      "externalTenants": {"membershipKind": "all"}}),
    (policy(4, excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "b2bCollaborationGuest",
                                             "externalTenants": enumerated(OTHER)}),
     {"guestOrExternalUserTypes": "b2bCollaborationGuest,serviceProvider", "externalTenants": enumerated(OTHER, MSP)}),
    (policy(5, excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "b2bCollaborationGuest",
                                             "externalTenants": None}),
     {"guestOrExternalUserTypes": "b2bCollaborationGuest,serviceProvider", "externalTenants": enumerated(MSP)}),
    # a serviceProvider exclusion without a tenant list is completed with the MSP, not counted as done (issue 10)
    (policy(13, excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "serviceProvider"}),
     {"guestOrExternalUserTypes": "serviceProvider", "externalTenants": enumerated(MSP)}),
    (policy(6, excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "internalGuest"}),
     {"guestOrExternalUserTypes": "internalGuest,serviceProvider", "externalTenants": enumerated(MSP)}),
    (policy(7, includeUsers=[], includeGroups=["6b6b6b6b-0000-4000-8000-0000000000bb"]), "same"),
    (policy(8, includeUsers=[], includeRoles=["62e90394-69f5-4237-9190-012177145e10"]),
     {"guestOrExternalUserTypes": "serviceProvider", "externalTenants": enumerated(MSP)}),
    (policy(9, includeUsers=[], includeGuestsOrExternalUsers={"guestOrExternalUserTypes": "b2bCollaborationGuest",
                                                              "externalTenants": {"membershipKind": "all"}}),
     {"guestOrExternalUserTypes": "serviceProvider", "externalTenants": enumerated(MSP)}),
    (policy(10, excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "serviceProvider",
                                              "externalTenants": enumerated(OTHER)}),
     {"guestOrExternalUserTypes": "serviceProvider", "externalTenants": enumerated(OTHER, MSP)}),
    (policy(11, excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "none"}),
     {"guestOrExternalUserTypes": "serviceProvider", "externalTenants": enumerated(MSP)}),
    (policy(12, excludeGuestsOrExternalUsers={"guestOrExternalUserTypes": "otherExternalUser,serviceProvider",
                                              "externalTenants": {"membershipKind": "all"}}), "same"),
]


def expected(case):
    before, guests = case
    if guests == "same":
        return before
    after = copy.deepcopy(before)
    after["conditions"]["users"]["excludeGuestsOrExternalUsers"] = guests
    return after


@pytest.mark.parametrize("case", CASES, ids=[c[0]["displayName"] for c in CASES])
def test_oracle_matches_graph_ca_section_3(case):
    got = oracle.expected_policy(case[0], MSP)
    assert oracle.canonical_policy(got) == oracle.canonical_policy(expected(case))
    assert oracle.lost_exclusions([case[0]], [got]) == []


@pytest.mark.parametrize("case", CASES, ids=[c[0]["displayName"] for c in CASES])
def test_collection_planner_agrees_with_the_oracle(case):
    from ansible_collections.msp.conditional_access.plugins.module_utils._exclusion import Planner

    plan = Planner(MSP).plan_one(case[0], [c[0] for c in CASES])
    got = case[0] if plan.users is None else dict(copy.deepcopy(case[0]), conditions={"users": plan.users})
    assert oracle.canonical_policy(got) == oracle.canonical_policy(expected(case))


def test_baseline_jinja_agrees_with_the_oracle(tmp_path):
    play = yaml.safe_load((REPO / "bench" / "baseline" / "client_tenants_uri.yml").read_text())[0]
    template = next(t for t in play["tasks"] if "ansible.builtin.set_fact" in t)["ansible.builtin.set_fact"]
    policies = [c[0] for c in CASES]
    out = tmp_path / "changes.json"
    playbook = [{"hosts": "localhost", "gather_facts": False,
                 "vars": {"listed": {"json": {"value": policies}}, "msp_tenant_id": MSP},
                 "tasks": [{"ansible.builtin.set_fact": template},
                           {"ansible.builtin.copy": {"content": "{{ baseline_changes | to_json }}", "dest": str(out)}}]}]
    path = tmp_path / "playbook.yml"
    path.write_text(yaml.safe_dump(playbook))
    env = ansible_env({"ANSIBLE_PYTHON_INTERPRETER": sys.executable})
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    proc = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           str(path)], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    changes = {c["id"]: c["users"] for c in json.loads(out.read_text())}
    for case in CASES:
        before = case[0]
        want = expected(case)
        if want is before:
            assert before["id"] not in changes, "the baseline would PATCH %s needlessly" % before["displayName"]
            continue
        assert before["id"] in changes, "the baseline misses %s" % before["displayName"]
        got = dict(copy.deepcopy(before), conditions={"users": changes[before["id"]]})
        assert oracle.canonical_policy(got) == oracle.canonical_policy(want), before["displayName"]
