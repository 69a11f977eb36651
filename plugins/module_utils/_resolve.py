# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names <-> ids for the directory objects a Conditional Access policy refers to.

PRIVATE to the msp.conditional_access collection: the API may change without notice.

API (shared by ca_policy, ca_client_exclusion and the roles; keep it small):

``Resolver(graph, check_mode=False)``
    ``graph`` is a ``_graph.GraphClient``. One resolver per module run: every lookup is cached.
``.ids(kind, values, option) -> list``
    Names (or ids) to ids, in order, duplicates dropped. ``kind`` is one of ``KINDS``:

    ========================= ==================================================== ============================
    kind                      accepted names                                       literals kept as they are
    ========================= ==================================================== ============================
    ``user``                  UPN, object id                                       All, None, GuestsOrExternalUsers
    ``group``                 display name, object id
    ``role``                  role name (case-insensitive), template id            (returns the template id)
    ``location``              named location display name, id                      All, AllTrusted, 0000...0000
    ``application``           service principal display name, appId                All, None, Office365,
                              (+ KNOWN_APPS, e.g. Azure Static Web Apps)           MicrosoftAdminPortals
    ``service_principal``     service principal display name, object id            ServicePrincipalsInMyTenant
    ``authentication_strength`` built-in name (mfa, passwordless_mfa,              the built-in ids
                              phishing_resistant_mfa), custom strength's display
                              name or id
    ========================= ==================================================== ============================

    A value that matches nothing, or more than one object, raises ``InvalidOption(option, value, reason)``:
    nothing is ever dropped. Ids are checked to exist too (applications excepted: an appId without a service
    principal in the tenant is accepted with a warning). In check mode a named location that does not exist
    yet (an earlier task of the run would create it) resolves to a placeholder, with a warning.
``.resolve(kind, value, option) -> str``
    One value.
``.name(kind, oid) -> str``
    A readable name for an id (UPN, display name), for diffs and exports; the id itself when it cannot be
    found (a deleted user stays visible as its id). Literals are returned unchanged.
``.warnings``
    Messages for the module's ``warnings``.

Display-name filters are sent as ``$filter=displayName eq '...'`` with OData quote doubling; Graph compares
them case-insensitively, so several case variants of a name count as an ambiguous match.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from ._ca import LOCATIONS, is_guid, same_name
from ._graph import GraphError, odata_quote
from ._module import InvalidOption

KINDS = ("user", "group", "role", "location", "application", "service_principal", "authentication_strength",
         "tenant", "terms_of_use", "authentication_context")
LITERALS = {
    "user": ("All", "None", "GuestsOrExternalUsers"),
    "group": (),
    "role": (),
    "location": ("All", "AllTrusted", "00000000-0000-0000-0000-000000000000"),
    "application": ("All", "None", "Office365", "MicrosoftAdminPortals", "AllAgentIdResources"),
    "service_principal": ("ServicePrincipalsInMyTenant",),
    "authentication_strength": (),
    "tenant": (),
    "terms_of_use": (),
    "authentication_context": (),
}
AGREEMENTS = "/identityGovernance/termsOfUse/agreements"
CONTEXTS = "/identity/conditionalAccess/authenticationContextClassReferences"
CONTEXT_ID = re.compile(r"^c([1-9]|[1-9][0-9])$", re.I)  # c1 ... c99
COMPLIANT_NETWORK = "#microsoft.graph.compliantNetworkNamedLocation"
# Built-in authentication strengths: the same ids in every tenant.
AUTH_STRENGTHS = {"mfa": "00000000-0000-0000-0000-000000000002",
                  "passwordless_mfa": "00000000-0000-0000-0000-000000000003",
                  "phishing_resistant_mfa": "00000000-0000-0000-0000-000000000004"}
STRENGTHS = "/policies/authenticationStrengthPolicies"
LABELS = {"user": "user", "group": "group", "role": "directory role", "location": "named location",
          "application": "application", "service_principal": "service principal",
          "authentication_strength": "authentication strength", "tenant": "tenant", "terms_of_use": "terms of use",
          "authentication_context": "authentication context"}
