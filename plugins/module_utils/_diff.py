# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Comparison and diff helpers shared by the modules.

PRIVATE to the msp.conditional_access collection: the API may change without notice.
"""

from __future__ import annotations

import ipaddress

# Keys Graph fills in itself; they never take part in a comparison or a diff.
SERVER_KEYS = frozenset(["id", "createdDateTime", "modifiedDateTime", "deletedDateTime", "templateId",
                         "@odata.context", "@odata.etag"])


def strip_server_keys(obj):
    """A copy of a Graph object without server-owned keys and *@odata.context annotations."""
    if isinstance(obj, dict):
        return {k: strip_server_keys(v) for k, v in obj.items()
                if k not in SERVER_KEYS and not k.endswith("@odata.context")}
    if isinstance(obj, list):
        return [strip_server_keys(v) for v in obj]
    return obj


def canonical_network(value):
    """'203.0.113.10' -> IPv4Network('203.0.113.10/32'); host bits are cleared, IPv6 compressed.

    Raises ValueError with the offending text for anything that is not an address or a CIDR.
    """
    text = str(value).strip()
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError("%r is not an IPv4/IPv6 address or CIDR range" % (value,))


def make_diff(before, after, before_header=None, after_header=None):
    """Ansible's diff dict. Create is {} -> object, delete object -> {}."""
    diff = {"before": before if before is not None else {}, "after": after if after is not None else {}}
    if before_header:
        diff["before_header"] = before_header
    if after_header:
        diff["after_header"] = after_header
    return diff
