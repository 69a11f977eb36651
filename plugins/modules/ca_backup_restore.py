#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ca_backup_restore
short_description: Put back the Conditional Access policies and named locations of a backup
version_added: 0.2.0
description:
  - Reads the backup files that the collection's writing modules save before every change or delete (see
    O(backup_dir)) and puts the tenant's objects back as they were.
  - Named locations first, then policies. An object that still exists is changed back where it differs; a deleted
    one is restored from Graph's soft-deleted items (same id) or, when that is gone, re-created - a re-created named
    location gets a new id, which is put into the restored policies in place of the old one.
  - With O(remove_created), the objects the backed-up run created (its C(created-*) records) are deleted as well,
    so that the tenant is as it was before that run.
  - A backup of another tenant is refused before any request. Check mode and diff show what would be put back.
  - What this restore overwrites is itself backed up first, so a restore can be undone the same way.
extends_documentation_fragment:
  - msp.conditional_access.graph
  - msp.conditional_access.graph.actiongroup
  - msp.conditional_access.attributes
options:
  backup:
    description:
      - A backup file, a tenant directory (C(<run>/<tenant id>)) or a run directory (C(build/backups/<run time>)), in
        which case the subdirectory of O(tenant_id) is used.
    type: path
    required: true
  remove_created:
    description: Also delete the policies and named locations that the backed-up run created.
    type: bool
    default: false
  kinds:
    description: What to restore.
    type: list
    elements: str
    choices: [policy, named_location]
    default: [policy, named_location]
seealso:
  - module: msp.conditional_access.ca_policy
author:
  - MSP Conditional Access contributors (@msp-conditional-access)
"""

EXAMPLES = r"""
- name: Undo the run of 1 December in a client tenant
  msp.conditional_access.ca_backup_restore:
    tenant_id: "{{ tenant_id }}"
    backup: build/backups/20261201T201500Z
  register: restored
"""

RETURN = r"""
restored:
  description: One entry per object - C(kind), C(id), C(display_name), C(action) (V(updated), V(restored),
    V(recreated), V(matched), V(removed) or V(unchanged)) and C(new_id) for a re-created object.
  returned: always
  type: list
  elements: dict
location_ids:
  description: Old id to new id of every re-created named location.
  returned: always
  type: dict
files:
  description: Backup files read.
  returned: always
  type: int
backups:
  description: Backups of what the restore overwrote.
  returned: when something was written
  type: list
  elements: str
"""

from ansible_collections.msp.conditional_access.plugins.module_utils._module import GraphModule
from ansible_collections.msp.conditional_access.plugins.module_utils._restore import RESTORE_SPEC, restore


def main():
    module = GraphModule(supports_check_mode=True, argument_spec=RESTORE_SPEC)
    module.run(lambda: restore(module))


if __name__ == "__main__":
    main()
