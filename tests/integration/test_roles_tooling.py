"""The roles' packaging for AWX/AAP: ansible-runner, the EE definition, the credential type (ansible-lint: test_lint.py)."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import yaml

from conftest import BIN, COLLECTIONS, REPO, ansible_env

def test_credential_type_injects_exactly_the_modules_fallbacks():
    """Every variable the AWX credential injects is one the modules read, and every template names an input."""
    from ansible_collections.msp.conditional_access.plugins.module_utils._auth import AUTH_ARGUMENT_SPEC

    ctype = yaml.safe_load((REPO / "awx" / "credential_type.yml").read_text())
    fallbacks = {name for spec in AUTH_ARGUMENT_SPEC.values() for name in (spec.get("fallback") or (None, []))[1]}
    fallbacks.add("CIPP_API_URL")  # the CIPP modules' cipp_api_url
    injected = set(ctype["injectors"]["env"])
    assert injected <= fallbacks, injected - fallbacks
    assert {"AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "CIPP_API_URL"} <= injected
    fields = {f["id"] for f in ctype["inputs"]["fields"]}
    templates = list(ctype["injectors"]["env"].values()) + list(ctype["injectors"].get("file", {}).values())
    used = {name for text in templates for name in re.findall(r"\b([a-z_]+)\b", re.sub(r"tower\.filename\.\w+", "", text))
            if name not in {"if", "endif", "else"}}
    assert used <= fields, used - fields
    secrets = {f["id"] for f in ctype["inputs"]["fields"] if f.get("secret")}
    assert {"client_secret", "client_certificate", "client_certificate_password"} <= secrets
    assert json.loads((REPO / "awx" / "credential_type.json").read_text()) == {
        "inputs": ctype["inputs"], "injectors": ctype["injectors"]}


def _third_party_modules():
    """Dotted names imported by the collection's plugins whose top level is neither stdlib nor ansible
    (``from azure import identity`` gives ``azure.identity``)."""
    names = set()
    for path in (REPO / "plugins").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.update("%s.%s" % (node.module, alias.name) for alias in node.names)
    return sorted(n for n in names if n.split(".")[0] not in sys.stdlib_module_names
                  and n.split(".")[0] not in {"ansible", "ansible_collections", "__future__"})


def _third_party_imports():
    """Top-level names imported by the collection's plugins that are neither stdlib nor ansible."""
    return sorted({n.split(".")[0] for n in _third_party_modules()})


def _ee_pip_packages():
    """ansible-core and ansible-runner exactly as execution-environment.yml asks ansible-builder for them."""
    deps = yaml.safe_load((REPO / "execution-environment.yml").read_text())["dependencies"]
    return [deps["ansible_core"]["package_pip"], deps["ansible_runner"]["package_pip"]]


# Which requirement line provides which of the plugins' imports, asked of the clean venv itself: a distribution
# serves a dotted name when it holds the module (``a/b.py``) or the regular package (``a/b/__init__.py``) of one of
# its prefixes, so the namespace ``azure`` alone counts for neither azure-core nor azure-identity.
_SERVED = """
import importlib.metadata as md, json, sys
wanted, modules = json.loads(sys.argv[1]), json.loads(sys.argv[2])
out = {}
for name in wanted:
    files = {str(f).replace(chr(92), "/") for f in (md.distribution(name).files or [])}
    out[name] = sorted(m for m in modules if any(
        p + ".py" in files or p + "/__init__.py" in files
        for p in ("/".join(m.split(".")[:i]) for i in range(1, len(m.split(".")) + 1))))
print(json.dumps(out))
"""


def test_ee_requirements_install_into_a_clean_venv(tmp_path):
    """meta/ee-requirements.txt with the EE's ansible-core and ansible-runner installs into a clean venv without
    conflicts, is enough for every import of plugins/, and lists nothing the plugins do not import."""
    target = tmp_path / "ee"
    venv.EnvBuilder(with_pip=True).create(target)
    python = target / "bin" / "python"
    ansible_pins = _ee_pip_packages()
    assert ansible_pins[0].startswith("ansible-core") and ansible_pins[1].startswith("ansible-runner"), ansible_pins
    # one resolver run for all of them, as ansible-builder's single pip install does: a pin in ee-requirements.txt
    # that clashes with ansible-core/ansible-runner's own requirements fails here
    pip = subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(REPO / "meta" / "ee-requirements.txt"),
                          *ansible_pins], capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-3000:]
    check = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-2000:]
    version = subprocess.run([str(target / "bin" / "ansible-playbook"), "--version"], capture_output=True, text=True,
                             timeout=120)
    assert version.returncode == 0 and re.search(r"core 2\.(1[7-9])\.", version.stdout), version.stdout + version.stderr

    imports = _third_party_imports()
    assert "azure" in imports and "msgraph_core" in imports
    code = "import importlib\nfor n in %r:\n    importlib.import_module(n)\n" % (imports,)
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]

    # and nothing else slipped in: every requirement line is a distribution that provides a module the plugins import
    lines = [line.split("#")[0].strip() for line in (REPO / "meta" / "ee-requirements.txt").read_text().splitlines()]
    wanted = [re.match(r"[A-Za-z0-9._-]+", line).group(0) for line in lines if line]
    assert wanted, "meta/ee-requirements.txt lists nothing"
    served = subprocess.run([str(python), "-c", _SERVED, json.dumps(wanted), json.dumps(_third_party_modules())],
                            capture_output=True, text=True, timeout=60)
    assert served.returncode == 0, served.stderr[-3000:]
    unused = [name for name, modules in json.loads(served.stdout).items() if not modules]
    assert not unused, "in meta/ee-requirements.txt but imported nowhere in plugins/: %s" % unused


