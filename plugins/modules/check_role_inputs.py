#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: check_role_inputs
short_description: Check a role's variables against its argument spec before anything is written
version_added: 0.1.0
description:
  - Runs inside a role of this collection (C(include_role) with C(tasks_from=inputs)) and checks every variable of
    the role's C(meta/argument_specs.yml) with Ansible's own validator, after templating the role defaults.
  - Errors name the variable the user set, for example C(technician_policy_state) when the role's
    C(technician_access_policy_state) took its value from there, and do not repeat the argument spec.
  - Runs on the controller; it reads no tenant and writes nothing. C(playbooks/site.yml) runs it for every role
    on every host first, so one wrong input stops its tenant before the first write.
  - Then it checks the role's O(rules) in order and fails with the message of every rule that does not hold
    (warns for a rule with C(warn=true)), in one task however many rules there are.
options:
  rules:
    description:
      - What C(ansible.builtin.assert) tasks would check, as data. Each rule has C(that) (a condition or a list of
        conditions, as in C(assert)), C(msg) (what to say when one is false, naming the variables to change), an
        optional C(when) condition that must hold for the rule to apply, and an optional C(warn) (V(true) makes it a
        warning).
      - Checked only when the argument spec found nothing wrong.
    type: list
    elements: dict
    default: []
attributes:
  check_mode:
    description: Reads only variables, so it runs the same in check mode.
    support: full
  diff_mode:
    description: Nothing to diff.
    support: none
  action:
    description: An action plugin on the controller.
    support: full
author:
  - MSP Conditional Access contributors (@msp-conditional-access)
"""

EXAMPLES = r"""
# roles/<role>/tasks/inputs.yml
- name: Check the role's inputs
  msp.conditional_access.check_role_inputs:
    rules:
      - that: my_role_mode == 'gdap' or my_role_account | length > 0
        msg: "my_role_account (cipp_service_account) is needed when access_mode is direct. Nothing was changed."
"""

RETURN = r"""
msg:
  description: What was wrong, by the variable the user set, or how many inputs were checked.
  returned: always
  type: str
"""
