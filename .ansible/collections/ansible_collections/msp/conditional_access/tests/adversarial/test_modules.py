"""Every module, fed bad input in-process against the sandbox: a clean error naming the option, nothing written."""

from __future__ import annotations

import pytest

from .harness import run_module_case
from .module_cases import all_cases

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_cleanly_before_any_write(case, sandbox, module_env, outcomes):
    outcome = run_module_case(case, sandbox, module_env)
    outcomes.append(outcome)
    assert outcome.clean and not outcome.writes, "%s: %s\nmessage: %s" % (case.id, outcome.problems, outcome.message)


def test_there_are_enough_cases():
    assert len(CASES) >= 150
