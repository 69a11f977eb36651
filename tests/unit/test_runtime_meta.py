"""meta/runtime.yml's action groups must list every module, so module_defaults reaches all of them."""

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
# Modules that talk to no tenant take no auth options, so module_defaults has nothing to give them.
CONTROLLER_ONLY = {"check_role_inputs"}


def test_every_module_is_in_exactly_one_action_group():
    groups = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())["action_groups"]
    modules = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if p.stem != "__init__" and p.stem not in CONTROLLER_ONLY)
    grouped = sorted(m for members in groups.values() for m in (members or []))
    assert grouped == modules


def test_cipp_modules_are_in_the_cipp_group_and_graph_modules_in_graph():
    groups = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())["action_groups"]
    assert all(m.startswith("cipp_") for m in groups.get("cipp") or [])
    assert not any(m.startswith("cipp_") for m in groups["graph"])


def test_controller_only_modules_take_no_auth_options():
    for name in CONTROLLER_ONLY:
        text = (REPO / "plugins" / "modules" / (name + ".py")).read_text()
        assert "msp.conditional_access.graph" not in text and "msp.conditional_access.cipp" not in text
        assert (REPO / "plugins" / "action" / (name + ".py")).exists()
