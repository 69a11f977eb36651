"""Graph error bodies become one clear line with the CA service code and a hint."""

import json

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
