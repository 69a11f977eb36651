# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # CIPP-API connection; the credential options come from msp.conditional_access.graph.
    DOCUMENTATION = r"""
options:
  cipp_api_url:
    description:
      - Root URL of the CIPP Function App (the backend, not the static web app), such as
        V(https://cipp-xxxx.azurewebsites.net). The module appends C(/api/ExecApiClient).
      - If not set, the environment variable E(CIPP_API_URL) is used.
    type: str
  cipp_api_scope:
    description:
      - Token scope. Defaults to C(api://<client_id>/.default), the caller's own API client, as CIPP's documentation
        and the CIPP UI's "Copy API Scope" use it.
    type: str
notes:
  - O(tenant_id), O(client_id) and the secret or certificate are those of the controller's own CIPP-API client in the
    MSP tenant. That client needs a CIPP role with C(CIPP.Extension.ReadWrite) (for example editor), and can only
    manage clients whose role grants no more than its own.
  - With O(access_token), the token must be one for the CIPP-API client's audience (C(api://<client id>)), not a Graph token.
  - "CIPP answers a blocked IP and a missing permission with the same HTTP 403 text; the modules report it as
    C(denied: IP not allowed or missing permission)."
  - TLS is always verified; E(REQUESTS_CA_BUNDLE) selects a private CA bundle.
"""

    ACTIONGROUP = r"""
attributes:
  action_group:
    description: Use C(group/msp.conditional_access.cipp) in C(module_defaults) to set the connection once.
    support: full
    membership:
      - msp.conditional_access.cipp
"""
