"""The shared input rules of _inputs: endpoints, tenants, ids, names and IP ranges (no network)."""

import pytest

from ansible_collections.msp.conditional_access.plugins.module_utils._inputs import (
    InvalidOption, display_text, https_url, networks, path_segment, tenant, user_ref, validate_common)


@pytest.mark.parametrize("url, reason", [
    ("http://graph.microsoft.com", "https://"),
    ("HTTP://graph.microsoft.com", "https://"),
    ("graph.microsoft.com", "https://"),
    ("https://", "host name"),
    ("https://exa mple.com", "not a valid host name"),
    ("https://u:p@graph.microsoft.com", "user name or password"),
    ("https://graph.microsoft.com/?a=1", "query"),
    ("https://graph.microsoft.com:99999", "not a valid URL"),
    ("https://[::1", "not a valid URL"),
])
def test_endpoints_must_be_https_urls(url, reason):
    with pytest.raises(InvalidOption) as raised:
        https_url("graph_endpoint", url)
    assert raised.value.option == "graph_endpoint" and reason in str(raised.value)


def test_endpoint_from_the_environment_says_so(monkeypatch):
    monkeypatch.setenv("MSGRAPH_ENDPOINT", "http://127.0.0.1:8443")
    with pytest.raises(InvalidOption, match="set by the environment variable MSGRAPH_ENDPOINT"):
        https_url("graph_endpoint", "http://127.0.0.1:8443", env=["MSGRAPH_ENDPOINT"])


def test_authority_accepts_a_bare_host_but_no_path():
    assert https_url("authority_host", "login.microsoftonline.us", bare_host=True, path=False) \
        == "https://login.microsoftonline.us"
    with pytest.raises(InvalidOption, match="without a path"):
        https_url("authority_host", "https://login.microsoftonline.com/contoso", bare_host=True, path=False)


@pytest.mark.parametrize("value", ["72f988bf-86f1-41af-91ab-2d7cd011db47", "contoso.onmicrosoft.com", "contoso.com"])
def test_tenants_are_guids_or_domains(value):
    assert tenant("tenant_id", value) == value


@pytest.mark.parametrize("value", ["common", "organizations", "contoso", "not a tenant", "a/b.com", "x" * 300 + ".com"])
def test_other_tenants_are_refused(value):
    with pytest.raises(InvalidOption):
        tenant("tenant_id", value)


def test_user_refs_are_validated_and_quoted():
    assert user_ref("users", " alice@contoso.com ") == "alice@contoso.com"
    assert path_segment("o'neil@contoso.com") == "o%27neil@contoso.com"
    for bad in ("alice", "../groups", "a@b.com?$select=id", "a/b@c.com", "@contoso.com", "a b@contoso.com"):
        with pytest.raises(InvalidOption):
            user_ref("users", bad)


def test_networks_fold_sort_warn_and_refuse():
    warnings = []
    nets = networks("ip_ranges", ["2001:DB8:0:0::1", "203.0.113.10/24", "198.51.100.7"], warn=warnings.append)
    assert [str(n) for n in nets] == ["198.51.100.7/32", "203.0.113.0/24", "2001:db8::1/128"]
    assert warnings == ["ip_ranges: 203.0.113.10/24 has host bits set; it is used as 203.0.113.0/24"]
    for bad, reason in [("fe80::1%eth0", "zone"), ("::ffff:203.0.113.10", "IPv4-mapped"), ("", "blank"),
                        ("10.0.0.0/8", "longer than /8")]:
        with pytest.raises(InvalidOption, match=reason):
            networks("ip_ranges", [bad], min_prefix=9)
    with pytest.raises(InvalidOption, match="every IPv4 address"):
        networks("ip_ranges", ["0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/2"])
    assert len(networks("ip_ranges", ["0.0.0.0/1", "128.0.0.0/1"], allow_any_ip=True)) == 2


def test_one_display_form():
    assert display_text("2001:0DB8:0010:0000:0000:0000:0000:0000/48") == "2001:db8:10::/48"
    assert display_text("not a range") == "not a range"


def test_validate_common_checks_only_options_the_module_has(monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    params = {"tenant_id": " contoso.onmicrosoft.com ", "id": "not-a-guid"}
    validate_common(params, {"tenant_id": {}})
    assert params["tenant_id"] == "contoso.onmicrosoft.com"
    with pytest.raises(InvalidOption, match="id='not-a-guid'"):
        validate_common(params, {"tenant_id": {}, "id": {}})
