"""The sandbox's login endpoint as azure-identity (MSAL) uses it: discovery, secrets, certificates, AADSTS errors."""

import hashlib

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CertificateCredential, ClientSecretCredential

from conftest import load_fixture, msp_tenant_id
from sandbox.tokens import decode_token, issue
from sandbox_testlib import POLICIES, Graph, get_token
from sandbox_testlib import custom_fixture, trust_sandbox_ca  # noqa: F401 pylint: disable=unused-import (pytest fixtures)

APP = load_fixture()["apps"][0]
UNKNOWN_TENANT = "abababab-0000-4000-8000-000000000000"


def secret_credential(sandbox, tenant=None, client_id=None, secret=None):
    return ClientSecretCredential(tenant or msp_tenant_id(), client_id or APP["client_id"], secret or APP["client_secret"],
                                  authority=sandbox.url, disable_instance_discovery=True,
                                  connection_verify=sandbox.ca_bundle)


def test_azure_identity_gets_a_graph_token_over_verified_tls(sandbox_reset):
    token = secret_credential(sandbox_reset).get_token("https://graph.microsoft.com/.default").token
    claims = decode_token(token)
    assert claims["tid"] == msp_tenant_id() and claims["appid"] == APP["client_id"]
    assert claims["aud"] == "https://graph.microsoft.com" and sorted(claims["roles"]) == sorted(APP["roles"])
    assert claims["exp"] > claims["iat"]
    assert Graph(sandbox_reset, msp_tenant_id(), token=token).get(POLICIES).status_code == 200
    login = [e for e in sandbox_reset.client.log() if e["api"] == "login"]
    assert [e["path"].rsplit("/", 1)[-1] for e in login] == ["openid-configuration", "token"]
    assert login[1]["body"]["client_id"] == APP["client_id"] and "client_secret" not in login[1]["body"]


def test_tls_is_verified_against_the_sandbox_ca_only(sandbox):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(sandbox.url + "/_sandbox/counters", verify=requests.certs.where())


def test_cipp_scope_gives_an_api_audience_that_graph_refuses(sandbox_reset):
    token = get_token(sandbox_reset, msp_tenant_id(), scope="api://%s/.default" % APP["client_id"])
    assert decode_token(token)["aud"] == "api://" + APP["client_id"]
    response = Graph(sandbox_reset, msp_tenant_id(), token=token).get(POLICIES)
    assert response.status_code == 401 and response.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_missing_or_malformed_token_is_401(sandbox_reset):
    plain = requests.get(sandbox_reset.url + POLICIES, verify=sandbox_reset.ca_bundle)
    assert plain.status_code == 401 and plain.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert Graph(sandbox_reset, msp_tenant_id(), token="not-a-jwt").get(POLICIES).status_code == 401


def test_wrong_secret_unknown_app_and_unknown_tenant_are_aadsts_errors(sandbox_reset):
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        secret_credential(sandbox_reset, secret="wrong").get_token("https://graph.microsoft.com/.default")
    with pytest.raises(ClientAuthenticationError, match="AADSTS700016"):
        secret_credential(sandbox_reset, client_id="12121212-0000-4000-8000-000000000000").get_token(
            "https://graph.microsoft.com/.default")
    discovery = requests.get("%s/%s/v2.0/.well-known/openid-configuration" % (sandbox_reset.url, UNKNOWN_TENANT),
                             verify=sandbox_reset.ca_bundle)
    assert discovery.status_code == 400 and discovery.json()["error_codes"] == [90002]
    with pytest.raises(ClientAuthenticationError, match="authority configuration"):  # MSAL's text for a failed discovery
        secret_credential(sandbox_reset, tenant=UNKNOWN_TENANT).get_token("https://graph.microsoft.com/.default")
    token = requests.post("%s/%s/oauth2/v2.0/token" % (sandbox_reset.url, UNKNOWN_TENANT), verify=sandbox_reset.ca_bundle,
                          data={"client_id": APP["client_id"], "client_secret": APP["client_secret"],
                                "grant_type": "client_credentials", "scope": "https://graph.microsoft.com/.default"})
    assert token.status_code == 400 and token.json()["error_description"].startswith("AADSTS90002")
    statuses = [(e["path"].rsplit("/", 1)[-1], e["status"]) for e in sandbox_reset.client.log() if e["api"] == "login"]
    assert statuses == [("openid-configuration", 200), ("token", 401), ("openid-configuration", 200), ("token", 400),
                        ("openid-configuration", 400), ("openid-configuration", 400), ("token", 400)]


def test_token_error_fault(sandbox_reset):
    sandbox_reset.client.set_faults(tenant=msp_tenant_id(), token_error=True)
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        secret_credential(sandbox_reset).get_token("https://graph.microsoft.com/.default")


def test_certificate_credential_with_the_registered_certificate_only(sandbox, tmp_path, custom_fixture):
    import trustme
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    authority = trustme.CA(key_type=trustme.KeyType.RSA)  # the client assertion is RS256
    registered = authority.issue_cert("cipp-sam.example", key_type=trustme.KeyType.RSA)
    other = authority.issue_cert("someone-else.example", key_type=trustme.KeyType.RSA)
    pem = registered.private_key_and_cert_chain_pem.bytes()
    der_thumbprint = x509.load_pem_x509_certificate(registered.cert_chain_pems[0].bytes()).fingerprint(hashes.SHA1())
    assert len(der_thumbprint) == hashlib.sha1().digest_size

    def register(fixture):
        fixture["apps"][0]["certificate_thumbprint"] = der_thumbprint.hex().upper()
    custom_fixture(register)
    tenant = msp_tenant_id()
    path, wrong = tmp_path / "registered.pem", tmp_path / "other.pem"
    path.write_bytes(pem)
    wrong.write_bytes(other.private_key_and_cert_chain_pem.bytes())
    options = dict(authority=sandbox.url, disable_instance_discovery=True, connection_verify=sandbox.ca_bundle)
    token = CertificateCredential(tenant, APP["client_id"], str(path), **options).get_token(
        "https://graph.microsoft.com/.default").token
    assert decode_token(token)["appid"] == APP["client_id"]
    with pytest.raises(ClientAuthenticationError, match="AADSTS700027"):
        CertificateCredential(tenant, APP["client_id"], str(wrong), **options).get_token(
            "https://graph.microsoft.com/.default")


def test_client_assertion_must_name_the_app(sandbox_reset):
    forged = issue(msp_tenant_id(), {"client_id": "someone-else"}, "x/.default")  # a JWT with iss/sub missing
    response = requests.post("%s/%s/oauth2/v2.0/token" % (sandbox_reset.url, msp_tenant_id()), verify=sandbox_reset.ca_bundle,
                             data={"client_id": APP["client_id"], "grant_type": "client_credentials",
                                   "scope": "https://graph.microsoft.com/.default", "client_assertion": forged,
                                   "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})
    assert response.status_code == 401 and response.json()["error_codes"] == [700021]


def test_decode_token_refuses_malformed_and_expired():
    assert decode_token("abc") is None and decode_token(None) is None
    expired = issue("t", {"client_id": "c"}, "https://graph.microsoft.com/.default", lifetime=-10)
    assert decode_token(expired) is None
    assert decode_token(issue("t", {"client_id": "c", "roles": ["R"]}, "api://x/.default"))["roles"] == ["R"]
