#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ca_named_location
short_description: Manage Entra ID Conditional Access named locations (trusted IP ranges, countries)
version_added: 0.1.0
description:
  - Creates, updates and deletes an IP or country named location through Microsoft Graph.
  - This is Step 1 of locking down CIPP. The trusted IP location of the MSP's offices is what
    the technician policy (Part A) excludes.
  - IP ranges are compared as sets of networks, so order, host bits and bare addresses do not cause changes.
    A range with host bits set (V(203.0.113.10/24)) is used as its network (V(203.0.113.0/24)) with a warning.
  - Ranges are shown in one form everywhere (diff, result, comparison), IPv6 compressed and lowercase
    (V(2001:db8:10::/48)).
  - Display names are not unique in Entra ID. If two locations share O(display_name) the module fails and lists
    their ids; pass O(id) to pick one.
extends_documentation_fragment:
  - msp.conditional_access.graph
  - msp.conditional_access.graph.actiongroup
  - msp.conditional_access.attributes
options:
  display_name:
    description:
      - Name of the location. Required unless O(id) is given; with O(id) it renames the location.
    type: str
  id:
    description:
      - Object id of the location. Use it when display names are ambiguous.
    type: str
  state:
    description:
      - V(absent) deletes the location. A trusted location is untrusted first (Graph refuses to delete it otherwise);
        when Graph then refuses the delete, the location is trusted again, so it never stays untrusted.
      - A location that a Conditional Access policy still uses, by id or (for a trusted one) through
        C(AllTrusted), is not deleted, and nothing is written, unless O(force=true).
    type: str
    choices: [present, absent]
    default: present
  ip_ranges:
    description:
      - The complete list of IPv4/IPv6 addresses or CIDR ranges. Bare addresses become C(/32) or C(/128).
      - Prefixes of C(/8) or wider, more than 2000 ranges, or an invalid entry fail before anything is sent.
        So do zone ids (V(fe80::1%eth0)) and IPv4-mapped IPv6 (V(::ffff:203.0.113.10); write the IPv4 form).
      - Ranges that together cover every IPv4 or every IPv6 address need O(allow_any_ip=true).
      - Mutually exclusive with O(countries_and_regions). Omit to leave the ranges of an existing location alone.
    type: list
    elements: str
  allow_any_ip:
    description:
      - Accept O(ip_ranges) that together cover every IPv4 or every IPv6 address (a trusted "everywhere").
    type: bool
    default: false
  is_trusted:
    description:
      - Mark the IP location as trusted. New IP locations default to V(false); omit to leave it as it is.
    type: bool
  countries_and_regions:
    description:
      - ISO 3166-1 alpha-2 codes of a country location, such as V(NL).
    type: list
    elements: str
  include_unknown_countries_and_regions:
    description:
      - Whether IP addresses that do not map to a country belong to the country location.
    type: bool
  country_lookup_method:
    description:
      - How the country of a sign-in is determined.
    type: str
    choices: [client_ip_address, authenticator_app_gps]
  force:
    description:
      - Delete the location even when policies still use it (Graph may still refuse).
    type: bool
    default: false
author:
  - MSP Conditional Access contributors (@msp-conditional-access)
"""

EXAMPLES = r"""
- name: Step 1 - trusted IP location of the MSP office
  msp.conditional_access.ca_named_location:
    display_name: Trusted - MSP Office
    is_trusted: true
    ip_ranges:
      - 203.0.113.10/32
      - 203.0.113.0/24
      - 2001:db8:10::/48

- name: Countries technicians work from
  msp.conditional_access.ca_named_location:
    display_name: Allowed countries
    countries_and_regions: [NL, BE, DE]

- name: Remove an old office (untrusts it first)
  msp.conditional_access.ca_named_location:
    display_name: Trusted - Old Office
    state: absent
"""

RETURN = r"""
named_location:
  description: The location as Graph has it after the task (predicted in check mode; empty after delete).
  returned: always
  type: dict
  sample:
    "@odata.type": "#microsoft.graph.ipNamedLocation"
    id: 0854951d-5fc0-4eb1-b392-9b2c9d7949c2
    displayName: Trusted - MSP Office
    isTrusted: true
    ipRanges:
      - {"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "203.0.113.0/24"}
"""

from ansible_collections.msp.conditional_access.plugins.module_utils._location import COUNTRY_LOOKUP, NamedLocations
from ansible_collections.msp.conditional_access.plugins.module_utils._module import GraphModule


def main():
    module = GraphModule(
        supports_check_mode=True,
        argument_spec=dict(
            display_name=dict(type="str"),
            id=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            ip_ranges=dict(type="list", elements="str"),
            allow_any_ip=dict(type="bool", default=False),
            is_trusted=dict(type="bool"),
            countries_and_regions=dict(type="list", elements="str"),
            include_unknown_countries_and_regions=dict(type="bool"),
            country_lookup_method=dict(type="str", choices=list(COUNTRY_LOOKUP)),
            force=dict(type="bool", default=False),
        ),
        required_one_of=[("display_name", "id")],
        mutually_exclusive=[("ip_ranges", "countries_and_regions")],
    )
    module.run(NamedLocations(module).ensure)


if __name__ == "__main__":
    main()