def test_ee_definition_builds_a_context(tmp_path):
    builder = BIN / "ansible-builder"
    if not builder.exists():
        pytest.fail("ansible-builder is not installed in .venv (pip install ansible-builder)")
    proc = subprocess.run([str(builder), "create", "-f", "execution-environment.yml", "--context", str(tmp_path / "ctx")],
                          cwd=str(REPO), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    build = tmp_path / "ctx" / "_build"
    assert (build / "requirements.txt").read_text().strip().endswith((REPO / "meta" / "ee-requirements.txt")
                                                                     .read_text().strip().splitlines()[-1])
    assert "ca-certificates" in (build / "bindep.txt").read_text()


def test_playbooks_run_through_ansible_runner_like_awx(sandbox_reset, tmp_path):
    """AWX's way: a private data dir with project/, inventory/, env/envvars (the credential's injectors), check job."""
    import ansible_runner

    sandbox = sandbox_reset
    data = tmp_path / "job"
    shutil.copytree(REPO / "awx" / "project", data / "project")
    shutil.copytree(REPO / "inventories" / "sandbox", data / "inventory")
    (data / "env").mkdir()
    envvars = dict(sandbox.env, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_NOCOLOR="1",
                   PATH=str(BIN) + os.pathsep + os.environ.get("PATH", ""))
    (data / "env" / "envvars").write_text(yaml.safe_dump(envvars))
    before = sum(sandbox.client.counters()["writes"].values())
    result = ansible_runner.run(private_data_dir=str(data), playbook="site.yml", cmdline="--check --diff",
                                quiet=True, timeout=600)
    stdout = result.stdout.read()
    assert result.status == "successful", stdout[-4000:]
    assert result.rc == 0
    stats = result.stats
    hosts = json.loads(subprocess.run([str(BIN / "ansible-inventory"), "-i", str(data / "inventory"), "--list"],
                                      env=ansible_env(), capture_output=True, text=True, check=True).stdout)
    assert set(stats["ok"]) == set(hosts["_meta"]["hostvars"]), stats
    assert not stats["failures"], stats
    assert sum(sandbox.client.counters()["writes"].values()) == before  # a check job writes nothing
    assert sum(stats["changed"].values()) > 0  # and still reports what it would do


def test_awx_job_templates_name_existing_playbooks_and_the_drift_job_fails_on_drift():
    data = yaml.safe_load((REPO / "awx" / "job_templates.yml").read_text())
    for template in data["job_templates"]:
        assert (REPO / "awx" / "project" / template["playbook"]).exists(), template
    drift = [t for t in data["job_templates"] if (t.get("extra_vars") or {}).get("fail_on_drift") is True]
    assert len(drift) == 1 and drift[0]["job_type"] == "check" and drift[0]["diff_mode"] is True, drift
    assert [s["unified_job_template"] for s in data["schedules"]] == [drift[0]["name"]]


def test_permissions_are_listed_once_and_linked_from_everywhere():
    """docs/permissions.md is the one table; the other documents link to it instead of keeping their own list."""
    table = (REPO / "docs" / "permissions.md").read_text()
    for permission in ("Policy.Read.All", "Policy.ReadWrite.ConditionalAccess", "Application.Read.All",
                       "User.Read.All", "GroupMember.Read.All", "Organization.Read.All"):
        assert "`%s`" % permission in table
    assert "adminconsent?client_id=" in table  # how to consent the app in a client tenant
    for doc in ("README.md", "docs/roles.md", "docs/awx.md"):
        text = (REPO / doc).read_text()
        assert "permissions.md" in text, doc
        assert "Policy.ReadWrite.ConditionalAccess" not in text, doc  # no second, diverging list
    ctype = yaml.safe_load((REPO / "awx" / "credential_type.yml").read_text())
    assert "docs/permissions.md" in json.dumps(ctype["inputs"])
