"""Fixtures of the adversarial suite: one sandbox for all cases, and the table written at the end."""

from __future__ import annotations

import pytest

from .harness import REPO, write_table


@pytest.fixture(scope="session")
def outcomes():
    """Every case's Outcome; build/adversarial/table.md is written from them when the session ends."""
    collected = []
    yield collected
    if collected:
        path = write_table(collected)
        print("\nadversarial table: %s" % path)


@pytest.fixture(scope="session")
def module_env(sandbox):
    """The environment a module case starts from: the sandbox's endpoints, CA bundle and app credentials. The
    sandbox is shared with the suites before this one, which leave it on their own fixtures: start from the demo's."""
    sandbox.client.reset(fixture=str(REPO / "sandbox" / "fixtures" / "demo.json"))
    return dict(sandbox.env)
