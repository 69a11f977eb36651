# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names <-> ids for users, groups, directory roles, named locations and applications.

PRIVATE to the msp.conditional_access collection: the API may change without notice.

``Resolver(graph)``: ``ids(kind, values, option)`` turns names into ids (keeping the literals Graph
accepts, such as ``All``) and fails on 0 or more than one match; ``name(kind, id)`` renders an id for a
diff. Every lookup is cached for the module run.
"""

from __future__ import annotations

import re

from ._graph import GraphError, odata_quote
from ._module import InvalidOption

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
LITERALS = {
    "user": {"All", "None", "GuestsOrExternalUsers"},
    "group": set(),
    "role": set(),
    "location": {"All", "AllTrusted", "00000000-0000-0000-0000-000000000000"},
    "application": {"All", "None", "Office365", "MicrosoftAdminPortals"},
}
# Well-known first-party applications, accepted by name without a lookup.
KNOWN_APPS = {
    "azure static web apps": "d414ee2d-73e5-4e5b-bb16-03ef55fea597",  # fronts the CIPP UI
    "microsoft graph": "00000003-0000-0000-c000-000000000000",
    "windows azure service management api": "797f4846-ba00-4fd7-ba43-dac1f8f63013",
}


def is_guid(value):
    return bool(GUID.match(str(value)))


class Resolver:
    def __init__(self, graph, check_mode=False):
        self.graph = graph
        self.check_mode = check_mode
        self.names = {}  # (kind, id) -> readable name
        self.warnings = []
        self._locations = None
        self._roles = None

    # -- lookups ------------------------------------------------------------------------------
    def locations(self):
        if self._locations is None:
            self._locations = self.graph.list("/identity/conditionalAccess/namedLocations")
            for loc in self._locations:
                self.names[("location", loc["id"])] = loc.get("displayName")
        return self._locations

    def roles(self):
        if self._roles is None:
            self._roles = self.graph.list("/roleManagement/directory/roleDefinitions")
            for role in self._roles:
                self.names[("role", role.get("templateId") or role["id"])] = role.get("displayName")
        return self._roles

    def _one(self, kind, value, option, matches, label):
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise InvalidOption(option, value, "no %s with this name exists in the tenant" % label)
        raise InvalidOption(option, value, "%d %ss share this name (ids: %s); use the id"
                            % (len(matches), label, ", ".join(m.get("id") for m in matches)))

    def resolve(self, kind, value, option):
        text = str(value).strip()
        if text in LITERALS[kind]:
            return text
        if kind == "user":
            if is_guid(text):
                return text
            try:
                found = self.graph.get("/users/%s" % text)
            except GraphError as exc:
                if exc.status == 404:
                    raise InvalidOption(option, value, "no user with this UPN exists in the tenant")
                raise
            self.names[("user", found["id"])] = found.get("userPrincipalName")
            return found["id"]
        if kind == "group":
            if is_guid(text):
                return text
            found = self._one(kind, value, option, self.graph.list(
                "/groups", params={"$filter": "displayName eq %s" % odata_quote(text)}), "group")
            self.names[("group", found["id"])] = found.get("displayName")
            return found["id"]
        if kind == "role":
            if is_guid(text):
                return text
            matches = [r for r in self.roles() if (r.get("displayName") or "").lower() == text.lower()]
            return self._one(kind, value, option, matches, "directory role").get("templateId") or matches[0]["id"]
        if kind == "location":
            if is_guid(text):
                return text
            matches = [loc for loc in self.locations() if loc.get("displayName") == text]
            if not matches and self.check_mode:
                # an earlier task of the same run (Step 1) would create it; check mode cannot know its id
                self.warnings.append("named location %r does not exist yet; check mode shows it by name" % text)
                placeholder = "(new location: %s)" % text
                self.names[("location", placeholder)] = text
                return placeholder
            return self._one(kind, value, option, matches, "named location")["id"]
        if kind == "application":
            if is_guid(text):
                return text
            if text.lower() in KNOWN_APPS:
                return KNOWN_APPS[text.lower()]
            found = self._one(kind, value, option, self.graph.list(
                "/servicePrincipals", params={"$filter": "displayName eq %s" % odata_quote(text)}), "application")
            self.names[("application", found["appId"])] = found.get("displayName")
            return found["appId"]
        raise ValueError(kind)

    def ids(self, kind, values, option):
        result = []
        for value in values or []:
            resolved = self.resolve(kind, value, option)
            if resolved not in result:
                result.append(resolved)
        return result

    # -- rendering ------------------------------------------------------------------------------
    def name(self, kind, oid):
        """A readable name for an id (one cached lookup per unknown id); literals stay as they are."""
        if oid in LITERALS[kind] or not is_guid(oid):
            return oid
        key = (kind, oid)
        if key not in self.names:
            self.names[key] = self._lookup_name(kind, oid)
        return self.names[key] or oid

    def _lookup_name(self, kind, oid):
        if kind == "location":
            self.locations()
            return self.names.get((kind, oid), oid + " (missing location)")
        if kind == "role":
            self.roles()
            return self.names.get((kind, oid), oid)
        for name, app_id in KNOWN_APPS.items():
            if kind == "application" and app_id == oid:
                return name.title()
        path = {"user": "/users/%s", "group": "/groups/%s"}.get(kind)
        try:
            if path:
                found = self.graph.get(path % oid)
                return found.get("userPrincipalName") or found.get("displayName")
            found = self.graph.list("/servicePrincipals", params={"$filter": "appId eq %s" % odata_quote(oid)})
            return found[0].get("displayName") if found else oid
        except GraphError as exc:
            if exc.status in (403, 404):
                return oid
            raise
