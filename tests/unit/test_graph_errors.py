"""Graph error bodies become one clear line with the CA service code and a hint."""

import json

import pytest

from ansible_collections.msp.conditional_access.plugins.module_utils._graph import error_from_response, odata_quote


def body(code, message, inner=None):
    err = {"code": code, "message": message}
    if inner:
        err["innerError"] = inner
    return json.dumps({"error": err}).encode()


def test_new_form_service_code_and_hint():
    err = error_from_response(400, body("BadRequest", "1040: NamedLocation with id abc does not exist in the directory."),
                              "POST", "https://graph.example/v1.0/identity/conditionalAccess/policies", "t1")
    assert err.service_code == 1040
    text = str(err)
    assert text.startswith("POST /v1.0/identity/conditionalAccess/policies (tenant t1) failed: HTTP 400 BadRequest: 1040:")
    assert "replicated" in text


def test_old_form_takes_numbered_inner_message():
    err = error_from_response(400, body("BadRequest", "The server could not process the request because it is malformed "
                                        "or incorrect.", {"message": "1032: ConditionalActionPolicy validation failed due "
                                                                     "to InvalidPasswordResetControl."}),
                              "PATCH", "https://g/v1.0/x", None)
    assert err.service_code == 1032
    assert "1032: ConditionalActionPolicy validation failed" in str(err)


def test_403_hint_names_permissions_and_gdap_role():
    err = error_from_response(403, body("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
                              "GET", "https://g/v1.0/identity/conditionalAccess/policies", "t2")
    assert "Policy.ReadWrite.ConditionalAccess" in str(err) and "Conditional Access Administrator" in str(err)
    assert err.details() == {"status": 403, "graph_code": "Authorization_RequestDenied", "service_code": None}


def test_non_json_body():
    err = error_from_response(502, b"<html>bad gateway</html>", "GET", "https://g/v1.0/x", None)
    assert "bad gateway" in str(err) and "HTTP 502" in str(err)


def test_odata_quote_doubles_single_quotes():
    assert odata_quote("O'Brien's office") == "'O''Brien''s office'"


@pytest.mark.parametrize("url, needle", [
    ("https://graph.microsoft.com/v1.0/identity/conditionalAccess/policies", "Policy.ReadWrite.ConditionalAccess"),
    ("https://graph.microsoft.com/beta/identity/conditionalAccess/namedLocations/x", "Policy.ReadWrite"),
    ("https://graph.microsoft.com/v1.0/users?$filter=x", "User.Read.All"),
    ("https://127.0.0.1:8443/graph/v1.0/groups/abc/members", "GroupMember.Read.All"),
    ("https://graph.microsoft.com/v1.0/directoryRoles", "RoleManagement.Read.Directory"),
    ("https://graph.microsoft.com/v1.0/servicePrincipals", "Application.Read.All"),
    ("https://graph.microsoft.com/v1.0/subscribedSkus", "Organization.Read.All"),
    ("https://graph.microsoft.com/v1.0/policies/identitySecurityDefaultsEnforcementPolicy", "Policy.Read.All"),
    ("https://graph.microsoft.com/v1.0/auditLogs/signIns", "AuditLog.Read.All"),
])
def test_403_hint_names_the_permission_of_the_endpoint(url, needle):
    raw = json.dumps({"error": {"code": "Authorization_RequestDenied",
                                "message": "Insufficient privileges to complete the operation."}}).encode()
    error = error_from_response(403, raw, "GET", url, "t")
    assert needle in str(error), str(error)
    if "conditionalAccess" not in url:
        assert "Policy.ReadWrite.ConditionalAccess" not in str(error)


def test_sign_in_licence_403_says_licence():
    raw = json.dumps({"error": {"code": "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                                "message": "Neither tenant is B2C or tenant doesn't have premium license"}}).encode()
    error = error_from_response(403, raw, "GET", "https://graph.microsoft.com/v1.0/auditLogs/signIns", "t")
    assert "Entra ID P1/P2" in error.hint


@pytest.mark.parametrize("retry_after, cap, low, high", [
    ("170", 30.0, 30.0, 30.0),  # a long Retry-After is cut to the cap
    ("2", 30.0, 2.0, 2.0),  # a short one is honoured as sent
    (None, 30.0, 1.0, 3.5),  # none (CA's 429): kiota's exponential backoff, below the cap
    (None, 1.5, 1.0, 1.5),
])
def test_retry_waits_are_capped(retry_after, cap, low, high):
    import httpx
    from kiota_http.middleware.options import RetryHandlerOption

    from ansible_collections.msp.conditional_access.plugins.module_utils._graph import bounded_retry_handler

    handler = bounded_retry_handler(RetryHandlerOption(delay=1.0, max_retries=6), cap)
    response = httpx.Response(429, headers={"Retry-After": retry_after} if retry_after else {})
    assert low <= handler.get_delay_time(1, response, 1.0) <= high


def test_graph_client_pipeline_uses_the_capped_handler():
    from kiota_http.middleware import RetryHandler

    from ansible_collections.msp.conditional_access.plugins.module_utils._graph import GraphClient

    class Auth:
        tenant_id = "t"
        graph_root = "https://graph.microsoft.com"

    client = GraphClient(Auth(), max_retry_wait=7.0)
    try:
        http = client._client()
        handlers, current = [], http._transport.pipeline._first_middleware
        while current is not None:
            handlers.append(current)
            current = getattr(current, "next", None)
        [retry] = [h for h in handlers if isinstance(h, RetryHandler)]
        assert retry.get_delay_time(1, None, 100.0) == 7.0
    finally:
        client.close()
