"""The action plugins run the modules inside Ansible's worker process (plugins/plugin_utils/_in_process.py).

What users see must not change: the same results, diff, warnings, failures and no_log as the module
process gives (the module path is still there: ``msp_conditional_access_in_process: false``, a task
delegated to another host). The tasks of one play sign in to a tenant once, and no token reaches the disk.
"""

import re

from conftest import ansible_env, msp_tenant_id, run_ansible_playbook

CLIENT = "22222222-2222-4222-8222-222222222222"     # Fabrikam in the demo fixture
DENIED = "44444444-4444-4444-8444-444444444444"     # Tailspin Toys: every Graph call 403 here
IN_PROCESS = "running in the controller's worker process"
JWT = re.compile(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}")
VOLATILE = ("invocation", "_ansible_delegated_vars")


def inventory(tmp_path, **host_vars):
    path = tmp_path / "inventory.ini"
    lines = ["[clients]", "client_a tenant=%s" % CLIENT, "elsewhere"]
    lines += ["[clients:vars]", "ansible_connection=local"]
    lines += ["%s=%s" % item for item in host_vars.items()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def stable(result):
    return {k: v for k, v in result.items() if k not in VOLATILE}


def logins(sandbox, tenant, since):
    return [e for e in sandbox.client.log(tenant=tenant, since=since)
            if e["api"] == "login" and e["path"].endswith("/token")]


def last_seq(sandbox):
    return max((e["seq"] for e in sandbox.client.log()), default=0)


PARITY = """
- hosts: client_a
  gather_facts: false
  tasks:
    - name: exclusion
      msp.conditional_access.ca_client_exclusion:
        tenant_id: "{{ tenant }}"
        msp_tenant_id: %(msp)s
        msp_tenant_name: Contoso MSP
    - name: bad choice
      msp.conditional_access.ca_client_exclusion:
        tenant_id: "{{ tenant }}"
        msp_tenant_id: %(msp)s
        scope: everything
      ignore_errors: true
    - name: tenant info
      msp.conditional_access.ca_tenant_info:
        tenant_id: %(denied)s
      ignore_errors: true
"""


def test_in_process_results_match_the_module_process(sandbox_reset, run_playbook, tmp_path):
    """Check mode with diff, an argument-spec failure and a task with warnings (403 sections): the in-process
    results are the module process's, key for key; the secret is in neither output."""
    sandbox = sandbox_reset
    sandbox.client.set_faults(tenant=DENIED, forbidden=True)
    play = PARITY % {"msp": msp_tenant_id(), "denied": DENIED}
    runs = {}
    for switch in ("true", "false"):
        seq = last_seq(sandbox)
        out = run_playbook(play, check=True, diff=True, args=["-vvv"],
                           inventory=inventory(tmp_path, msp_conditional_access_in_process=switch))
        runs[switch] = out
        assert (IN_PROCESS in out.stdout) == (switch == "true"), out.stdout[-2000:]
        assert not [e for e in sandbox.client.log(since=seq) if e.get("write")]
        assert sandbox.env["AZURE_CLIENT_SECRET"] not in out.stdout + out.stderr
    fast, module = runs["true"], runs["false"]
    for task in ("exclusion", "bad choice", "tenant info"):
        assert stable(fast.task(task, host="client_a")) == stable(module.task(task, host="client_a")), task
        assert fast.status(task, host="client_a") == module.status(task, host="client_a"), task
    assert "scope" in fast.task("bad choice", host="client_a")["msg"]
    assert fast.task("tenant info", host="client_a").get("warnings"), "the 403 sections warn"
    invocation = fast.task("exclusion", host="client_a")["invocation"]["module_args"]
    assert invocation["client_secret"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert invocation == module.task("exclusion", host="client_a")["invocation"]["module_args"]


DELEGATED = """
- hosts: client_a
  gather_facts: false
  tasks:
    - name: here
      msp.conditional_access.ca_client_exclusion_info:
        tenant_id: "{{ tenant }}"
        msp_tenant_id: %(msp)s
    - name: delegated
      msp.conditional_access.ca_client_exclusion_info:
        tenant_id: "{{ tenant }}"
        msp_tenant_id: %(msp)s
      delegate_to: elsewhere
"""


def test_a_task_delegated_to_another_host_runs_the_module(sandbox_reset, run_playbook, tmp_path):
    out = run_playbook(DELEGATED % {"msp": msp_tenant_id()}, args=["-vvv"], inventory=inventory(tmp_path))
    assert out.rc == 0, out.stdout[-3000:]
    assert "running the module (delegated to elsewhere)" in out.stdout
    assert re.search(r"Using module file \S+/plugins/modules/ca_client_exclusion_info\.py", out.stdout)
    assert out.stdout.count(IN_PROCESS) == 1
    assert stable(out.task("delegated", host="client_a")) == stable(out.task("here", host="client_a"))


SIGN_IN = """
- hosts: client_a
  gather_facts: false
  module_defaults:
    group/msp.conditional_access.graph:
      tenant_id: "{{ tenant }}"
  tasks:
    - msp.conditional_access.ca_tenant_info:
    - msp.conditional_access.ca_policy_info:
    - msp.conditional_access.ca_named_location_info:
    - msp.conditional_access.ca_client_exclusion_info:
        msp_tenant_id: %(msp)s
"""


def test_the_tasks_of_a_play_sign_in_once_and_write_no_token(sandbox_reset, tmp_path):
    sandbox = sandbox_reset
    play = SIGN_IN % {"msp": msp_tenant_id()}
    # every place Ansible or a library could write to is under tmp_path, which is scanned for tokens after
    scratch = {"HOME": "home", "TMPDIR": "tmp", "ANSIBLE_LOCAL_TEMP": "local", "ANSIBLE_REMOTE_TEMP": "remote"}
    env = ansible_env(sandbox.env)
    for name, sub in scratch.items():
        (tmp_path / sub).mkdir()
        env[name] = str(tmp_path / sub)
    signed_in = {}
    for switch in ("true", "false"):
        seq = last_seq(sandbox)
        out = run_ansible_playbook(play, env, inventory=inventory(tmp_path, msp_conditional_access_in_process=switch))
        assert out.rc == 0, out.stdout[-3000:]
        signed_in[switch] = len(logins(sandbox, CLIENT, seq))
    assert signed_in == {"true": 1, "false": 4}
    scanned = 0
    for path in tmp_path.rglob("*"):
        if path.is_file():
            scanned += 1
            assert not JWT.search(path.read_text(errors="replace")), path
    assert scanned, "Ansible wrote nothing under the scratch directories: the scan proves nothing"
