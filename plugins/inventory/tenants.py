# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: tenants
short_description: Client tenants from GDAP relationships or CIPP, as inventory hosts
version_added: 0.1.0
description:
  - Lists the MSP's client tenants as hosts, one host per tenant, plus the MSP tenant itself in group C(msp), so the
    playbooks (Part D on C(clients)) run on every tenant the MSP manages without typing tenant ids.
  - "O(source=gdap): the MSP tenant's GDAP relationships (Graph v1.0
    C(tenantRelationships/delegatedAdminRelationships), every page). Relationships in status C(active) or
    C(expiring) count; Microsoft-led transition relationships (names starting C(MLT_)) are dropped; several
    relationships of one customer become one host with the union of their roles. The default domain of each
    customer comes from C(findTenantInformationByTenantId), 20 tenants per Graph JSON C($batch) request."
  - "O(source=cipp): CIPP-API C(ListTenants) and C(ListTenantGroups), with the same CIPP-API client and auth as
    Part C. Tenants CIPP marks excluded are left out unless O(cipp_include_excluded=true)."
  - "Groups: C(clients) (every client tenant), C(msp), C(gdap_missing_ca_role) (O(source=gdap): no relationship
    grants Conditional Access Administrator, Security Administrator or Global Administrator, so Part D cannot
    work there), C(gdap_expiring) (the access ends within O(expiring_days) and does not auto-extend),
    C(direct_tenants) (CIPP's direct tenants), C(cipp_<group name>) per CIPP tenant group (lowercase, other
    characters as C(_)), and whatever O(keyed_groups), O(groups) and O(compose) add."
  - "Host vars: C(tenant_id), C(tenant_name), C(tenant_domain), C(access_mode) (C(gdap) or C(direct)),
    C(ansible_connection=local); from GDAP C(gdap_roles) (role names), C(gdap_relationships) (names),
    C(gdap_relationship_end) (the latest end), C(gdap_auto_extend) (any relationship auto-extends); from CIPP
    C(cipp_excluded), C(cipp_groups), and for GDAP tenants C(gdap_relationship_end) and C(gdap_auto_extend) as
    CIPP reports them. The MSP host has C(tenant_id), C(tenant_name), C(tenant_domain)."
  - An empty result fails the inventory source (unless O(allow_empty=true)) instead of giving an inventory that a
    playbook would run on without touching any tenant. Set C(inventory_any_unparsed_is_failed) (the collection's
    C(ansible.cfg) does) so that a failed source stops C(ansible-playbook) too.
  - "Two files (one per source) combine as usual: hosts are the same when their names are, so keep O(hostname)
    the same and set O(msp_hostname) in both."
author:
  - MSP Conditional Access contributors (@msp-conditional-access)
requirements:
  - azure-identity, msgraph-core (O(source=gdap))
  - requests (O(source=cipp))
extends_documentation_fragment:
  - constructed
  - inventory_cache
  - msp.conditional_access.graph.plugins
