"""Pure logic of named locations: canonical ranges, validation, summaries."""

import pytest

from ansible_collections.msp.conditional_access.plugins.module_utils._location import (
    canonical_countries, canonical_ranges, summarize)
from ansible_collections.msp.conditional_access.plugins.module_utils._module import InvalidOption


def test_bare_addresses_become_host_networks_and_duplicates_fold():
    nets = canonical_ranges(["203.0.113.10", "203.0.113.10/32", "2001:db8::1", "198.51.100.7/24"])
    assert [str(n) for n in nets] == ["198.51.100.0/24", "203.0.113.10/32", "2001:db8::1/128"]


@pytest.mark.parametrize("entry, reason", [
    ("10.0.0.0/8", "longer than /8"),
    ("0.0.0.0/0", "longer than /8"),
    ("2001::/8", "longer than /8"),
    ("203.0.113.300", "not an IPv4/IPv6"),
    ("office", "not an IPv4/IPv6"),
    ("203.0.113.0/33", "not an IPv4/IPv6"),
])
def test_invalid_ranges_name_the_option_and_value(entry, reason):
    with pytest.raises(InvalidOption) as err:
        canonical_ranges(["203.0.113.0/24", entry])
    assert err.value.option == "ip_ranges"
    assert repr(entry) in str(err.value) and reason in str(err.value)


def test_more_than_2000_ranges_refused():
    many = ["100.%d.%d.0/24" % (i // 250, i % 250) for i in range(2001)]
    with pytest.raises(InvalidOption, match="at most 2000"):
        canonical_ranges(many)
    assert len(canonical_ranges(many[:2000])) == 2000


def test_empty_range_list_refused():
    with pytest.raises(InvalidOption, match="at least one range"):
        canonical_ranges([])


def test_country_codes_upper_cased_and_checked():
    assert canonical_countries(["nl", "BE", "nl"]) == ["BE", "NL"]
    with pytest.raises(InvalidOption, match="countries_and_regions='Netherlands'"):
        canonical_countries(["Netherlands"])


def test_summary_compares_ranges_as_sets():
    a = {"@odata.type": "#microsoft.graph.ipNamedLocation", "displayName": "x", "isTrusted": True,
         "ipRanges": [{"cidrAddress": "12.34.221.11/22"}, {"cidrAddress": "2001:0:9d38:90d6:0:0:0:0/63"}]}
    b = {"@odata.type": "#microsoft.graph.ipNamedLocation", "displayName": "x", "isTrusted": True,
         "ipRanges": [{"cidrAddress": "2001:0:9d38:90d6::/63"}, {"cidrAddress": "12.34.220.0/22"}]}
    assert summarize(a) == summarize(b)
    assert summarize(a)["ip_ranges"] == ["12.34.220.0/22", "2001:0:9d38:90d6::/63"]
