#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ca_report
short_description: Render the fleet's Conditional Access report (HTML, JSON, Markdown) from what report.yml read
version_added: 0.2.0
description:
  - Runs on the controller (C(delegate_to=localhost)). Takes, per tenant, the results of
    M(msp.conditional_access.ca_tenant_info), M(msp.conditional_access.ca_policy_info),
    M(msp.conditional_access.ca_client_exclusion_info), M(msp.conditional_access.ca_mfa_coverage_info) and the
    guide's roles run in check mode, and writes C(index.html), C(report.json) and C(report.md) to O(dest).
  - A tenant whose reads failed is shown as C(failed to read) with the reason; a tenant where a run of the guide
    would change something is C(drift); otherwise C(compliant).
  - The HTML page is self-contained (inline CSS, SVG and script; nothing is fetched), sorts and filters the tenants,
    and opens filtered or sorted with C(index.html#status=failed), C(#q=<text>), C(#mfa=hole) or
    C(#sort=partd) (any column key), combined with C(&).
  - Used by C(playbooks/report.yml); sends no request to Graph. In check mode nothing is written.
options:
  tenants:
    description:
      - One dict per tenant - C(name), C(tenant_id), C(role) (V(msp) or V(client)), C(mode), C(display_name), the
        registered results C(tenant_info), C(policies), C(exclusions), C(mfa), C(part_d), the roles' summary lines
        C(drift_summaries), and the inventory's C(gdap_relationship_end) / C(gdap_auto_extend) when known.
    type: list
    elements: dict
    required: true
  dest:
    description: Directory for the three files. A relative path is taken from where ansible-playbook was started.
    type: path
    default: build/report
  backup_root:
    description: Where the backups are (C(<run time>/<tenant id>/)), to show each tenant's last backup.
    type: path
    default: build/backups
  expiring_days:
    description: A GDAP relationship ending within this many days, without auto-extend, is listed as ending soon.
    type: int
    default: 30
  title:
    description: The report's title.
    type: str
    default: Conditional Access fleet report
attributes:
  check_mode:
    support: full
    description: In check mode the report is built and returned but no file is written.
  diff_mode:
    support: none
    description: Writes report files on the controller; there is no diff.
  action_group:
    description: Use C(group/msp.conditional_access.report) in C(module_defaults).
    support: full
    membership:
      - msp.conditional_access.report
seealso:
  - module: msp.conditional_access.ca_mfa_coverage_info
author:
  - MSP Conditional Access contributors (@msp-conditional-access)
"""

EXAMPLES = r"""
- name: Write the fleet report
  msp.conditional_access.ca_report:
    tenants: "{{ ansible_play_hosts_all | map('extract', hostvars, 'report_tenant') | list }}"
    dest: build/report
  delegate_to: localhost
  run_once: true
  check_mode: false
"""

RETURN = r"""
files:
  description: Paths of the files written (C(html), C(json), C(markdown)); empty in check mode.
  returned: always
  type: dict
overview:
  description: The fleet overview (counts by status, licences, MFA, Part D coverage, relationships ending soon).
  returned: always
  type: dict
failed_tenants:
  description: Names of the tenants that could not be read, with the reason.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.msp.conditional_access.plugins.module_utils._backup import absolute
from ansible_collections.msp.conditional_access.plugins.module_utils._report import FAILED, build, write


def main():
    module = AnsibleModule(
        argument_spec=dict(
            tenants=dict(type="list", elements="dict", required=True),
            dest=dict(type="path", default="build/report"),
            backup_root=dict(type="path", default="build/backups"),
            expiring_days=dict(type="int", default=30),
            title=dict(type="str", default="Conditional Access fleet report"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    report = build(p["tenants"], absolute(p["backup_root"]), expiring_days=p["expiring_days"], title=p["title"])
    files = {} if module.check_mode else write(report, absolute(p["dest"]))
    module.exit_json(changed=bool(files), files=files, overview=report["overview"],
                     failed_tenants=["%s: %s" % (t["name"], t["error"]) for t in report["tenants"]
                                     if t["status"] == FAILED])


if __name__ == "__main__":
    main()
