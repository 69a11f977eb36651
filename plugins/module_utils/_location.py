# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Named locations (Step 1): desired state, comparison, diff and the Graph calls.

PRIVATE to the msp.conditional_access collection: the API may change without notice.
"""

from __future__ import annotations

import re
import time

from ._ca import LOCATIONS, POLICIES
from ._diff import canonical_network, make_diff
from ._graph import GraphError, odata_quote
from ._inputs import InvalidOption, display, display_text, networks
from ._objects import named_locations

IP_TYPE = "#microsoft.graph.ipNamedLocation"
COUNTRY_TYPE = "#microsoft.graph.countryNamedLocation"
RANGE_TYPES = {4: "#microsoft.graph.iPv4CidrRange", 6: "#microsoft.graph.iPv6CidrRange"}
MAX_RANGES = 2000  # Entra limit per named location
MIN_PREFIX = 9  # "Only CIDR masks greater than /8 are allowed"
COUNTRY_LOOKUP = {"client_ip_address": "clientIpAddress", "authenticator_app_gps": "authenticatorAppGps"}
COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")


def canonical_ranges(ranges, allow_any_ip=False, warn=None):
    """Validate and canonicalise ip_ranges (see _inputs.networks); Entra takes /9 or longer, 2000 at most."""
    if not ranges:
        raise InvalidOption("ip_ranges", ranges, "an IP location needs at least one range")
    result = networks("ip_ranges", ranges, allow_any_ip=allow_any_ip, min_prefix=MIN_PREFIX, warn=warn)
    if len(result) > MAX_RANGES:
        raise InvalidOption("ip_ranges", "%d ranges" % len(result),
                            "a named location holds at most %d ranges" % MAX_RANGES)
    return result


def shown_ranges(location):
    """A Graph location with its ipRanges in the one display form (compressed, lowercase), sorted."""
    if not location or not location.get("ipRanges"):
        return location
    ranges = sorted(location["ipRanges"], key=lambda r: _sort_key(r.get("cidrAddress")))
    return dict(location, ipRanges=[dict(r, cidrAddress=display_text(r.get("cidrAddress"))) for r in ranges])


def _sort_key(cidr):
    try:
        network = canonical_network(cidr)
        return (network.version, int(network.network_address), network.prefixlen, "")
    except ValueError:
        return (9, 0, 0, str(cidr))


def canonical_countries(codes):
    if not codes:
        raise InvalidOption("countries_and_regions", codes, "a country location needs at least one code")
    result = []
    for code in codes:
        upper = str(code).strip().upper()
        if not COUNTRY_CODE.match(upper):
            raise InvalidOption("countries_and_regions", code, "not an ISO 3166-1 alpha-2 code such as 'NL'")
        if upper not in result:
            result.append(upper)
    return sorted(result)


def summarize(location):
    """The shape people read in a diff: names and networks, no server fields."""
    if not location:
        return {}
    summary = {"display_name": location.get("displayName")}
    if location.get("@odata.type") == COUNTRY_TYPE or "countriesAndRegions" in location:
        summary.update(type="country",
                       countries_and_regions=sorted(location.get("countriesAndRegions") or []),
                       include_unknown_countries_and_regions=bool(location.get("includeUnknownCountriesAndRegions")),
                       country_lookup_method=location.get("countryLookupMethod") or "clientIpAddress")
    else:
        summary.update(type="ip", is_trusted=bool(location.get("isTrusted")),
                       ip_ranges=[r["cidrAddress"] for r in shown_ranges(location).get("ipRanges") or []])
    return summary


def locations_of(policy):
    """Ids of the named locations a policy includes or excludes (as written: ids in any case, 'AllTrusted'...)."""
    locations = (policy.get("conditions") or {}).get("locations") or {}
    return {str(x).lower() for x in (locations.get("includeLocations") or []) + (locations.get("excludeLocations") or [])}


def uses(policy, location):
    """True when ``policy`` names ``location``, by id or (for a trusted one) through 'AllTrusted'."""
    named = locations_of(policy)
    return str(location.get("id")).lower() in named or (bool(location.get("isTrusted")) and "alltrusted" in named)


def location_type(location):
    return "country" if summarize(location).get("type") == "country" else "ip"


class NamedLocations:
    """Finds, creates, updates and deletes one named location for a GraphModule."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.graph = module.graph

    # -- desired state ----------------------------------------------------------------------
    def desired_kind(self):
        if self.params.get("ip_ranges") is not None:
            return "ip"
        if self.params.get("countries_and_regions") is not None:
            return "country"
        return None

    def desired_fields(self, current):
        """The Graph fields the task sets (only those), validated."""
        p = self.params
        fields = {"displayName": p["display_name"]} if p.get("display_name") else {}
        if p.get("ip_ranges") is not None:
            fields["ipRanges"] = [{"@odata.type": RANGE_TYPES[n.version], "cidrAddress": display(n)}
                                  for n in canonical_ranges(p["ip_ranges"], p.get("allow_any_ip"), self.module.warn)]
        if p.get("is_trusted") is not None:
            fields["isTrusted"] = p["is_trusted"]
        if p.get("countries_and_regions") is not None:
            fields["countriesAndRegions"] = canonical_countries(p["countries_and_regions"])
        if p.get("include_unknown_countries_and_regions") is not None:
            fields["includeUnknownCountriesAndRegions"] = p["include_unknown_countries_and_regions"]
        if p.get("country_lookup_method") is not None:
            fields["countryLookupMethod"] = COUNTRY_LOOKUP[p["country_lookup_method"]]
        kind = self.desired_kind() or (location_type(current) if current else None)
        if kind is None:
            raise InvalidOption("ip_ranges", None, "a new location needs ip_ranges or countries_and_regions")
        country_fields = ("countriesAndRegions", "includeUnknownCountriesAndRegions", "countryLookupMethod")
        if kind == "ip" and any(k in fields for k in country_fields):
            raise InvalidOption("countries_and_regions", p.get("countries_and_regions"),
                                "country options do not apply to an IP location")
        if kind == "country" and fields.get("isTrusted"):
            raise InvalidOption("is_trusted", True, "only IP locations can be trusted")
        if kind == "country":
            # countryNamedLocation has no isTrusted at all: Graph refuses the property even when false
            fields.pop("isTrusted", None)
        fields["@odata.type"] = IP_TYPE if kind == "ip" else COUNTRY_TYPE
        return fields

    # -- lookup -----------------------------------------------------------------------------
    def find(self):
        # the collection's display-name rule: case-insensitive like Graph's eq, two matches name both ids
        self.endpoint = named_locations(self.module)
        return self.endpoint.find(self.params.get("id"), self.params.get("display_name"))

    def referencing_policies(self, location):
        policies = self.graph.list(POLICIES, params={"$select": "id,displayName,conditions"})
        return [policy for policy in policies if uses(policy, location)]

    # -- actions ----------------------------------------------------------------------------
    def ensure(self):
        current = self.find()
        if self.params["state"] == "absent":
            return self.ensure_absent(current)
        return self.ensure_present(current)

    def ensure_present(self, current):
        p = self.params
        if current is None and p.get("id"):
            raise InvalidOption("id", p["id"], "no named location has this id; omit id to create one by display_name")
        if current is None and not p.get("display_name"):
            raise InvalidOption("display_name", None, "needed to create a named location")
        desired = self.desired_fields(current)
        if current is None:
            body = dict(desired)
            if body["@odata.type"] == IP_TYPE:
                body.setdefault("isTrusted", False)
            return self.result(True, None, self.endpoint.create(body))

        if desired["@odata.type"] != current.get("@odata.type"):
            raise InvalidOption("ip_ranges" if desired["@odata.type"] == IP_TYPE else "countries_and_regions",
                                p.get("ip_ranges") or p.get("countries_and_regions"),
                                "location %r is a %s location; Graph cannot change the type. Delete it and create a "
                                "new one" % (current.get("displayName"), location_type(current)))
        after = dict(current)
        after.update(desired)
        if summarize(after) == summarize(current):
            return self.result(False, current, current)
        patch = {k: v for k, v in desired.items() if k == "@odata.type" or current.get(k) != v}
        return self.result(True, *self.endpoint.update(current, patch))

    def ensure_absent(self, current):
        if current is None:
            return self.result(False, None, None)
        users = self.referencing_policies(current)
        if users and not self.params.get("force"):
            raise InvalidOption("force", False, "location %r is used by policies %s; remove it from them first, or set "
                                "force=true to delete it anyway (nothing was written)" % (
                                    current.get("displayName"),
                                    ", ".join("%r (%s)" % (u.get("displayName"), u["id"]) for u in users)))
        path = "%s/%s" % (LOCATIONS, current["id"])
        if not current.get("isTrusted"):
            self.module.write("DELETE", path, current=current)
            return self.result(True, current, None)
        # Graph refuses to delete a trusted location: untrust it, wait until that reads back, delete; a refused
        # delete trusts it again, so no run ends with the location untrusted but still there.
        self.module.write("PATCH", path, {"@odata.type": IP_TYPE, "isTrusted": False}, current=current)
        if not self.module.check_mode:
            self.wait_untrusted(path)
        try:
            self.module.write("DELETE", path, current=current)
        except GraphError as exc:
            self.restore_trust(path, exc, current)
        return self.result(True, current, None)

    def restore_trust(self, path, error, current):
        try:
            self.module.write("PATCH", path, {"@odata.type": IP_TYPE, "isTrusted": True}, current=current)
        except GraphError as again:
            raise GraphError(error.status, error.code, "%s; trusting the location again failed too (%s): it is now "
                             "untrusted, set is_trusted=true to restore it" % (error.message, again.message),
                             error.method, error.url, error.tenant_id)
        raise GraphError(error.status, error.code, "%s; the location was trusted again, nothing changed"
                         % error.message, error.method, error.url, error.tenant_id)

    def wait_untrusted(self, path):
        for attempt in range(self.graph.lag_retries + 1):
            if not self.graph.get_after_write(path).get("isTrusted"):
                return
            time.sleep(self.graph.lag_delay * (attempt + 1))

    def result(self, changed, before, after):
        name = (after or before or {}).get("displayName") or self.params.get("display_name")
        result = {"changed": changed, "named_location": shown_ranges(after) or {}}
        if self.module._diff:
            result["diff"] = make_diff(summarize(before), summarize(after),
                                       "named location %r (Graph)" % name, "named location %r (task)" % name)
        return result


def list_locations(graph, display_name=None, location_id=None, with_references=False):
    """For ca_named_location_info: the locations, summarised, optionally with the policies using them."""
    if location_id:
        try:
            locations = [graph.get("%s/%s" % (LOCATIONS, location_id))]
        except GraphError as exc:  # an info module reports "none", it does not fail on an unknown id
            if exc.status != 404:
                raise
            locations = []
    elif display_name:
        locations = graph.list(LOCATIONS, params={"$filter": "displayName eq %s" % odata_quote(display_name)})
    else:
        locations = graph.list(LOCATIONS)
    policies = graph.list(POLICIES, params={"$select": "id,displayName,conditions"}) if with_references else []
    result = []
    for location in locations:
        entry = dict(summarize(location), id=location["id"], created=location.get("createdDateTime"),
                     modified=location.get("modifiedDateTime"))
        if with_references:
            entry["used_by"] = [{"id": p["id"], "display_name": p.get("displayName")}
                                for p in policies if uses(p, location)]
        result.append(entry)
    return result
