"""Credential selection and cloud endpoints (no network)."""

import pytest

from ansible_collections.msp.conditional_access.plugins.module_utils._auth import AuthError, Authenticator


def params(**kw):
    base = dict(tenant_id="t", client_id="c", client_secret=None, client_certificate_path=None,
                client_certificate_password=None, auth_method="auto", access_token=None, cloud="public",
                graph_endpoint=None, authority_host=None)
    base.update(kw)
    return base


@pytest.mark.parametrize("given, method", [
    (dict(access_token="tok", client_secret="s"), "access_token"),
    (dict(client_secret="s"), "client_secret"),
    (dict(client_certificate_path="/x.pem"), "certificate"),
    (dict(), "azure_cli"),
])
def test_auto_picks_the_most_specific_method(monkeypatch, given, method):
    monkeypatch.delenv("AZURE_FEDERATED_TOKEN_FILE", raising=False)
    assert Authenticator(params(**given)).method == method


def test_auto_uses_workload_identity_when_federated_token_file_is_set(monkeypatch):
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token")
    assert Authenticator(params()).method == "workload_identity"


def test_missing_secret_is_reported_by_option_name():
    auth = Authenticator(params(auth_method="client_secret", client_id=None))
    with pytest.raises(AuthError, match=r"needs client_id \(AZURE_CLIENT_ID\), client_secret \(AZURE_CLIENT_SECRET\)"):
        auth.graph_token()


def test_no_credentials_name_the_environment_variables_not_the_cli(monkeypatch):
    monkeypatch.delenv("AZURE_FEDERATED_TOKEN_FILE", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")  # no az
    auth = Authenticator(params(tenant_id=None, client_id=None))
    with pytest.raises(AuthError) as raised:
        auth.graph_token()
    text = str(raised.value)
    assert "AZURE_TENANT_ID" in text and "AZURE_CLIENT_ID" in text and "AZURE_CLIENT_SECRET" in text
    assert "Azure CLI not found" not in text


@pytest.mark.parametrize("cloud, login, graph", [
    ("public", "https://login.microsoftonline.com", "https://graph.microsoft.com"),
    ("usgov", "https://login.microsoftonline.us", "https://graph.microsoft.us"),
    ("usgov_dod", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us"),
    ("china", "https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
])
def test_cloud_selects_login_and_graph_hosts(cloud, login, graph):
    auth = Authenticator(params(cloud=cloud))
    assert (auth.authority_host, auth.graph_root, auth.scope_root) == (login, graph, graph)
    assert "disable_instance_discovery" not in auth._credential_kwargs()


def test_overrides_keep_the_cloud_scope_and_skip_instance_discovery(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/tmp/ca.pem")
    auth = Authenticator(params(graph_endpoint="https://127.0.0.1:8443/", authority_host="https://127.0.0.1:8443"))
    assert auth.graph_root == "https://127.0.0.1:8443"
    assert auth.scope_root == "https://graph.microsoft.com"
    kwargs = auth._credential_kwargs()
    assert kwargs == {"authority": "https://127.0.0.1:8443", "disable_instance_discovery": True,
                      "connection_verify": "/tmp/ca.pem"}
