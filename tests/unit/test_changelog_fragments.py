"""Changelog fragments parse and use only the sections changelogs/config.yaml declares.

ansible-test's yamllint would catch a broken fragment too, but only at the very end of the suite.
"""
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "changelogs" / "config.yaml").read_text())
SECTIONS = {name for name, _title in CONFIG["sections"]} | {CONFIG["trivial_section_name"],
                                                             CONFIG["prelude_section_name"]}
FRAGMENTS = sorted((ROOT / "changelogs" / "fragments").glob("*.y*ml"))


def test_there_are_fragments():
    assert FRAGMENTS


@pytest.mark.parametrize("fragment", FRAGMENTS, ids=lambda p: p.name)
def test_fragment_is_valid(fragment):
    content = yaml.safe_load(fragment.read_text())
    assert isinstance(content, dict) and content, f"{fragment.name} is not a mapping of sections"
    assert set(content) <= SECTIONS, f"{fragment.name}: unknown sections {set(content) - SECTIONS}"
    for section, entries in content.items():
        if section == CONFIG["prelude_section_name"]:
            assert isinstance(entries, str)
            continue
        assert isinstance(entries, list) and entries, f"{fragment.name}: {section} must be a list"
        assert all(isinstance(entry, str) and entry.strip() for entry in entries), \
            f"{fragment.name}: {section} entries must be non-empty strings"
