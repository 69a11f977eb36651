# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Authentication and connection options shared by every Graph module.
    DOCUMENTATION = r"""
options:
  tenant_id:
    description:
      - Directory (tenant) ID the module works in. For Part D this is the client tenant.
      - If not set, the environment variable E(AZURE_TENANT_ID) is used.
    type: str
  client_id:
    description:
      - Application (client) ID of the app registration used to call Microsoft Graph.
      - If not set, the environment variable E(AZURE_CLIENT_ID) is used.
    type: str
  client_secret:
    description:
      - Client secret of the app registration.
      - If not set, the environment variable E(AZURE_CLIENT_SECRET) is used.
    type: str
  client_certificate_path:
    description:
      - Path to a PEM (or PKCS12) certificate with private key, for certificate authentication.
      - If not set, the environment variable E(AZURE_CLIENT_CERTIFICATE_PATH) is used.
    type: path
  client_certificate_password:
    description:
      - Password of O(client_certificate_path), if it is encrypted.
      - If not set, the environment variable E(AZURE_CLIENT_CERTIFICATE_PASSWORD) is used.
    type: str
  auth_method:
    description:
      - How to obtain a token. All methods use C(azure-identity).
      - V(auto) picks V(access_token) when O(access_token) is set, then V(client_secret), then V(certificate),
        then V(workload_identity) when E(AZURE_FEDERATED_TOKEN_FILE) is set, and V(azure_cli) last.
    type: str
    default: auto
    choices: [auto, client_secret, certificate, managed_identity, azure_cli, workload_identity, access_token]
  access_token:
    description:
      - A ready Graph bearer token, for O(auth_method=access_token).
      - If not set, the environment variable E(AZURE_ACCESS_TOKEN) is used.
    type: str
  cloud:
    description:
      - Microsoft cloud. Selects both the login host and the Graph root.
      - If not set, the environment variable E(AZURE_CLOUD) is used.
    type: str
    default: public
    choices: [public, usgov, usgov_dod, china]
  graph_endpoint:
    description:
      - Graph root URL override, such as V(https://graph.microsoft.com) (the module appends C(/v1.0) or C(/beta)).
      - Must be an C(https://) URL without the API version, credentials, query or fragment.
      - Token scopes still use the Graph root of O(cloud).
      - If not set, the environment variable E(MSGRAPH_ENDPOINT) is used.
    type: str
  authority_host:
    description:
      - Login host override, such as V(https://login.microsoftonline.com).
      - Must be an C(https://) URL (or a bare host name, taken as https) without a path.
      - If not set, the environment variable E(AZURE_AUTHORITY_HOST) is used.
    type: str
  retry_budget:
    description:
      - Seconds from the start of the task within which failed Graph requests are retried (throttling 429,
        503/504, dropped connections, read-after-write lag). A retry that would end later is not made and the
        request fails with its error. Every retry made is reported in a warning with its reason.
      - The default fits about 120 policies in one tenant at the paced rate of one request per second.
    type: float
    default: 600
  input_names:
    description:
      - How error messages name the options, for callers whose users set something else (a role variable).
      - Keys are option names (sub-options dotted, such as C(conditions.users.include_groups)), values the names
        the user knows, such as V(technician_access_groups).
    type: dict
  backup_dir:
    description:
      - Directory for the backups a writing module saves before it changes or deletes an object (one JSON file per
        policy or named location, under a subdirectory named after the tenant id; directories 0700, files 0600).
        The result lists the files under C(backups). Check mode writes no backup.
      - Without it, C(build/backups/<run time>) under the directory ansible-playbook was started in (a relative
        O(backup_dir) is taken from there too), where C(<run time>) is the environment
        variable E(MSP_CA_RUN_TIME) when set (one directory per playbook run) or the module's start time (UTC).
      - C(playbooks/restore.yml) puts a backup back.
    type: path
notes:
  - Bad input (an C(http://) endpoint, a O(tenant_id) that is neither a GUID nor a domain, a missing
    certificate or CA bundle file, a malformed id) fails before any request, naming the option and the
    environment variable it came from.
  - TLS certificates are always verified. A private CA bundle is taken from E(REQUESTS_CA_BUNDLE) or E(SSL_CERT_FILE).
  - Conditional Access endpoints allow one request per second per tenant and answer 429 without Retry-After.
    Requests to them are paced and retried with bounded back-off; run tenants in parallel (forks), not tasks
    against one tenant.
  - The app needs the Graph application permissions C(Policy.Read.All), C(Policy.ReadWrite.ConditionalAccess)
    and C(Application.Read.All), admin-consented in every tenant it manages (or GDAP with the
    Conditional Access Administrator role).
requirements:
  - azure-identity
  - msgraph-core (msgraph-sdk)
"""

    # The same credentials for plugins (inventory): each option with its environment variable; the tenant is the
    # plugin's own option. Secrets are read from the environment only.
    PLUGINS = r"""
options:
  client_id:
    description: Application (client) ID of the app registration in the MSP tenant.
    type: str
    env:
      - name: AZURE_CLIENT_ID
  client_secret:
    description: Client secret of the app registration. Environment only; refused in the file.
    type: str
    env:
      - name: AZURE_CLIENT_SECRET
  client_certificate_path:
    description: Path to a PEM (or PKCS12) certificate with private key, for certificate authentication.
    type: path
    env:
      - name: AZURE_CLIENT_CERTIFICATE_PATH
  client_certificate_password:
    description: Password of O(client_certificate_path). Environment only; refused in the file.
    type: str
    env:
      - name: AZURE_CLIENT_CERTIFICATE_PASSWORD
  auth_method:
    description:
      - How to obtain a token (azure-identity). V(auto) picks V(access_token), V(client_secret), V(certificate),
        V(workload_identity) (when E(AZURE_FEDERATED_TOKEN_FILE) is set), then V(azure_cli).
    type: str
    default: auto
    choices: [auto, client_secret, certificate, managed_identity, azure_cli, workload_identity, access_token]
  access_token:
    description: A ready bearer token, for O(auth_method=access_token). Environment only; refused in the file.
    type: str
    env:
      - name: AZURE_ACCESS_TOKEN
  cloud:
    description: Microsoft cloud; selects the login host and the Graph root.
    type: str
    default: public
    choices: [public, usgov, usgov_dod, china]
    env:
      - name: AZURE_CLOUD
  graph_endpoint:
    description: Graph root URL override (a proxy, or the local sandbox). Token scopes still use O(cloud)'s root.
    type: str
    env:
      - name: MSGRAPH_ENDPOINT
  authority_host:
    description: Login host override.
    type: str
    env:
      - name: AZURE_AUTHORITY_HOST
notes:
  - TLS certificates are always verified; a private CA bundle comes from E(REQUESTS_CA_BUNDLE) or E(SSL_CERT_FILE).
"""

    ACTIONGROUP = r"""
attributes:
  action_group:
    description: Use C(group/msp.conditional_access.graph) in C(module_defaults) to set the auth options once.
    support: full
    membership:
      - msp.conditional_access.graph
"""
