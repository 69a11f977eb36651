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
options: {}
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
"""

RETURN = r"""
msg:
  description: What was wrong, by the variable the user set, or how many inputs were checked.
  returned: always
  type: str
"""
