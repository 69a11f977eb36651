"""_resolve.Resolver against a stand-in Graph client: filters, quoting, 0/1/2+ matches, caching, names."""

import pytest

from ansible_collections.msp.conditional_access.plugins.module_utils._module import InvalidOption
from ansible_collections.msp.conditional_access.plugins.module_utils._resolve import Resolver
from fake_transport import FakeTransport

U1 = "aaaaaaaa-0000-4000-8000-000000000001"
G1, G2, G3 = ("bbbbbbbb-0000-4000-8000-00000000000%d" % i for i in (1, 2, 3))
L1 = "cccccccc-0000-4000-8000-000000000001"
GA = "62e90394-69f5-4237-9190-012177145e10"


def directory():
    """A tiny directory in the one fake transport (the sandbox's Graph answers the lookups)."""
    return FakeTransport(
        users=[{"id": U1, "userPrincipalName": "o'brien@contoso.com"}],
        groups=[{"id": G1, "displayName": "CIPP Technicians"}, {"id": G2, "displayName": "Dup"},
                {"id": G3, "displayName": "dup"}],
        servicePrincipals=[{"id": "eeeeeeee-0000-4000-8000-000000000001", "appId": "dddddddd-0000-4000-8000-000000000001",
                            "displayName": "CIPP-SAM"}],
        locations=[{"@odata.type": "#microsoft.graph.ipNamedLocation", "id": L1, "displayName": "Trusted - MSP Office",
                    "isTrusted": True, "ipRanges": []}])


def test_names_become_ids_with_quotes_doubled_and_cached():
    transport = directory()
    resolver = Resolver(transport.graph())
    assert resolver.ids("user", ["o'brien@contoso.com", "All", "O'Brien@contoso.com"], "opt") == [U1, "All"]
    assert transport.queries == [("GET", "/v1.0/users", {"$filter": "userPrincipalName eq 'o''brien@contoso.com'"})]
    # (the second spelling came from the cache)
    assert resolver.resolve("group", "CIPP Technicians", "opt") == G1
    assert resolver.resolve("role", "global administrator", "opt") == GA
    assert resolver.resolve("role", GA, "opt") == GA
    assert resolver.resolve("location", "Trusted - MSP Office", "opt") == L1
    assert resolver.resolve("application", "CIPP-SAM", "opt") == "dddddddd-0000-4000-8000-000000000001"
    assert resolver.resolve("application", "azure static web apps", "opt") == "d414ee2d-73e5-4e5b-bb16-03ef55fea597"
    assert resolver.resolve("application", "office365", "opt") == "Office365"
    assert resolver.name("user", U1) == "o'brien@contoso.com"
    assert resolver.name("location", L1) == "Trusted - MSP Office"


@pytest.mark.parametrize("kind, value, reason", [
    ("group", "Nobody", "no group with this name"),
    ("group", "Dup", "2 groups match this name \\(ids: %s, %s\\)" % (G2, G3)),
    ("user", "ghost@contoso.com", "no user with this name"),
    ("user", "aaaaaaaa-0000-4000-8000-00000000dead", "no user with this id"),
    ("role", "Chief Wizard", "no directory role"),
    ("location", "Nowhere", "no named location"),
    ("location", "aaaaaaaa-0000-4000-8000-00000000dead", "no named location has this id"),
    ("application", "Nothing", "no application"),
])
def test_zero_or_several_matches_fail_naming_option_and_value(kind, value, reason):
    with pytest.raises(InvalidOption, match=reason) as err:
        Resolver(directory().graph()).resolve(kind, value, "conditions.x")
    assert err.value.option == "conditions.x" and err.value.value == value


def test_check_mode_shows_a_location_an_earlier_task_would_create():
    resolver = Resolver(directory().graph(), check_mode=True)
    placeholder = resolver.resolve("location", "New Office", "opt")
    assert resolver.name("location", placeholder) == "New Office"
    assert resolver.warnings


def test_unknown_ids_render_as_themselves():
    resolver = Resolver(directory().graph())
    assert resolver.name("user", "aaaaaaaa-0000-4000-8000-00000000dead") == "aaaaaaaa-0000-4000-8000-00000000dead"
    assert resolver.name("user", "All") == "All"
