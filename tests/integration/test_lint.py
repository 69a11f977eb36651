"""Plain `ansible-lint` from the repository root passes: the shipped .ansible-lint is the whole configuration."""

from __future__ import annotations

import os
import subprocess

import yaml

from conftest import BIN, REPO


def test_plain_ansible_lint_passes_with_the_shipped_config():
    config = yaml.safe_load((REPO / ".ansible-lint").read_text())
    assert config["profile"] == "production"
    # the collection's content is linted, not excluded
    assert not {"roles/", "playbooks/", "plugins/", "inventories/", "awx/"} & set(config["exclude_paths"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update({"PATH": str(BIN) + os.pathsep + os.environ.get("PATH", ""), "NO_COLOR": "1"})
    proc = subprocess.run([str(BIN / "ansible-lint")], cwd=str(REPO), env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert "passed" in proc.stderr or "passed" in proc.stdout
