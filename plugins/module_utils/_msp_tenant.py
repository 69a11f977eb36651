# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MSP tenant as Graph knows it: a valid but wrong msp_tenant_id must not look right in the diff.

Part D writes msp_tenant_id into every client policy, and the diff shows it next to a name. That name comes from
Graph (tenantRelationships/findTenantInformationByTenantId, fleet.md 1), never from msp_tenant_name alone, and a
msp_tenant_name that contradicts Graph is refused before anything is written.
"""

from __future__ import annotations

from ._graph import GraphError
from ._module import InvalidOption

TENANT_INFO = "/tenantRelationships/findTenantInformationByTenantId(tenantId='%s')"


def _same_name(a, b):
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def verified_msp_name(graph, msp_tenant_id, msp_tenant_name=None):
    """The MSP tenant's display name from Graph; InvalidOption when the tenant does not exist or has another name.

    One GET (not a Conditional Access endpoint). A tenant Graph cannot read (403: the app lacks
    CrossTenantInformation.ReadBasic.All) fails closed with the permission named: an unverified id is not applied.
    """
    try:
        info = graph.get(TENANT_INFO % msp_tenant_id.lower())
    except GraphError as exc:
        if exc.status in (400, 404):
            raise InvalidOption("msp_tenant_id", msp_tenant_id, "Graph knows no tenant with this id (%s); check "
                                "msp_tenant_id - nothing was written" % exc.code)
        if exc.status == 403:
            # the app may lack the permission of this lookup, or the tenant refuses everything (consent removed)
            raise InvalidOption("msp_tenant_id", msp_tenant_id, "cannot be verified in Graph (%s); the lookup needs the "
                                "application permission CrossTenantInformation.ReadBasic.All in this tenant "
                                "(docs/permissions.md) - nothing was written" % exc)
        raise
    name = (info or {}).get("displayName") or ""
    if msp_tenant_name and name and not _same_name(name, msp_tenant_name):
        raise InvalidOption("msp_tenant_name", msp_tenant_name, "msp_tenant_id %s is the tenant %r (%s) in Graph, not %r; "
                            "one of msp_tenant_id and msp_tenant_name is wrong - nothing was written"
                            % (msp_tenant_id, name, (info or {}).get("defaultDomainName") or "no default domain",
                               msp_tenant_name))
    return name or msp_tenant_name
