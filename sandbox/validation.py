"""Validate Graph requests against Microsoft's schema (graph-v1.0-subset.openapi.json, openapi-core).

Adapted from ../shared/reference/graph-openapi/validate_example.py (explain() follows the branch whose
@odata.type applies, so messages read like "$.conditions.users: unknown property 'excludeUserz'").
"""
import json
import os
import re
import sys
from collections import defaultdict
from urllib.parse import parse_qsl, urlsplit

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest

SPEC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "graph-v1.0-subset.openapi.json")
_api = None


def api():
    global _api
    if _api is None:
        from openapi_core import Config
        # the spec is Microsoft's, already validated: skip the 2 s self-check at start-up
        _api = OpenAPI.from_file_path(SPEC, config=Config(spec_validator_cls=None))
    return _api


def _where(err):
    path = "".join("[%d]" % p if isinstance(p, int) else "." + str(p) for p in err.absolute_path)
    return "$" + path


def _is_null_branch(e):
    # the {"type": "null"} half of a nullable property
    return e.validator == "type" and e.validator_value == "null" and not e.relative_path


def _is_type_selector(e):
    # a branch of a polymorphic type that does not apply because "@odata.type" names another type
    if e.validator == "const" and list(e.relative_path) == ["@odata.type"]:
        return True
    return (e.validator == "required" and e.validator_value == ["@odata.type"]
            and not e.relative_path and len(e.relative_schema_path) == 2)


def explain(err):
    """Yield readable messages; inside anyOf/oneOf follow only the branch that applies."""
    if isinstance(err.schema, dict) and "discriminator" in err.schema and err.validator in ("oneOf", "anyOf"):
        mapping = err.schema["discriminator"].get("mapping", {})
        value = err.instance.get("@odata.type") if isinstance(err.instance, dict) else None
        if value is None:
            return  # the schema's own required:["@odata.type"] already reports it
        if value not in mapping:
            yield "%s: '@odata.type' %r is not one of %s" % (
                _where(err), value, ", ".join(sorted(mapping)))
            return
    if err.validator in ("anyOf", "oneOf") and err.context:
        branches = defaultdict(list)
        for e in err.context:
            branches[e.relative_schema_path[0]].append(e)
        applicable, deselected = [], []
        for _, errs in sorted(branches.items()):
            if any(_is_null_branch(e) for e in errs):
                continue
            if any(_is_type_selector(e) for e in errs):
                deselected.append(errs)
                continue
            applicable.append(errs)
        if len(applicable) == 1:
            hint = ""
            if (err.validator == "oneOf" and isinstance(err.instance, dict)
                    and "@odata.type" not in err.instance):
                hint = " (no '@odata.type', so the base type applies)"
            for e in applicable[0]:
                for m in explain(e):
                    yield m + hint
            return
        if not applicable and deselected:
            consts = sorted({e.validator_value for errs in deselected for e in errs
                             if e.validator == "const"})
            value = err.instance.get("@odata.type") if isinstance(err.instance, dict) else None
            if value is None:
                yield "%s: '@odata.type' is required here" % _where(err)
            else:
                yield "%s: '@odata.type' %r is not one of %s" % (_where(err), value, ", ".join(consts))
            return
    yield "%s: %s" % (_where(err), _message(err))


def _message(err):
    schema = err.schema if isinstance(err.schema, dict) else {}
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        props, patterns = schema.get("properties", {}), schema.get("patternProperties", {})
        extra = [k for k in err.instance
                 if k not in props and not any(re.search(p, k) for p in patterns)]
        return "unknown propert%s %s for %s" % (
            "y" if len(extra) == 1 else "ies", ", ".join(repr(k) for k in extra),
            schema.get("title", "this object"))
    if err.validator == "pattern" and "x-ms-enum-flags" in schema:
        return "%r is not a comma-separated list of %s members (%s)" % (
            err.instance, schema.get("title"), ", ".join(schema["x-ms-enum-flags"]["members"]))
    return err.message


