"""meta/runtime.yml's action groups must list every module, so module_defaults reaches all of them."""

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_every_module_is_in_exactly_one_action_group():
    groups = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())["action_groups"]
    modules = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
    grouped = sorted(m for members in groups.values() for m in (members or []))
    assert grouped == modules


def test_cipp_modules_are_in_the_cipp_group_and_graph_modules_in_graph():
    groups = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())["action_groups"]
    assert all(m.startswith("cipp_") for m in groups.get("cipp") or [])
    assert not any(m.startswith("cipp_") for m in groups["graph"])