options:
  plugin:
    description: The name of this plugin; it makes a C(*.tenants.yml) file this plugin's.
    required: true
    choices: [msp.conditional_access.tenants]
    type: str
  source:
    description:
      - Where the tenants come from. One source per file; use two files for both.
      - V(gdap) needs the Graph application permissions C(DelegatedAdminRelationship.Read.All) and
        C(CrossTenantInformation.ReadBasic.All) in the MSP tenant (and C(RoleManagement.Read.Directory) for the
        names of roles outside the three that manage Conditional Access; without it their ids are shown).
      - V(cipp) needs a CIPP-API client whose CIPP role has C(CIPP.Core.Read) (readonly, editor, admin).
    required: true
    choices: [gdap, cipp]
    type: str
  msp_tenant_id:
    description:
      - The MSP (partner) tenant, where the app signs in, and the C(tenant_id) of the host in group C(msp).
      - E(MSP_TENANT_ID) wins over E(AZURE_TENANT_ID) when both are set.
    type: str
    required: true
    env:
      - name: AZURE_TENANT_ID
      - name: MSP_TENANT_ID
  msp_hostname:
    description:
      - Host name of the MSP tenant. Default, its default domain (for O(source=cipp) looked up in Graph, when the
        app may; else its tenant id), following O(hostname).
    type: str
  hostname:
    description:
      - Host name of a client tenant. V(domain) is its default domain, lowercased (the tenant id when it is not
        known, with a warning); V(name) its display name, lowercased with other characters than C([a-z0-9._-])
        as C(-); V(id) its tenant id.
      - Two tenants with the same host name fail the source (never an ambiguous host).
    type: str
    choices: [domain, name, id]
    default: domain
  expiring_days:
    description: A tenant whose access ends within this many days and does not auto-extend is in C(gdap_expiring).
    type: int
    default: 30
  include:
    description:
      - "Only client tenants matching one of these: a tenant id or default domain (exact, any case) or a glob
        (C(*), C(?), C([...])) on the default domain or display name (any case). Empty, every tenant."
      - The MSP host is always there.
    type: list
    elements: str
    default: []
  exclude:
    description: Client tenants matching one of these (same matching as O(include)) are left out.
    type: list
    elements: str
    default: []
  filters:
    description:
      - Jinja2 conditionals on each client tenant's discovered host vars (before O(compose)); a tenant stays only
        when every one is true, for example C(access_mode == 'gdap') or C('Pilot ring' in cipp_groups).
      - "A conditional that fails to evaluate fails the source (it never silently keeps or drops a tenant)."
      - Core C(constructed) has no such option; this is the tenant-level counterpart of O(include)/O(exclude).
    type: list
    elements: str
    default: []
  cipp_include_excluded:
    description:
      - Also list the tenants excluded in CIPP (C(ExecExcludeTenant?List=true), which needs the CIPP role admin,
        C(CIPP.AppSettings.ReadWrite)). They have C(cipp_excluded=true).
    type: bool
    default: false
  allow_empty:
    description: Accept a result without any client tenant (after O(include), O(exclude) and O(filters)).
    type: bool
    default: false
  cipp_api_url:
    description:
      - Root URL of the CIPP Function App, for O(source=cipp).
    type: str
    env:
      - name: CIPP_API_URL
  cipp_api_scope:
    description: Token scope for CIPP-API. Default C(api://<client_id>/.default).
    type: str
    env:
      - name: CIPP_API_SCOPE
notes:
  - Secrets (client secret, certificate password, access token) are read from the environment only; the source
    refuses a file that holds one. In AWX/AAP a custom credential on the inventory source injects them (see
    C(docs/inventory.md)).
  - Graph throttling (HTTP 429) is retried with bounded back-off, also per sub-request of a batch; the source fails
    with a count when the retries run out. Enable the inventory cache to keep runs off Graph.
"""

EXAMPLES = r"""
# inventories/prod/gdap.tenants.yml: every GDAP customer of the MSP tenant (credentials from the environment:
# AZURE_TENANT_ID or MSP_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET)
plugin: msp.conditional_access.tenants
source: gdap
exclude:
  - "*.test.onmicrosoft.com"
keyed_groups:
  - key: gdap_roles
    prefix: role
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/msp-tenants
cache_timeout: 3600

# inventories/prod/cipp.tenants.yml: CIPP's tenants (GDAP and direct), with its tenant groups as cipp_<name>
# (a second file; commented here so that this example stays one YAML document without duplicate keys)
# plugin: msp.conditional_access.tenants
# source: cipp
# msp_hostname: contoso-msp.onmicrosoft.com
# filters:
#   - "not cipp_excluded"
# compose:
#   client_exclusion_mode: access_mode

# ansible-inventory -i inventories/prod --graph ; ansible-playbook -i inventories/prod playbooks/site.yml --check --diff

# AWX/AAP custom credential type for the inventory source (inputs / injectors), see docs/inventory.md:
# fields:
#   - {id: tenant_id, type: string, label: MSP tenant ID}
#   - {id: client_id, type: string, label: Application (client) ID}
#   - {id: client_secret, type: string, label: Client secret, secret: true}
# env:
#   AZURE_TENANT_ID: '{{ tenant_id }}'
#   AZURE_CLIENT_ID: '{{ client_id }}'
#   AZURE_CLIENT_SECRET: '{{ client_secret }}'
"""

import time

from ansible.errors import AnsibleParserError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.msp.conditional_access.plugins.module_utils._auth import (
    AUTH_ARGUMENT_SPEC, AuthError, Authenticator)
from ansible_collections.msp.conditional_access.plugins.module_utils._graph import GraphClient, GraphError
from ansible_collections.msp.conditional_access.plugins.module_utils._module import InvalidOption, ModuleError
from ansible_collections.msp.conditional_access.plugins.module_utils._tenants import (
    DiscoveryError, build_hosts, discover_cipp, discover_gdap, tenant_information)

SECRET_OPTIONS = ("client_secret", "client_certificate_password", "access_token")
SECRET_ENV = {"client_secret": "AZURE_CLIENT_SECRET", "client_certificate_password": "AZURE_CLIENT_CERTIFICATE_PASSWORD",
              "access_token": "AZURE_ACCESS_TOKEN"}


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "msp.conditional_access.tenants"

    def verify_file(self, path):
        if super().verify_file(path) and path.endswith(("tenants.yml", "tenants.yaml")):
            return True
        self.display.vvv("msp.conditional_access.tenants: skipping %s (the file name must end in tenants.yml)" % path)
        return False

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        config = self._read_config_data(path)
        secrets = [name for name in SECRET_OPTIONS if name in (config or {})]
        if secrets:
            raise AnsibleParserError("%s: %s must not be in the inventory file; set %s in the environment (or an "
                                     "AWX credential) instead" % (path, ", ".join(secrets),
                                                                  ", ".join(SECRET_ENV[s] for s in secrets)))
        try:
            discovery = self._cached_discovery(path, cache)
            self._populate(discovery)
        except InvalidOption as exc:
            raise AnsibleParserError("%s: %s" % (path, exc))
        except (DiscoveryError, AuthError, GraphError, ModuleError) as exc:
            raise AnsibleParserError("%s (source %s): %s" % (path, self.get_option("source"), exc))

    # -- discovery, through the inventory cache ------------------------------------------------------------------
    def _params(self):
        params = {name: self.get_option(name) for name in AUTH_ARGUMENT_SPEC if name != "tenant_id"}
        params.update(tenant_id=self.get_option("msp_tenant_id"), cipp_api_url=self.get_option("cipp_api_url"),
                      cipp_api_scope=self.get_option("cipp_api_scope"))
        return params

    def _cached_discovery(self, path, cache):
        key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        update = self.get_option("cache") and not cache
        if use_cache:
            try:
                cached = self._cache[key]
                if cached.get("source") == self.get_option("source") and \
                        cached.get("msp_tenant_id") == str(self.get_option("msp_tenant_id")).lower():
                    return cached
            except KeyError:
                pass
            update = True
        started = time.monotonic()
        discovery = self._discover()
        discovery["msp_tenant_id"] = str(self.get_option("msp_tenant_id")).lower()
        self.display.vv("msp.conditional_access.tenants: %s: %d tenants in %.1f s, %d requests"
                        % (self.get_option("source"), len(discovery["records"]), time.monotonic() - started,
                           discovery["requests"]))
        if update:
            self._cache[key] = discovery
        return discovery

    def _discover(self):
        params = self._params()
        if not params["tenant_id"]:
            raise InvalidOption("msp_tenant_id", None, "set it (or MSP_TENANT_ID / AZURE_TENANT_ID) to the MSP tenant")
        warnings = []
        if self.get_option("source") == "gdap":
            graph = GraphClient(Authenticator(params))
            try:
                discovery = discover_gdap(graph, params["tenant_id"], warnings)
            finally:
                graph.close()
        else:
            from ansible_collections.msp.conditional_access.plugins.module_utils._cipp import CippClient

            discovery = discover_cipp(CippClient(params), bool(self.get_option("cipp_include_excluded")))
            if not self.get_option("msp_hostname"):
                discovery["msp"] = self._msp_information(params, warnings)
        discovery["warnings"] = warnings
        return discovery

    def _msp_information(self, params, warnings):
        """The MSP tenant's name and domain for the cipp source (CIPP does not list the MSP): one Graph request."""
        graph = GraphClient(Authenticator(params))
        try:
            info = tenant_information(graph, [params["tenant_id"]], warnings=warnings).get(params["tenant_id"].lower())
        except (DiscoveryError, GraphError, AuthError) as exc:
            warnings.append("the MSP tenant's domain could not be read from Graph (%s); set msp_hostname" % exc)
            info = None
        finally:
            graph.close()
        info = info or {}
        return {"tenant_name": info.get("displayName"), "tenant_domain": (info.get("defaultDomainName") or "").lower()
                or None}

    # -- hosts and groups --------------------------------------------------------------------------------------------
    def _populate(self, discovery):
        names = ("msp_tenant_id", "msp_hostname", "hostname", "expiring_days", "include", "exclude", "allow_empty")
        options = {name: self.get_option(name) for name in names}
        hosts, groups, warnings = build_hosts(discovery, options)
        for warning in discovery.get("warnings", []) + warnings:
            self.display.warning("msp.conditional_access.tenants: %s" % warning)
        dropped = [name for name in groups["clients"] if not self._passes_filters(name, hosts[name])]
        for name in dropped:
            del hosts[name]
        groups = {group: [h for h in members if h in hosts] for group, members in groups.items()}
        if not groups["clients"] and not self.get_option("allow_empty"):
            raise DiscoveryError("%d client tenants were found, and include/exclude/filters left none. Refusing to "
                                 "build an inventory without client tenants; change include, exclude or filters, or set "
                                 "allow_empty=true" % len(discovery["records"]))
        strict = self.get_option("strict")
        for group in groups:
            self.inventory.add_group(group)
        for name, hostvars in hosts.items():
            self.inventory.add_host(name)
            hostvars = dict(hostvars, ansible_connection="local")
            for key, value in hostvars.items():
                self.inventory.set_variable(name, key, value)
            self._set_composite_vars(self.get_option("compose"), hostvars, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), hostvars, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, name, strict=strict)
        for group, members in groups.items():
            for name in members:
                self.inventory.add_child(group, name)

    def _passes_filters(self, name, hostvars):
        for condition in self.get_option("filters") or []:
            try:
                if not boolean(self._compose(condition, hostvars), strict=False):
                    return False
            except Exception as exc:  # a filter must never silently keep or drop a tenant
                raise InvalidOption("filters", condition, "cannot be evaluated for %s: %s" % (name, exc))
        return True
