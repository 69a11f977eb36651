"""The README's install path, as a new user follows it: build the collection, install it with ansible-galaxy into an
empty collections path, and run it from a directory outside the clone with a hand-written inventory.

Nothing here uses the tests' collection link (build/collections), ANSIBLE_* settings or the repository's
ansible.cfg: HOME is a fresh directory (so ~/.ansible/collections starts empty), the environment carries only
what the sandbox's env.sh exports and PATH, and the inventory has no ansible_connection or
ansible_python_interpreter - the playbooks run on the controller by themselves.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from conftest import BIN, REPO

VERSION = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]

# what a user writes by hand: tenants, and only the variables README step 3 asks for
HAND_WRITTEN_INVENTORY = """\
msp:
  hosts:
    contoso-msp:
      tenant_id: 11111111-1111-4111-8111-111111111111
clients:
  hosts:
    fabrikam:
      tenant_id: 22222222-2222-4222-8222-222222222222
    northwind:
      tenant_id: 33333333-3333-4333-8333-333333333333
      access_mode: direct
      cipp_service_account: cipp-direct@northwind.onmicrosoft.com
"""


def user_env(sandbox, home):
    """A shell that ran `source .sandbox/env.sh` and put the venv on PATH - and nothing else of ours."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANSIBLE_", "MSP_CA_")) and k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env.update(sandbox.env)
    env.update({"HOME": str(home), "PATH": str(BIN) + os.pathsep + os.environ.get("PATH", ""), "NO_COLOR": "1"})
    return env


