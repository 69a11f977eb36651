# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input validation shared by every module: refuse bad input before the first request.

PRIVATE to the msp.conditional_access collection: the API may change without notice.

One rule per kind of input (endpoint URL, tenant, object id, name, IP range), each raising
InvalidOption with the option the user set, its value and what to change. GraphModule runs
``validate_common`` on the options every module shares before it builds any client.
"""

from __future__ import annotations

import ipaddress
import os
import re
from urllib.parse import quote, urlsplit

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# A DNS name with at least two labels (contoso.onmicrosoft.com, contoso.com).
DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$", re.I)
# Multi-tenant aliases: they name no tenant, so a write could land in whichever tenant the token picks.
HOST = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", re.I)
TENANT_ALIASES = ("common", "organizations", "consumers")
IPV4_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
# Every module has it (graph doc fragment): option -> the name its caller's users set, for error messages.
INPUT_ARGUMENT_SPEC = dict(input_names=dict(type="dict"))


class InvalidOption(Exception):
    """Bad input, reported with the option name and value before anything is written."""

    def __init__(self, option, value, reason):
        super().__init__("%s=%r: %s" % (option, value, reason))
        self.option = option
        self.value = value
        self.reason = reason

    def named(self, names):
        """The message with the option as the user knows it (``input_names``: option -> role variable...)."""
        if not names:
            return str(self)
        known = names.get(self.option, self.option)
        reason = self.reason
        for option, name in sorted((names or {}).items(), key=lambda item: -len(item[0])):
            reason = re.sub(r"(?<![\w.])%s(?==)" % re.escape(option.rsplit(".", 1)[-1]), name, reason)
        return "%s=%r: %s" % (known, self.value, reason)


def is_guid(value):
    return bool(value) and bool(GUID.match(str(value)))


def _is_ip(text):
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def env_note(value, variables):
    """' (set by the environment variable X)' when ``value`` came from one of ``variables``."""
    for name in variables or ():
        if value is not None and os.environ.get(name) == value:
            return " (set by the environment variable %s)" % name
    return ""


# -- endpoints ---------------------------------------------------------------------------------------------------

def https_url(option, value, env=(), bare_host=False, path=True):
    """``value`` as an https URL without a trailing slash, or InvalidOption.

    A bearer token goes to this URL, so http:// (clear text), credentials in the URL, a query or a fragment are
    refused. ``bare_host`` accepts 'login.microsoftonline.us' as https (azure-identity's own convention for
    authority hosts); ``path=False`` refuses any path.
    """
    text = str(value).strip()
    note = env_note(value, env)
    if bare_host and "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise InvalidOption(option, value, "not a valid URL (%s)%s" % (exc, note))
    if parts.scheme.lower() != "https":
        raise InvalidOption(option, value, "must be an https:// URL: a bearer token is sent there and must never "
                            "travel in clear text%s" % note)
    if not parts.hostname:
        raise InvalidOption(option, value, "has no host name; write it as https://<host>%s" % note)
    if not (HOST.match(parts.hostname) or _is_ip(parts.hostname)):
        raise InvalidOption(option, value, "%r is not a valid host name%s" % (parts.hostname, note))
    if parts.username is not None or parts.password is not None:
        raise InvalidOption(option, "<redacted>", "must not carry a user name or password%s" % note)
    if parts.query or parts.fragment:
        raise InvalidOption(option, value, "must not have a query (?) or fragment (#)%s" % note)
    if not path and parts.path.strip("/"):
        raise InvalidOption(option, value, "must be the host only (https://%s), without a path%s"
                            % (parts.netloc, note))
    return text.rstrip("/")


def graph_endpoint(value, env=()):
    url = https_url("graph_endpoint", value, env)
    if re.search(r"/(v1\.0|beta)$", url, re.I):
        raise InvalidOption("graph_endpoint", value, "leave the API version out (https://graph.microsoft.com, not "
                            ".../v1.0): the collection picks v1.0 or beta per request%s" % env_note(value, env))
    return url


def tenant(option, value, env=()):
    """A tenant id (GUID) or one of its domain names."""
    text = str(value).strip()
    if text.lower() in TENANT_ALIASES:
        raise InvalidOption(option, value, "'%s' names no tenant; give the tenant id (a GUID) or its domain "
                            "(contoso.onmicrosoft.com)%s" % (text, env_note(value, env)))
    if not (is_guid(text) or DOMAIN.match(text)):
        raise InvalidOption(option, value, "neither a tenant id (a GUID such as "
                            "72f988bf-86f1-41af-91ab-2d7cd011db47) nor a domain (contoso.onmicrosoft.com)%s"
                            % env_note(value, env))
    return text


def guid(option, value, what="an object id", env=()):
    if not is_guid(str(value).strip()):
        raise InvalidOption(option, value, "must be %s (a GUID such as 0854951d-5fc0-4eb1-b392-9b2c9d7949c2)%s"
                            % (what, env_note(value, env)))
    return str(value).strip()


def existing_file(option, value, env=()):
    if not os.path.isfile(str(value)):
        raise InvalidOption(option, value, "no such file%s" % env_note(value, env))
    return value


def ca_bundle_check():
    """REQUESTS_CA_BUNDLE / SSL_CERT_FILE, when set, must name a file or directory that exists."""
    for name in CA_BUNDLE_VARIABLES:
        path = os.environ.get(name)
        if path and not os.path.exists(path):
            raise InvalidOption(name, path, "the CA bundle this environment variable names does not exist; TLS is "
                                "always verified, so point it at the PEM file that signs the endpoint, or unset it")


def fallback_variables(spec, option):
    """The environment variables an option falls back to (from its argument spec)."""
    fallback = (spec.get(option) or {}).get("fallback") or (None, [])
    return fallback[1] if len(fallback) > 1 else []


# option -> rule(value, env variables) for the options several modules share; each returns the cleaned value
COMMON_RULES = {
    "tenant_id": lambda v, env: tenant("tenant_id", v, env),
    "client_id": lambda v, env: guid("client_id", v, "an application (client) id", env),
    "graph_endpoint": graph_endpoint,
    "authority_host": lambda v, env: https_url("authority_host", v, env, bare_host=True, path=False),
    "cipp_api_url": lambda v, env: https_url("cipp_api_url", v, env),
    "client_certificate_path": lambda v, env: existing_file("client_certificate_path", v, env),
    "id": lambda v, env: guid("id", v, "an object id"),
    "display_name": lambda v, env: name("display_name", v),
    "msp_tenant_id": lambda v, env: guid("msp_tenant_id", v, "the MSP's tenant id"),
    "service_account": lambda v, env: user_ref("service_account", v),
    "users": lambda v, env: [user_ref("users", u) for u in v],
    "groups": lambda v, env: [name("groups", g) for g in v],
    "policies": lambda v, env: [name("policies", x) for x in v],
}


def validate_common(params, spec):
    """Check (and clean in place) the shared options a module has, before any client is built."""
    for option, rule in COMMON_RULES.items():
        if option in spec and params.get(option) is not None:
            params[option] = rule(params[option], fallback_variables(spec, option))
    ca_bundle_check()


# -- names and path segments -----------------------------------------------------------------------------------------

def name(option, value):
    """A display name: not blank, no control characters."""
    text = str(value)
    if not text.strip():
        raise InvalidOption(option, value, "must not be blank")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidOption(option, value, "must not contain control characters (newline, tab...)")
    return value


def user_ref(option, value):
    """A user for a /users/{id or UPN} path: a GUID or a UPN (local@domain); quote it with path_segment."""
    text = str(value).strip()
    if not is_guid(text):
        local, at, domain = text.rpartition("@")
        if not at or not local or not DOMAIN.match(domain) or any(c in text for c in "/\\?#%") or \
                any(ord(c) <= 32 or ord(c) == 127 for c in text):
            raise InvalidOption(option, value, "must be a user principal name (someone@contoso.com) or an object id "
                                "(a GUID)")
    return text


def is_path_segment(value):
    """True for a non-empty string that stays one URL path segment as it is (an object id read from a file)."""
    return isinstance(value, str) and bool(value.strip()) and value not in (".", "..") and \
        not any(c in value for c in "/\\?#%") and not any(ord(c) <= 32 or ord(c) == 127 for c in value)


def path_segment(value):
    """``value`` quoted as one URL path segment ('/' and '?' can never start another segment or a query)."""
    return quote(str(value), safe="@")


# -- IP ranges -------------------------------------------------------------------------------------------------------

def networks(option, entries, allow_any_ip=False, min_prefix=0, warn=None):
    """Validated networks: deduplicated and sorted (IPv4 first), host bits cleared.

    Bare addresses become /32 or /128. A range with host bits set (203.0.113.10/24) is normalised and reported
    through ``warn``. Refused: blank entries, zone ids (fe80::1%eth0), IPv4-mapped IPv6 (::ffff:203.0.113.10;
    write the IPv4 form), prefixes shorter than ``min_prefix``, and ranges that together cover every IPv4 or every
    IPv6 address unless ``allow_any_ip``.
    """
    result = []
    for entry in entries or []:
        text = str(entry).strip() if entry is not None else ""
        if not text:
            raise InvalidOption(option, entry, "blank entry; every entry is an IPv4/IPv6 address or CIDR range")
        if "%" in text:
            raise InvalidOption(option, entry, "zone ids (%...) are link-local only and never match a sign-in "
                                "address; remove the zone id")
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise InvalidOption(option, entry, "not an IPv4/IPv6 address or CIDR range (such as 203.0.113.0/24 or "
                                "2001:db8::/48)")
        if network.version == 6 and network.subnet_of(IPV4_MAPPED):
            raise InvalidOption(option, entry, "IPv4-mapped IPv6 address; write the IPv4 form (%s)"
                                % ipaddress.ip_network("%s/%d" % (network.network_address.ipv4_mapped,
                                                                  network.prefixlen - 96)))
        if network.prefixlen < min_prefix:
            raise InvalidOption(option, entry, "the prefix must be longer than /%d" % (min_prefix - 1))
        address = text.split("/", maxsplit=1)[0]
        if "/" in text and str(network.network_address) != str(ipaddress.ip_address(address)) and warn:
            warn("%s: %s has host bits set; it is used as %s" % (option, text, display(network)))
        if network not in result:
            result.append(network)
    result.sort(key=lambda n: (n.version, n))
    if not allow_any_ip:
        for version in (4, 6):
            collapsed = list(ipaddress.collapse_addresses(n for n in result if n.version == version))
            if collapsed and collapsed[0].prefixlen == 0:
                raise InvalidOption(option, [display(n) for n in result if n.version == version][:5] +
                                    (["..."] if len(result) > 5 else []),
                                    "these ranges together cover every IPv%d address; set allow_any_ip=true if "
                                    "that is what you want" % version)
    return result


def display(network):
    """The one form a range is shown in (diffs, results, comparisons): compressed, lowercase, with prefix."""
    return str(network)


def display_text(cidr):
    """A stored range text in the display form; text that is no network is shown as it is."""
    try:
        return display(ipaddress.ip_network(str(cidr).strip(), strict=False))
    except ValueError:
        return cidr