def validate(method, url, body=None):
    """Return a list of error strings for one request (empty list: valid)."""
    parts = urlsplit(url if "://" in url else "https://graph.microsoft.com" + url)
    data = None if body is None else json.dumps(body)
    request = MockRequest(
        "%s://%s" % (parts.scheme, parts.netloc), method.lower(), parts.path,
        args=dict(parse_qsl(parts.query, keep_blank_values=True)),
        data=data, content_type="application/json")
    result = api().unmarshal_request(request)
    messages = []
    for error in result.errors:
        cause = error.__cause__
        schema_errors = getattr(cause, "schema_errors", None)
        if schema_errors:
            where = ""
            if getattr(error, "location", None) and getattr(error, "name", None):
                where = "%s parameter %s" % (error.location, error.name)
            for se in schema_errors:
                messages.extend(where + m[1:] if where else m for m in explain(se))
        else:
            messages.append("%s: %s" % (type(error).__name__, cause or error))
    return messages


# Requests without a body are validated once per shape: ids do not change whether a path, method or query is valid.
_ID = re.compile(r"/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?=/|\?|$)")
_UPN = re.compile(r"/[^/?]+@[^/?]+(?=\?|$)")
_bodyless = {}
# query options the schema types as free strings: their values never change the verdict
_FREE_TEXT = {"$filter", "$search", "$skiptoken"}  # ($select, $orderby, $expand are enums)


def _shape(method, url):
    parts = urlsplit(url)
    path = _UPN.sub("/{upn}", _ID.sub("/{id}", parts.path))
    query = tuple(sorted((k, "*" if k in _FREE_TEXT else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)))
    return method, path, query


def _one_range_per_shape(body):
    """A named location with many ipRanges, reduced to one range per shape (keys, @odata.type, value types).

    openapi-core needs ~10 ms per polymorphic range item; a 2000-range location would take seconds. Every
    item of one shape gets the same verdict, so validating one of each is enough (error paths then index the
    reduced list). The CIDR values themselves are checked by the service rules in graph.py.
    """
    ranges = body.get("ipRanges") if isinstance(body, dict) else None
    if not isinstance(ranges, list) or len(ranges) <= 8:
        return body
    seen, kept = set(), []
    for item in ranges:
        shape = json.dumps({k: (v if k == "@odata.type" else type(v).__name__) for k, v in item.items()}
                           if isinstance(item, dict) else type(item).__name__, sort_keys=True)
        if shape not in seen:
            seen.add(shape)
            kept.append(item)
    return dict(body, ipRanges=kept)


def check_request(method, url, body, kind):
    """(status, code, message) of Graph's refusal for a request the schema rejects, or None when it is valid.

    kind is the entity named in a body error: ConditionalAccessPolicy or NamedLocation.
    """
    if body is None:
        key = _shape(method, url)
        errors = _bodyless.get(key)  # handler threads share the cache: read once, no check-then-read
        if errors is None:
            errors = validate(method, url)
            if len(_bodyless) > 5000:
                _bodyless.clear()
            _bodyless[key] = errors
    else:
        errors = validate(method, url, _one_range_per_shape(body))
    if not errors:
        return None
    first = errors[0]
    if first.startswith("PathNotFound"):
        segment = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
        return 400, "BadRequest", "Resource not found for the segment '%s'." % segment
    if first.startswith("OperationNotFound"):
        return 405, "Request_BadRequest", "Specified HTTP method is not allowed for the request uri."
    if all(e.startswith(("query parameter", "path parameter", "header parameter")) or "Parameter" in e.split(":")[0]
           for e in errors):
        return 400, "BadRequest", "Invalid request: %s" % "; ".join(errors)
    return 400, "BadRequest", schema_message(kind, errors)


def schema_message(kind, details):
    """Graph's 1007 text (graph-ca.md 1.4) followed by where and what the schema rejected."""
    return ("1007: Incoming %s object is null or does not match the schema of %s type. For examples, please see API "
            "documentation at https://docs.microsoft.com/en-us/graph/api/conditionalaccessroot-post-policies?view=graph-rest-1.0. %s"
            % (kind, kind, "; ".join(details)))
