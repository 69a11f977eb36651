"""Access tokens of the sandbox: unsigned JWTs (alg none) carrying tid, appid, aud, roles, exp."""

import base64
import json
import time


def _b64(data):
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()


def _unb64(text):
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def audience_of(scope):
    """'https://graph.microsoft.com/.default' -> 'https://graph.microsoft.com'; 'api://X/.default' -> 'api://X'."""
    first = (scope or "").split()[0] if scope else ""
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