def sh(cmd, cwd, env, timeout=600):
    proc = subprocess.run(cmd, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, "%s\n%s\n%s" % (cmd, proc.stdout[-4000:], proc.stderr[-4000:])
    return proc


def copy_clone(target):
    """A fresh clone's files at ``target``: the committed tree plus this worktree's changes, without build/ or .venv."""
    shutil.copytree(REPO, target, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", ".venv", "build", ".sandbox", ".ansible", "__pycache__",
                                                  ".pytest_cache", "*.tar.gz", "output"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """README "Install": build the tarball in a copy of the clone, install it from requirements.yml."""
    base = tmp_path_factory.mktemp("install")
    home = base / "home"
    home.mkdir()
    clone = base / "clone"
    copy_clone(clone)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update({"HOME": str(home), "PATH": str(BIN) + os.pathsep + os.environ.get("PATH", "")})
    collections = home / ".ansible" / "collections"
    assert not collections.exists()
    sh([str(BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path", "build/"], clone, env)
    proc = sh([str(BIN / "ansible-galaxy"), "collection", "install", "-r", "requirements.yml", "-p", str(collections)],
              clone, env)
    assert "msp.conditional_access:%s was installed successfully" % VERSION in proc.stdout, proc.stdout
    return {"home": home, "collections": collections, "clone": clone}


def test_requirements_yml_names_the_tarball_that_build_writes():
    entry = yaml.safe_load((REPO / "requirements.yml").read_text())["collections"][0]
    assert entry == {"name": "build/msp-conditional_access-%s.tar.gz" % VERSION, "type": "file"}


def test_no_placeholder_urls_in_what_users_copy():
    """galaxy.yml, requirements files, the example inventory and the EE definition name no made-up host."""
    files = [REPO / "galaxy.yml", REPO / "requirements.yml", REPO / "execution-environment.yml",
             REPO / "awx" / "project" / "collections" / "requirements.yml",
             *(REPO / "inventories" / "example").rglob("*.yml")]
    for path in files:
        text = path.read_text()
        assert not re.search(r"https?://[^\s\"']*example\.(invalid|com|org)", text), path


def test_installed_collection_is_a_real_copy(installed):
    root = installed["collections"] / "ansible_collections" / "msp" / "conditional_access"
    assert root.is_dir() and not root.is_symlink()
    manifest = json.loads((root / "MANIFEST.json").read_text())
    assert manifest["collection_info"]["version"] == VERSION
    shipped = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert "playbooks/site.yml" in shipped and "roles/client_exclusion/tasks/main.yml" in shipped
    assert "plugins/action/check_role_inputs.py" in shipped
    assert not [p for p in shipped if p.startswith(("sandbox/", "tests/unit/", "bench/", ".venv/"))], shipped


def test_install_straight_from_git(tmp_path):
    """README: `ansible-galaxy collection install "git+file://$PWD"` - from a git repository holding this tree
    (committed there, so uncommitted changes count), into an empty collections path, playbooks and roles included."""
    repo = tmp_path / "repo"
    copy_clone(repo)
    git = ["git", "-c", "user.email=ci@localhost", "-c", "user.name=ci"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update({"HOME": str(tmp_path), "PATH": str(BIN) + os.pathsep + os.environ.get("PATH", "")})
    sh(git + ["init", "-q", "."], repo, env)
    sh(git + ["add", "-A"], repo, env)
    sh(git + ["commit", "-qm", "tree under test"], repo, env)
    collections = tmp_path / "collections"
    proc = sh([str(BIN / "ansible-galaxy"), "collection", "install", "git+file://%s" % repo, "-p", str(collections)],
              tmp_path, env)
    assert "msp.conditional_access:%s was installed successfully" % VERSION in proc.stdout, proc.stdout
    root = collections / "ansible_collections" / "msp" / "conditional_access"
    assert (root / "playbooks" / "site.yml").is_file() and (root / "plugins" / "action" / "ca_policy.py").is_file()
    assert not (root / "sandbox").exists() and not (root / "tests" / "unit").exists()
    listed = sh([str(BIN / "ansible-doc"), "-t", "role", "-l", "msp.conditional_access"], tmp_path,
                dict(env, ANSIBLE_COLLECTIONS_PATH=str(collections)))
    assert "client_exclusion" in listed.stdout and "technician_access" in listed.stdout, listed.stdout


def test_site_check_mode_from_outside_the_repository(installed, sandbox_reset, tmp_path):
    """README "Try it on the sandbox": a directory of the user's own, the example group_vars, a hand-written
    hosts file without ansible_python_interpreter, `ansible-playbook msp.conditional_access.site --check --diff`."""
    sandbox = sandbox_reset
    work = tmp_path / "msp-ca"
    shutil.copytree(REPO / "inventories" / "sandbox", work / "inventory")
    (work / "inventory" / "hosts.yml").write_text(HAND_WRITTEN_INVENTORY)
    assert "ansible_python_interpreter" not in HAND_WRITTEN_INVENTORY
    env = user_env(sandbox, installed["home"])
    before = sum(sandbox.client.counters()["writes"].values())

    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "inventory", "msp.conditional_access.site",
                           "--check", "--diff"], cwd=str(work), env=env, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert "deserialization failed" not in out.lower()
    recap = dict(re.findall(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", proc.stdout, re.M))
    assert set(recap) == {"contoso-msp", "fabrikam", "northwind"}, proc.stdout[-3000:]
    assert int(recap["contoso-msp"]) > 0 and int(recap["fabrikam"]) > 0  # it predicted the work ...
    assert sum(sandbox.client.counters()["writes"].values()) == before  # ... and wrote nothing
    # the installed copy ran, not this clone
    assert str(REPO / "plugins") not in out
    assert not (work / "collections").exists()


def test_awx_project_installs_the_collection_the_way_awx_syncs_it(installed, tmp_path):
    """AWX's project sync: `ansible-galaxy collection install -r collections/requirements.yml` in the project root
    (awx/playbooks/project_update.yml runs ansible-galaxy with chdir to the project), into an empty path."""
    project = tmp_path / "project"
    shutil.copytree(REPO / "awx" / "project", project)
    name = yaml.safe_load((project / "collections" / "requirements.yml").read_text())["collections"][0]["name"]
    shutil.copy(installed["clone"] / "build" / ("msp-conditional_access-%s.tar.gz" % VERSION), project / name)
    target = tmp_path / "requirements_collections"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    (tmp_path / "awx-home").mkdir()  # an execution node that has no copy of the collection yet
    env.update({"HOME": str(tmp_path / "awx-home"), "PATH": str(BIN) + os.pathsep + os.environ.get("PATH", "")})
    proc = sh([str(BIN / "ansible-galaxy"), "collection", "install", "-r", "collections/requirements.yml", "-p",
               str(target)], project, env)
    assert (target / "ansible_collections" / "msp" / "conditional_access" / "playbooks" / "site.yml").exists(), \
        proc.stdout


def test_the_readme_gives_exactly_these_steps():
    """The commands the tests above run are the README's own, so the README cannot drift from what is tested."""
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Using it against real tenants"):readme.index("### 4.")]
    for line in ("pip install -r requirements.txt",
                 "ansible-galaxy collection build --force --output-path build/",
                 "ansible-galaxy collection install -r requirements.yml -p ~/.ansible/collections",
                 "cp -r inventories/example ~/msp-ca/inventory && cd ~/msp-ca",
                 "--fixture sandbox/fixtures/demo.json --port 0 --state-dir .sandbox",
                 'source "$CLONE/.sandbox/env.sh"',
                 'ansible-playbook -i "$CLONE/inventories/sandbox" msp.conditional_access.site --check --diff'):
        assert line in section, line
    assert "ansible_python_interpreter" in section  # ... and says it is not needed
