# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tenant discovery for the ``msp.conditional_access.tenants`` inventory plugin: GDAP (Graph) and CIPP-API.

PRIVATE to the msp.conditional_access collection: the API may change without notice.

``discover_gdap`` and ``discover_cipp`` return plain, JSON-serialisable tenant records (what the inventory cache
stores); ``build_hosts`` turns records into host names, host vars and groups. Facts: shared/reference/fleet.md 1-2.
"""

from __future__ import annotations

import datetime
import fnmatch
import re
import time

from ._graph import GraphError
from ._module import InvalidOption, ModuleError
from ._resolve import Resolver, is_guid

RELATIONSHIPS = "/tenantRelationships/delegatedAdminRelationships"
TENANT_INFO = "/tenantRelationships/findTenantInformationByTenantId(tenantId='%s')"
BATCH_SIZE = 20  # Graph JSON batching takes at most 20 requests
IN_FORCE = ("active", "expiring")  # the statuses in which a relationship grants access
MLT_PREFIX = "MLT_"  # Microsoft-led transition relationships (CIPP drops them too)
# GDAP roles that can manage Conditional Access (fleet.md section 1); Global Administrator can as well
CA_ROLES = {
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9": "Conditional Access Administrator",
    "194ae4cb-b126-40b2-bd5b-6091b380977d": "Security Administrator",
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
}
CIPP_DIRECT = "directTenant"
CIPP_ROLE_HINT = "the CIPP-API client needs a CIPP role with %s (readonly, editor or admin)"


class DiscoveryError(Exception):
    """Discovery failed; the message says what to change."""


# -- pure logic ------------------------------------------------------------------------------------------------------

def parse_time(text):
    if not text:
        return None
    try:
        return datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def auto_extends(duration):
    """autoExtendDuration: PT0S (or nothing) means off."""
    return bool(duration) and not re.fullmatch(r"P(T0+S|0+D|T0+M|T0+H)", str(duration).upper())


def merge_relationships(relationships):
    """{tenant id: record} of the customers whose relationships are in force, MLT_ relationships dropped.

    A record: tenant_id, tenant_name, role_ids (union over the relationships in force), relationship_end (the
    latest), auto_extend (any), relationships (names, sorted).
    """
    customers = {}
    for rel in relationships:
        name = rel.get("displayName") or ""
        who = rel.get("customer") or {}
        tid = str(who.get("tenantId") or "").lower()
        if not tid or name.startswith(MLT_PREFIX) or rel.get("status") not in IN_FORCE:
            continue
        record = customers.setdefault(tid, {"tenant_id": tid, "tenant_name": who.get("displayName"), "role_ids": [],
                                            "relationship_end": None, "auto_extend": False, "relationships": []})
        for role in (rel.get("accessDetails") or {}).get("unifiedRoles") or []:
            rid = str(role.get("roleDefinitionId") or "").lower()
            if rid and rid not in record["role_ids"]:
                record["role_ids"].append(rid)
        end = rel.get("endDateTime")
        if end and (record["relationship_end"] is None or parse_time(end) > parse_time(record["relationship_end"])):
            record["relationship_end"] = end
        record["auto_extend"] = record["auto_extend"] or auto_extends(rel.get("autoExtendDuration"))
        record["relationships"] = sorted(record["relationships"] + [name])
    return customers


def expiring(record, days, now):
    """The access ends within ``days`` and nothing auto-extends it."""
    end = parse_time(record.get("gdap_relationship_end"))
    return (end is not None and not record.get("gdap_auto_extend")
            and end <= now + datetime.timedelta(days=days))


def group_name(prefix, text):
    """An Ansible-safe group name: lowercase, runs of other characters as one underscore."""
    return prefix + re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")


def host_name(record, mode):
    """The host name: default domain (lowercased), display name (sanitised) or tenant id."""
    if mode == "id" or (mode == "domain" and not record.get("tenant_domain")):
        return record["tenant_id"]
    if mode == "domain":
        return record["tenant_domain"].lower()
    return re.sub(r"[^a-z0-9._-]+", "-", (record.get("tenant_name") or record["tenant_id"]).lower()).strip("-")


def matches(record, patterns):
    """A tenant id, a domain (both exact, any case) or a glob on the name or domain (any case)."""
    keys = [str(record.get(k) or "").lower() for k in ("tenant_id", "tenant_domain", "tenant_name")]
    for pattern in patterns or []:
        text = str(pattern).strip().lower()
        if text in keys[:2] or any(fnmatch.fnmatchcase(k, text) for k in keys[1:] if k):
            return True
    return False


def select(records, include, exclude):
    """Client records kept by include (any match; empty = all) and exclude (no match)."""
    return [r for r in records if (not include or matches(r, include)) and not matches(r, exclude)]


# -- GDAP ------------------------------------------------------------------------------------------------------------

def _gdap_error(exc, what):
    """A Graph failure as a discovery error; a 403 names the permission (the Graph client's permission table)."""
    return DiscoveryError("%s: %s" % (what, exc))


def tenant_information(graph, tenant_ids, retries=5, max_wait=30.0, warnings=None):
    """{tenant id: tenantInformation} through JSON batches of 20; throttled sub-requests are retried after
    Retry-After (bounded), a tenant Graph does not know is left out with a warning."""
    found, pending = {}, [t.lower() for t in tenant_ids]
    for attempt in range(retries + 1):
        throttled, wait = [], 0.0
        for start in range(0, len(pending), BATCH_SIZE):
            chunk = pending[start:start + BATCH_SIZE]
            requests = [{"id": str(n), "method": "GET", "url": TENANT_INFO % tid} for n, tid in enumerate(chunk)]
            try:
                answer = graph.read_batch(requests)
            except GraphError as exc:
                raise _gdap_error(exc, "Graph $batch of findTenantInformationByTenantId")
            for item in (answer or {}).get("responses") or []:
                tid = chunk[int(item["id"])]
                status = int(item.get("status") or 0)
                if status == 200:
                    found[tid] = item.get("body") or {}
                elif status in (429, 503, 504):
                    throttled.append(tid)
                    headers = {k.lower(): v for k, v in (item.get("headers") or {}).items()}
                    try:
                        wait = max(wait, float(headers.get("retry-after") or 0))
                    except ValueError:
                        pass
                elif status in (401, 403):
                    error = (item.get("body") or {}).get("error") or {}
                    raise _gdap_error(GraphError(status, error.get("code"), error.get("message"), "GET",
                                                 graph.url(TENANT_INFO % tid), graph.tenant_id), "Graph $batch")
                else:
                    error = (item.get("body") or {}).get("error") or {}
                    if warnings is not None:
                        warnings.append("tenant %s: findTenantInformationByTenantId answered %s %s; its host is "
                                        "named by tenant id" % (tid, status, error.get("code") or ""))
        if not throttled:
            return found
        if attempt == retries:
            raise DiscoveryError("findTenantInformationByTenantId: still throttled (HTTP 429) for %d tenants after %d "
                                 "retries; run the inventory again later or enable the inventory cache"
                                 % (len(throttled), retries))
        pending = throttled
        time.sleep(min(max_wait, wait or 2.0 ** attempt))
    return found


def discover_gdap(graph, msp_tenant_id, warnings):
    """The MSP tenant's GDAP customers as records (plus the MSP's own information under ``msp``)."""
    try:
        relationships = graph.list(RELATIONSHIPS)
    except GraphError as exc:
        raise _gdap_error(exc, "GET %s (MSP tenant %s)" % (RELATIONSHIPS, msp_tenant_id))
    customers = merge_relationships(relationships)
    info = tenant_information(graph, [msp_tenant_id] + sorted(customers), warnings=warnings)
    names = Resolver(graph)
    records = []
    for tid, record in sorted(customers.items()):
        details = info.get(tid) or {}
        role_ids = record["role_ids"]
        records.append({
            "tenant_id": tid, "tenant_name": details.get("displayName") or record["tenant_name"],
            "tenant_domain": (details.get("defaultDomainName") or "").lower() or None, "access_mode": "gdap",
            "gdap_roles": sorted(CA_ROLES.get(r) or names.name("role", r) for r in role_ids),
            "gdap_role_ids": sorted(role_ids), "gdap_relationships": record["relationships"],
            "gdap_relationship_end": record["relationship_end"], "gdap_auto_extend": record["auto_extend"],
            "gdap_ca_role": any(r in CA_ROLES for r in role_ids)})
    msp = info.get(msp_tenant_id.lower()) or {}
    return {"source": "gdap", "records": records, "groups": [],
            "msp": {"tenant_name": msp.get("displayName"), "tenant_domain": (msp.get("defaultDomainName") or "").lower()
                    or None},
            "relationships": len(relationships), "requests": graph.requests}


# -- CIPP ------------------------------------------------------------------------------------------------------------

def _cipp_get(client, endpoint, permission, **params):
    try:
        return client.get(endpoint, **params)
    except ModuleError as exc:
        if exc.details.get("status") == 403:
            raise DiscoveryError("CIPP-API %s: HTTP 403: %s (or the controller's IP is outside the client's Allowed "
                                 "IP Ranges): %s" % (endpoint, CIPP_ROLE_HINT % permission, exc))
        raise DiscoveryError(str(exc))


def _rows(answer, endpoint):
    rows = answer.get("Results") if isinstance(answer, dict) else answer
    if answer is None:
        return []
    if not isinstance(rows, list):
        raise DiscoveryError("CIPP-API %s answered something that is not a list: %s" % (endpoint, str(answer)[:300]))
    return [r for r in rows if isinstance(r, dict)]


def discover_cipp(client, include_excluded=False):
    """CIPP's client tenants as records: ListTenants, ListTenantGroups, and the excluded ones when asked."""
    tenants = _rows(_cipp_get(client, "ListTenants", "CIPP.Core.Read"), "ListTenants")
    if include_excluded:
        tenants += _rows(_cipp_get(client, "ExecExcludeTenant", "CIPP.AppSettings.ReadWrite (admin)", List="true"),
                         "ExecExcludeTenant")
    groups = _rows(_cipp_get(client, "ListTenantGroups", "CIPP.Core.Read"), "ListTenantGroups")
    membership = {}
    for group in groups:
        for member in group.get("Members") or []:
            tid = str(member.get("customerId") or "").lower()
            membership.setdefault(tid, []).append(group.get("Name") or group.get("Id"))
    records, seen = [], set()
    for row in tenants:
        tid = str(row.get("customerId") or "").lower()
        if not is_guid(tid) or tid in seen or (row.get("Excluded") and not include_excluded):
            continue  # AllTenants is CIPP's pseudo-tenant; excluded tenants only when asked for
        seen.add(tid)
        direct = row.get("delegatedPrivilegeStatus") == CIPP_DIRECT
        record = {"tenant_id": tid, "tenant_name": row.get("displayName"),
                  "tenant_domain": (row.get("defaultDomainName") or "").lower() or None,
                  "access_mode": "direct" if direct else "gdap", "cipp_excluded": bool(row.get("Excluded")),
                  "cipp_groups": sorted(membership.get(tid, []))}
        if not direct:
            record.update(gdap_relationship_end=row.get("relationshipEnd"),
                          gdap_auto_extend=bool(row.get("hasAutoExtend")))
        records.append(record)
    return {"source": "cipp", "records": records, "groups": sorted({g for r in records for g in r["cipp_groups"]}),
            "msp": {}, "requests": client.requests}


# -- hosts and groups ------------------------------------------------------------------------------------------------

def build_hosts(discovery, options, now=None):
    """(hosts {name: vars}, groups {name: [hosts]}, warnings) from a discovery and the plugin's options.

    options: msp_tenant_id, msp_hostname, hostname, expiring_days, include, exclude, allow_empty. Raises InvalidOption for two
    tenants with one host name (ambiguous), DiscoveryError for an empty result.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    warnings = []
    records = discovery["records"]
    if not records and not options.get("allow_empty"):
        raise DiscoveryError("%s found no client tenant. Refusing to build an empty inventory that a playbook would "
                             "run on without touching any tenant; check the %s, or set allow_empty=true."
                             % (discovery["source"], "GDAP relationships of the MSP tenant (active or expiring, "
                                                     "not MLT_)" if discovery["source"] == "gdap" else
                                "tenants CIPP lists for this API client (excluded tenants are hidden)"))
    kept = select(records, options.get("include"), options.get("exclude"))
    hosts, groups = {}, {"clients": [], "msp": [], "direct_tenants": []}
    if discovery["source"] == "gdap":
        groups.update(gdap_missing_ca_role=[], gdap_expiring=[])
    for group in discovery.get("groups") or []:
        groups.setdefault(group_name("cipp_", group), [])
    mode = options.get("hostname") or "domain"
    for record in kept:
        name = host_name(record, mode)
        if mode == "domain" and not record.get("tenant_domain"):
            warnings.append("tenant %s (%s) has no known default domain; its host is named by tenant id"
                            % (record["tenant_id"], record.get("tenant_name")))
        if name in hosts:
            raise InvalidOption("hostname", mode, "tenants %s and %s both give the host name %r; use hostname=domain "
                                "or hostname=id" % (hosts[name]["tenant_id"], record["tenant_id"], name))
        hostvars = {k: v for k, v in record.items() if k not in ("gdap_role_ids", "gdap_ca_role")}
        hosts[name] = hostvars
        groups["clients"].append(name)
        if record["access_mode"] == "direct":
            groups["direct_tenants"].append(name)
        if discovery["source"] == "gdap":
            if not record.get("gdap_ca_role"):
                groups["gdap_missing_ca_role"].append(name)
        if record["access_mode"] == "gdap" and "gdap_relationship_end" in record:
            if expiring(record, int(options.get("expiring_days") or 30), now):
                groups.setdefault("gdap_expiring", []).append(name)
        for group in record.get("cipp_groups") or []:
            groups[group_name("cipp_", group)].append(name)
    msp_id = str(options["msp_tenant_id"]).lower()
    msp = dict(discovery.get("msp") or {})
    msp_record = {"tenant_id": msp_id, "tenant_name": msp.get("tenant_name"), "tenant_domain": msp.get("tenant_domain")}
    msp_name = options.get("msp_hostname") or host_name(msp_record, mode)
    if msp_name in hosts:
        raise InvalidOption("msp_hostname", msp_name, "the MSP tenant's host name is also a client tenant's")
    hosts[msp_name] = msp_record
    groups["msp"].append(msp_name)
    clash = sorted(set(hosts) & set(groups))
    if clash:
        raise InvalidOption("msp_hostname" if msp_name in clash else "hostname", clash[0],
                            "a host may not have the name of a group (%s)" % ", ".join(sorted(groups)))
    return hosts, groups, warnings