# First-party applications accepted by name even where the tenant has no service principal for them.
KNOWN_APPS = {
    "Azure Static Web Apps": "d414ee2d-73e5-4e5b-bb16-03ef55fea597",  # fronts the CIPP UI
    "Microsoft Graph": "00000003-0000-0000-c000-000000000000",
    "Windows Azure Service Management API": "797f4846-ba00-4fd7-ba43-dac1f8f63013",
    "Office 365 Exchange Online": "00000002-0000-0ff1-ce00-000000000000",
    "Office 365 SharePoint Online": "00000003-0000-0ff1-ce00-000000000000",
}


def _literal(kind, text):
    """The canonical spelling of a literal Graph accepts (case-insensitive), or None."""
    for literal in LITERALS[kind]:
        if literal.lower() == text.lower():
            return literal
    return None


class Resolver:
    def __init__(self, graph, check_mode=False):
        self.graph = graph
        self.check_mode = check_mode
        self.names = {}    # (kind, id) -> readable name
        self._ids = {}     # (kind, text) -> id
        self.warnings = []
        self._locations = None
        self._roles = None
        self._listed = {}  # path -> items, for the small collections read whole
        self._beta_locations = False
        self.keywords = set()  # non-GUID application values Graph itself returned (passed through as they are)

    # -- public -------------------------------------------------------------------------------
    def ids(self, kind, values, option):
        result = []
        for value in values or []:
            resolved = self.resolve(kind, value, option)
            if resolved not in result:
                result.append(resolved)
        return result

    def resolve(self, kind, value, option):
        if kind not in KINDS:
            raise ValueError("unknown kind %r" % kind)
        text = str(value).strip()
        literal = _literal(kind, text)
        if literal:
            return literal
        key = (kind, text.lower())
        if key not in self._ids:
            self._ids[key] = getattr(self, "_" + kind)(text, value, option)
        return self._ids[key]

    def name(self, kind, oid):
        if kind == "authentication_context" and CONTEXT_ID.match(str(oid)):
            key = (kind, str(oid).lower())
            if key not in self.names:
                self.names[key] = self._lookup_name(kind, str(oid))
            return self.names[key] or oid
        if _literal(kind, str(oid)) or not is_guid(oid):
            return self.names.get((kind, str(oid).lower()), oid)
        key = (kind, oid.lower())
        if key not in self.names:
            self.names[key] = self._lookup_name(kind, oid)
        return self.names[key] or oid

    # -- lookups by kind --------------------------------------------------------------------------
    def _remember(self, kind, oid, name):
        self.names[(kind, str(oid).lower())] = name
        return oid

    def _one(self, value, option, kind, matches):
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise InvalidOption(option, value, "no %s with this name exists in the tenant" % LABELS[kind])
        raise InvalidOption(option, value, "%d %ss match this name (ids: %s); use the id"
                            % (len(matches), LABELS[kind], ", ".join(str(m.get("id")) for m in matches)))

    def _get(self, path, value, option, kind):
        try:
            return self.graph.get(path)
        except GraphError as exc:
            if exc.status == 404:
                raise InvalidOption(option, value, "no %s with this id exists in the tenant" % LABELS[kind])
            raise

    def _filter(self, path, field, text):
        return self.graph.list(path, params={"$filter": "%s eq %s" % (field, odata_quote(text))})

    def _user(self, text, value, option):
        if is_guid(text):
            found = self._get("/users/%s" % quote(text), value, option, "user")
        else:
            found = self._one(value, option, "user", self._filter("/users", "userPrincipalName", text))
        return self._remember("user", found["id"], found.get("userPrincipalName") or found.get("displayName"))

    def _group(self, text, value, option):
        if is_guid(text):
            found = self._get("/groups/%s" % quote(text), value, option, "group")
        else:
            found = self._one(value, option, "group", self._filter("/groups", "displayName", text))
        return self._remember("group", found["id"], found.get("displayName"))

    def _role(self, text, value, option):
        roles = self._role_definitions()
        if is_guid(text):
            matches = [r for r in roles if text.lower() in ((r.get("templateId") or "").lower(), r["id"].lower())]
            if not matches:
                raise InvalidOption(option, value, "no directory role has this template id")
        else:
            matches = [r for r in roles if (r.get("displayName") or "").lower() == text.lower()]
        found = self._one(value, option, "role", matches)
        return found.get("templateId") or found["id"]

    def _location(self, text, value, option):
        def matching(locations):
            if is_guid(text):
                return [loc for loc in locations if loc["id"].lower() == text.lower()]
            return [loc for loc in locations if (loc.get("displayName") or "").lower() == text.lower()]
        matches = matching(self._named_locations()) or matching(self._named_locations(beta_too=True))
        if is_guid(text):
            if not matches:
                raise InvalidOption(option, value, "no named location has this id")
            return matches[0]["id"]
        if not matches and self.check_mode:
            # an earlier task of the same run (Step 1) would create it; check mode cannot know its id
            self.warnings.append("named location %r does not exist yet; check mode shows it by name" % text)
            placeholder = "(new location: %s)" % text
            return self._remember("location", placeholder, text)
        return self._one(value, option, "location", matches)["id"]

    def _application(self, text, value, option):
        if text in self.keywords:
            return text  # a keyword Graph returned for this policy: an export re-applies as it was
        for name, app_id in KNOWN_APPS.items():
            if text.lower() == name.lower():
                return self._remember("application", app_id, name)
        if is_guid(text):
            found = self._filter("/servicePrincipals", "appId", text)
            if not found:
                self.warnings.append("%s: no service principal in the tenant has appId %s; it is used as given"
                                     % (option, text))
                return text
            return self._remember("application", found[0]["appId"], found[0].get("displayName"))
        found = self._one(value, option, "application", self._filter("/servicePrincipals", "displayName", text))
        return self._remember("application", found["appId"], found.get("displayName"))

    def _service_principal(self, text, value, option):
        if is_guid(text):
            found = self._get("/servicePrincipals/%s" % quote(text), value, option, "service_principal")
        else:
            found = self._one(value, option, "service_principal",
                              self._filter("/servicePrincipals", "displayName", text))
        return self._remember("service_principal", found["id"], found.get("displayName"))

    def _authentication_strength(self, text, value, option):
        for name, sid in AUTH_STRENGTHS.items():
            if text.lower() in (name, sid):
                return self._remember("authentication_strength", sid, name)
        try:
            strengths = self.graph.list(STRENGTHS, params={"$select": "id,displayName,policyType"})
        except GraphError as exc:
            if exc.status in (400, 404):
                raise InvalidOption(option, value, "not a built-in strength (%s), and this Graph endpoint lists no "
                                    "custom ones" % ", ".join(AUTH_STRENGTHS))
            raise
        found = [s for s in strengths if (s.get("id") or "").lower() == text.lower()] or \
            [s for s in strengths if same_name(s.get("displayName"), text)]
        if not found:
            raise InvalidOption(option, value, "not a built-in strength (%s) nor the name or id of one in the tenant"
                                % ", ".join(AUTH_STRENGTHS))
        chosen = self._one(value, option, "authentication_strength", found)
        return self._remember("authentication_strength", chosen["id"], chosen.get("displayName"))

    def _by_name_or_id(self, kind, path, text, value, option, is_id):
        """A small collection read whole: the item whose id (``is_id``) or display name is ``text``."""
        items = self._collection(kind, path, option, value)
        if is_id(text):
            found = [i for i in items if str(i.get("id")).lower() == text.lower()]
            if not found:
                raise InvalidOption(option, value, "no %s with this id exists in the tenant" % LABELS[kind])
        else:
            found = [i for i in items if same_name(i.get("displayName"), text)]
        return self._one(value, option, kind, found)["id"]

    def _terms_of_use(self, text, value, option):
        return self._by_name_or_id("terms_of_use", AGREEMENTS, text, value, option, is_guid)

    def _authentication_context(self, text, value, option):
        return self._by_name_or_id("authentication_context", CONTEXTS, text, value, option,
                                   lambda t: bool(CONTEXT_ID.match(t)))

    def _collection(self, kind, path, option=None, value=None):
        if path not in self._listed:
            try:
                self._listed[path] = self.graph.list(path)
            except GraphError as exc:
                if option is None or exc.status not in (400, 403, 404):
                    raise
                raise InvalidOption(option, value, "cannot list the tenant's %ss (%s)" % (LABELS[kind], exc))
            for item in self._listed[path]:
                self._remember(kind, item["id"], item.get("displayName"))
        return self._listed[path]

    # -- cached collections ---------------------------------------------------------------------
    def _named_locations(self, beta_too=False):
        """v1.0's named locations; with ``beta_too`` (asked on a miss only) also the compliant network locations
        that only /beta lists (Global Secure Access: a beta-only type)."""
        if self._locations is None:
            self._locations = self.graph.list(LOCATIONS)
            for loc in self._locations:
                self._remember("location", loc["id"], loc.get("displayName"))
        if beta_too and not self._beta_locations:
            self._beta_locations = True
            try:
                beta = self.graph.list(LOCATIONS, version="beta",
                                       params={"$filter": "isof('microsoft.graph.compliantNetworkNamedLocation')"})
            except GraphError as exc:
                if exc.status not in (400, 403, 404):
                    raise
                beta = []
            known = {loc["id"] for loc in self._locations}
            for loc in beta:
                if loc.get("@odata.type") == COMPLIANT_NETWORK and loc["id"] not in known:
                    self._locations.append(loc)
                    self._remember("location", loc["id"], loc.get("displayName"))
        return self._locations

    def _role_definitions(self):
        if self._roles is None:
            self._roles = self.graph.list("/roleManagement/directory/roleDefinitions")
            for role in self._roles:
                self._remember("role", role.get("templateId") or role["id"], role.get("displayName"))
        return self._roles

    def _lookup_name(self, kind, oid):
        try:
            if kind == "tenant":  # names only, for diffs: another tenant's display name (or its domain)
                found = self.graph.get("/tenantRelationships/findTenantInformationByTenantId(tenantId='%s')" % oid)
                return found.get("displayName") or found.get("defaultDomainName") or oid
            if kind == "authentication_strength":
                found = [s for s in self.graph.list(STRENGTHS, params={"$select": "id,displayName"})
                         if (s.get("id") or "").lower() == oid.lower()]
                return found[0].get("displayName") if found else oid
            if kind in ("terms_of_use", "authentication_context"):
                self._collection(kind, AGREEMENTS if kind == "terms_of_use" else CONTEXTS)
                return self.names.get((kind, oid.lower()), oid)
            if kind == "location":
                self._named_locations()
                if (kind, oid.lower()) not in self.names:
                    self._named_locations(beta_too=True)
                return self.names.get((kind, oid.lower()), "%s (missing location)" % oid)
            if kind == "role":
                self._role_definitions()
                return self.names.get((kind, oid.lower()), oid)
            if kind == "application":
                known = [name for name, app_id in KNOWN_APPS.items() if app_id == oid.lower()]
                if known:
                    return known[0]
                found = self._filter("/servicePrincipals", "appId", oid)
                return found[0].get("displayName") if found else oid
            path = {"user": "/users/%s", "group": "/groups/%s", "service_principal": "/servicePrincipals/%s"}[kind]
            found = self.graph.get(path % quote(oid))
            return found.get("userPrincipalName") or found.get("displayName") or oid
        except GraphError as exc:
            if exc.status in (400, 403, 404):
                return oid
            raise
