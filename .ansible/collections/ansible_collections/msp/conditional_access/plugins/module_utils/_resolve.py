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

from ._graph import GraphError, odata_quote
from ._module import InvalidOption

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
KINDS = ("user", "group", "role", "location", "application", "service_principal")
LITERALS = {
    "user": ("All", "None", "GuestsOrExternalUsers"),
    "group": (),
    "role": (),
    "location": ("All", "AllTrusted", "00000000-0000-0000-0000-000000000000"),
    "application": ("All", "None", "Office365", "MicrosoftAdminPortals"),
    "service_principal": ("ServicePrincipalsInMyTenant",),
}
LABELS = {"user": "user", "group": "group", "role": "directory role", "location": "named location",
          "application": "application", "service_principal": "service principal"}
# First-party applications accepted by name even where the tenant has no service principal for them.
KNOWN_APPS = {
    "Azure Static Web Apps": "d414ee2d-73e5-4e5b-bb16-03ef55fea597",  # fronts the CIPP UI
    "Microsoft Graph": "00000003-0000-0000-c000-000000000000",
    "Windows Azure Service Management API": "797f4846-ba00-4fd7-ba43-dac1f8f63013",
    "Office 365 Exchange Online": "00000002-0000-0ff1-ce00-000000000000",
    "Office 365 SharePoint Online": "00000003-0000-0ff1-ce00-000000000000",
}
LOCATIONS = "/identity/conditionalAccess/namedLocations"


def is_guid(value):
    return bool(GUID.match(str(value)))


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
        locations = self._named_locations()
        if is_guid(text):
            matches = [loc for loc in locations if loc["id"].lower() == text.lower()]
            if not matches:
                raise InvalidOption(option, value, "no named location has this id")
            return matches[0]["id"]
        matches = [loc for loc in locations if (loc.get("displayName") or "").lower() == text.lower()]
        if not matches and self.check_mode:
            # an earlier task of the same run (Step 1) would create it; check mode cannot know its id
            self.warnings.append("named location %r does not exist yet; check mode shows it by name" % text)
            placeholder = "(new location: %s)" % text
            return self._remember("location", placeholder, text)
        return self._one(value, option, "location", matches)["id"]

    def _application(self, text, value, option):
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

    # -- cached collections ---------------------------------------------------------------------
    def _named_locations(self):
        if self._locations is None:
            self._locations = self.graph.list(LOCATIONS)
            for loc in self._locations:
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
            if kind == "location":
                self._named_locations()
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
            if exc.status in (403, 404):
                return oid
            raise
