# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credentials for Microsoft Graph and CIPP-API.

PRIVATE to the msp.conditional_access collection: the API may change without notice.

Every credential comes from azure-identity; this file only maps the collection's options
(shared by all modules through the ``msp.conditional_access.graph`` doc fragment) onto it.
"""

from __future__ import annotations

import os
import shutil

from ansible.module_utils.basic import env_fallback

# cloud -> (login host, Graph root). Scopes always use the cloud's Graph root, even when
# graph_endpoint points elsewhere (a proxy or the local sandbox).
CLOUDS = {
    "public": ("https://login.microsoftonline.com", "https://graph.microsoft.com"),
    "usgov": ("https://login.microsoftonline.us", "https://graph.microsoft.us"),
    "usgov_dod": ("https://login.microsoftonline.us", "https://dod-graph.microsoft.us"),
    "china": ("https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
}

AUTH_METHODS = ["auto", "client_secret", "certificate", "managed_identity", "azure_cli",
                "workload_identity", "access_token"]

AUTH_ARGUMENT_SPEC = dict(
    tenant_id=dict(type="str", fallback=(env_fallback, ["AZURE_TENANT_ID"])),
    client_id=dict(type="str", fallback=(env_fallback, ["AZURE_CLIENT_ID"])),
    client_secret=dict(type="str", no_log=True, fallback=(env_fallback, ["AZURE_CLIENT_SECRET"])),
    client_certificate_path=dict(type="path", fallback=(env_fallback, ["AZURE_CLIENT_CERTIFICATE_PATH"])),
    client_certificate_password=dict(type="str", no_log=True,
                                     fallback=(env_fallback, ["AZURE_CLIENT_CERTIFICATE_PASSWORD"])),
    auth_method=dict(type="str", default="auto", choices=AUTH_METHODS),
    access_token=dict(type="str", no_log=True, fallback=(env_fallback, ["AZURE_ACCESS_TOKEN"])),
    cloud=dict(type="str", default="public", choices=list(CLOUDS),
               fallback=(env_fallback, ["AZURE_CLOUD"])),
    graph_endpoint=dict(type="str", fallback=(env_fallback, ["MSGRAPH_ENDPOINT"])),
    authority_host=dict(type="str", fallback=(env_fallback, ["AZURE_AUTHORITY_HOST"])),
    input_names=dict(type="dict"),
)


# auth_method -> the options it cannot do without
NEEDS = {
    "client_secret": ["tenant_id", "client_id", "client_secret"],
    "certificate": ["tenant_id", "client_id", "client_certificate_path"],
    "workload_identity": ["tenant_id", "client_id"],
    "access_token": ["access_token"],
}


def _with_variables(options):
    """'tenant_id (AZURE_TENANT_ID), client_secret (AZURE_CLIENT_SECRET)'."""
    named = []
    for option in options:
        fallback = AUTH_ARGUMENT_SPEC[option].get("fallback")
        named.append("%s (%s)" % (option, " or ".join(fallback[1])) if fallback else option)
    return ", ".join(named)


class AuthError(Exception):
    """The credential could not produce a token (bad secret, unknown tenant, no CLI login...)."""


def ca_bundle():
    """The CA bundle that TLS verification uses, or None for the system default.

    azure-identity (requests) honours REQUESTS_CA_BUNDLE only, httpx honours SSL_CERT_FILE only;
    reading both here keeps the two HTTP stacks on the same trust store.
    """
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        path = os.environ.get(name)
        if path:
            return path
    return None


def _strip_slash(url):
    return url.rstrip("/") if url else url


class Authenticator:
    """Builds the azure-identity credential once and hands out bearer tokens."""

    def __init__(self, params):
        self.params = params
        self.tenant_id = params.get("tenant_id")
        login_host, graph_root = CLOUDS[params.get("cloud") or "public"]
        self.scope_root = graph_root
        self.graph_root = _strip_slash(params.get("graph_endpoint")) or graph_root
        self.authority_host = _strip_slash(params.get("authority_host")) or login_host
        self._credential = None
        self.method = self._choose_method()

    def _choose_method(self):
        p = self.params
        method = p.get("auth_method") or "auto"
        if method != "auto":
            return method
        if p.get("access_token"):
            return "access_token"
        if p.get("client_secret"):
            return "client_secret"
        if p.get("client_certificate_path"):
            return "certificate"
        if os.environ.get("AZURE_FEDERATED_TOKEN_FILE"):
            return "workload_identity"
        return "azure_cli"

    def missing_options(self, method=None):
        """Names of the options the chosen method needs but did not get."""
        need = NEEDS.get(method or self.method, [])
        return [name for name in need if not self.params.get(name)]

    def credential_problem(self):
        """Why no token can be asked for, naming the options and environment variables to set; or None."""
        if self.method == "azure_cli" and (self.params.get("auth_method") or "auto") == "auto" \
                and not shutil.which("az"):
            return ("no credentials: set %s for a client secret (or client_certificate_path / "
                    "AZURE_CLIENT_CERTIFICATE_PATH instead of the secret, or access_token / AZURE_ACCESS_TOKEN); "
                    "the fallback, the Azure CLI (auth_method=azure_cli), is not installed"
                    % _with_variables(self.missing_options("client_secret")))
        missing = self.missing_options()
        if missing:
            return "auth_method %s needs %s" % (self.method, _with_variables(missing))
        return None

    def _credential_kwargs(self):
        kwargs = {"authority": self.authority_host}
        if self.authority_host not in {login for login, graph in CLOUDS.values()}:
            # MSAL would otherwise ask login.microsoftonline.com whether the authority is valid.
            kwargs["disable_instance_discovery"] = True
        bundle = ca_bundle()
        if bundle:
            kwargs["connection_verify"] = bundle
        return kwargs

    def _build_credential(self):
        from azure import identity  # imported late: it is only needed once a token is

        p = self.params
        kwargs = self._credential_kwargs()
        if self.method == "client_secret":
            return identity.ClientSecretCredential(p["tenant_id"], p["client_id"], p["client_secret"], **kwargs)
        if self.method == "certificate":
            return identity.CertificateCredential(
                p["tenant_id"], p["client_id"], p["client_certificate_path"],
                password=p.get("client_certificate_password"), **kwargs)
        if self.method == "workload_identity":
            return identity.WorkloadIdentityCredential(tenant_id=p["tenant_id"], client_id=p["client_id"], **kwargs)
        if self.method == "managed_identity":
            return identity.ManagedIdentityCredential(client_id=p.get("client_id"))
        if self.method == "azure_cli":
            return identity.AzureCliCredential(tenant_id=p.get("tenant_id"))
        raise AuthError("unsupported auth_method %r" % self.method)

    def token(self, scope):
        """A bearer token for ``scope`` (e.g. ``https://graph.microsoft.com/.default``)."""
        problem = self.credential_problem()
        if problem:
            raise AuthError(problem)
        if self.method == "access_token":
            return self.params["access_token"]
        from azure.core.exceptions import ClientAuthenticationError

        if self._credential is None:
            self._credential = self._build_credential()
        try:
            return self._credential.get_token(scope).token
        except ClientAuthenticationError as exc:
            # azure-identity messages name the tenant and the AADSTS code, never the secret.
            raise AuthError("could not get a token for tenant %s with auth_method %s: %s"
                            % (self.tenant_id, self.method, _first_lines(str(exc))))

    def graph_token(self):
        return self.token(self.scope_root + "/.default")


def _first_lines(text, count=3):
    return " ".join(line.strip() for line in text.strip().splitlines()[:count])
