"""Access tokens of the sandbox: unsigned JWTs (alg none) carrying tid, appid, aud, roles, exp."""

import base64
import binascii
import json
import time

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _b64(data):
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()


def _unb64(text):
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def audience_of(scope):
    """'https://graph.microsoft.com/.default' -> 'https://graph.microsoft.com'; 'api://X/.default' -> 'api://X'."""
    words = (scope or "").split()
    first = next((w for w in words if w.endswith("/.default")), words[0] if words else "")
    return first[: -len("/.default")] if first.endswith("/.default") else first


def issue(tenant_id, app, scope, lifetime=3599):
    now = int(time.time())
    claims = {"tid": tenant_id, "appid": app["client_id"], "aud": audience_of(scope),
              "roles": list(app.get("roles", [])), "iat": now, "exp": now + lifetime,
              "app_displayname": app.get("display_name")}
    return "%s.%s." % (_b64({"alg": "none", "typ": "JWT"}), _b64(claims))


def decode_token(raw):
    """The claims of a sandbox token, or None when it is malformed or expired."""
    try:
        header, payload, _sig = (raw or "").split(".")
        claims = _unb64(payload)
    except (ValueError, TypeError):
        return None
    if not isinstance(claims, dict) or claims.get("exp", 0) < time.time():
        return None
    return claims


def _thumbprints(app):
    """The fixture app's certificate thumbprints (hex SHA-1 or SHA-256, as the portal shows them), as bytes."""
    out = set()
    for text in [app.get("certificate_thumbprint")] + list(app.get("certificate_thumbprints") or []):
        if text:
            out.add(binascii.unhexlify(text.replace(":", "")))
    return out


def assertion_problem(assertion, assertion_type, app):
    """Why a client_assertion is refused (an AADSTS text), or None when it is accepted.

    The signature is not checked (keep it simple): the JWT must be well formed, name the app in iss and sub,
    not be expired and, when the fixture lists certificate thumbprints, carry one of them in x5t / x5t#S256.
    """
    if assertion_type != JWT_BEARER:
        return "AADSTS50027: Invalid client_assertion_type '%s'." % assertion_type
    try:
        header_b64, payload_b64, _sig = assertion.split(".")
        header, claims = _unb64(header_b64), _unb64(payload_b64)
    except (ValueError, TypeError, binascii.Error):
        return "AADSTS50027: JWT token is invalid or malformed."
    if not isinstance(claims, dict) or not isinstance(header, dict):
        return "AADSTS50027: JWT token is invalid or malformed."
    if claims.get("iss") != app["client_id"] or claims.get("sub") != app["client_id"]:
        return ("AADSTS700021: Client assertion application identifier doesn't match 'client_id' parameter. "
                "Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/"
                "active-directory-certificate-credentials .")
    if claims.get("exp", 0) < time.time():
        return "AADSTS700024: Client assertion is not within its valid time range."
    wanted = _thumbprints(app)
    if wanted:
        sent = set()
        for key in ("x5t", "x5t#S256"):
            if header.get(key):
                try:
                    sent.add(base64.urlsafe_b64decode(header[key] + "=" * (-len(header[key]) % 4)))
                except (ValueError, binascii.Error):
                    pass
        if not sent & wanted:
            return ("AADSTS700027: The certificate with identifier used to sign the client assertion is not "
                    "registered on application. [Reason - The key was not found.]")
    return None


decode = decode_token  # the name the brief uses; CONTRACTS.md says decode_token
