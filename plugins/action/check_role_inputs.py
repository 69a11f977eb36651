# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check a role's inputs against its meta/argument_specs.yml, naming the variable the user set.

Ansible's own role validation names the role variable (``technician_access_policy_state``) although the user
set the common one its default reads (``technician_policy_state``), and prints the whole argument spec with
every failure. This runs the same validator (ArgumentSpecValidator) one option at a time and reports each
error under the variable the value came from, without the spec.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.msp.conditional_access.plugins.plugin_utils._role_inputs import source_variables


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        role = self._task._role
        if role is None:
            raise AnsibleError("check_role_inputs runs inside a role (include_role tasks_from: inputs)")
        path = role._role_path
        spec = (self._loader.load_from_file(os.path.join(path, "meta", "argument_specs.yml"))
                ["argument_specs"]["main"].get("options") or {})
        defaults_file = os.path.join(path, "defaults", "main.yml")
        defaults = (self._loader.load_from_file(defaults_file) if os.path.exists(defaults_file) else None) or {}

        errors, failed = [], set()
        # the variables the user set first, then the role's own defaults that read them: a wrong common variable
        # (technician_policy_state) is reported once, under its own name, not again under the option it feeds
        for name in sorted(spec, key=lambda n: (n in defaults and task_vars.get(n) == defaults[n], n)):
            if name not in task_vars:
                continue
            raw = task_vars[name]
            from_default = name in defaults and raw == defaults[name]
            sources = source_variables(raw, set(task_vars)) if from_default else []
            if failed.intersection(sources):
                continue
            shown = " or ".join(s for s in sources if s not in defaults) or name
            try:
                value = self._templar.template(raw)
            except AnsibleError as exc:
                errors.append("%s: %s" % (shown, str(exc).splitlines()[0]))
                continue
            checked = ArgumentSpecValidator({name: spec[name]}).validate({name: value}, validate_role_argument_spec=True)
            if checked.error_messages:
                failed.add(name)
            errors.extend(msg.replace(name, shown) for msg in checked.error_messages)

        warnings = []
        if not errors:  # the rules read the variables the spec has just checked
            for rule in self._task.args.get("rules") or []:
                problem = self._broken(rule)
                if problem and rule.get("warn"):
                    warnings.append(problem)
                elif problem:
                    errors.append(problem)
        if warnings:
            result["warnings"] = warnings

        result["changed"] = False
        if errors:
            result["failed"] = True
            result["msg"] = "%s (role %s): %s. Nothing was written." % (
                task_vars.get("inventory_hostname", ""), role.get_name(include_role_fqcn=False), "; ".join(errors))
        else:
            result["msg"] = "%d inputs of %s are valid" % (len(spec), role.get_name(include_role_fqcn=False))
        return result

    def _broken(self, rule):
        """The rule's msg when it applies (``when``) and one of its ``that`` conditions is false, else None.

        A rule is what an ``assert`` task would say, as data: ``that`` and the optional ``when`` (a condition or a
        list of them, all of which must hold), and ``msg``; ``warn: true`` makes it a warning instead of an error."""
        if not isinstance(rule, dict) or "that" not in rule or "msg" not in rule:
            raise AnsibleError("check_role_inputs: every rule needs `that` and `msg`, got %r" % (rule,))

        def listed(value):
            return value if isinstance(value, list) else [value]

        if not all(self._holds(c) for c in listed(rule.get("when", []))):
            return None
        return None if all(self._holds(c) for c in listed(rule["that"])) else " ".join(str(rule["msg"]).split())

    def _holds(self, condition):
        if isinstance(condition, bool):
            return condition
        evaluate = getattr(self._templar, "evaluate_conditional", None)
        if evaluate is not None:  # ansible-core 2.19
            return bool(evaluate(conditional=condition))
        return self._templar.template("{%% if %s %%}True{%% else %%}False{%% endif %%}" % condition) == "True"
