"""Conditional Access What If (POST /identity/conditionalAccess/evaluate) over a sandbox tenant.

Follows Microsoft's documentation of conditionalAccessRoot: evaluate and whatIfAnalysisResult (fleet.md section 3):
each policy of the tenant comes back with its own fields plus ``policyApplies`` and ``analysisReasons`` (``notSet``
when it applies, else why not). Report-only policies are evaluated like enabled ones; disabled policies never apply
(``policyNotEnabled``). ``appliedPoliciesOnly`` keeps only the policies that apply.

Sandbox choices where Microsoft documents no behaviour ([UNVERIFIED], sandbox/README.md):

* one reason per policy that does not apply: the first condition that fails, in the order of ``REASON_ORDER``;
* a condition the policy sets but the request gives no detail for (no IP address or country for a location
  condition, no platform, client app type or risk level) is ``notEnoughInformation``; device filters always are;
* an unknown ``userId`` or ``servicePrincipalId`` answers 404 ``Request_ResourceNotFound``.

Everything here runs under the server's state lock, on the tenant dict of sandbox.server.State.
"""

import copy
import ipaddress

CA = "/identity/conditionalAccess"
EVALUATE = CA + "/evaluate"
# POST actions that only read: they need a read permission and are not counted as writes
READ_ONLY_ACTIONS = {EVALUATE}

USER_SIGN_IN = "#microsoft.graph.userSignIn"
SP_SIGN_IN = "#microsoft.graph.servicePrincipalSignIn"
APPLICATION_CONTEXT = "#microsoft.graph.applicationContext"
USER_ACTION_CONTEXT = "#microsoft.graph.userActionContext"
AUTH_CONTEXT = "#microsoft.graph.authContext"

# Application groups Graph accepts in includeApplications (graph-ca.md): the members the sandbox knows.
APP_GROUPS = {
    "Office365": {"00000002-0000-0ff1-ce00-000000000000",   # Office 365 Exchange Online
                  "00000003-0000-0ff1-ce00-000000000000",   # Office 365 SharePoint Online
                  "cc15fd57-2c6c-4117-a88c-83b1d56b4bbe",   # Microsoft Teams Services
                  "d3590ed6-52b3-4102-aeff-aad2292ab01c"},  # Microsoft Office
    "MicrosoftAdminPortals": {"c44b4083-3bb0-49c1-b47d-974e53cbdf3c",   # Azure portal
                              "00000006-0000-0ff1-ce00-000000000000",   # Microsoft 365 admin center
                              "797f4846-ba00-4fd7-ba43-dac1f8f63013"},  # Windows Azure Service Management API
}
USER_ACTIONS = {"registerSecurityInformation": "urn:user:registersecurityinfo",
                "registerOrJoinDevices": "urn:user:registerdevice"}
REASON_ORDER = ("users", "workloadIdentities", "application", "userActions", "authenticationContext",
                "devicePlatform", "location", "clientApps", "signInRisk", "userRisk", "insiderRisk",
                "authenticationFlow", "devices")
NO_INFO = "notEnoughInformation"
MFA_TRUSTED_IPS = "00000000-0000-0000-0000-000000000000"  # legacy MFA trusted IPs: nothing to match here


class EvaluationError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _NoInfo(Exception):
    """The request lacks the detail a condition needs."""


def evaluate(tenant, body):
    """The whatIfAnalysisResult items for one request body (already schema-validated)."""
    body = body or {}
    identity = body.get("signInIdentity") or {}
    context = body.get("signInContext") or {}
    conditions = body.get("signInConditions") or {}
    if not identity or not context:
        raise EvaluationError(400, "BadRequest", "signInIdentity and signInContext are required.")
    subject = _subject(tenant, identity)
    results = []
    for policy in tenant["policies"]:
        applies, reason = _applies(tenant, policy, subject, context, conditions)
        if body.get("appliedPoliciesOnly") and not applies:
            continue
        item = copy.deepcopy(policy)
        item.update(policyApplies=applies, analysisReasons="notSet" if applies else reason)
        results.append(item)
    return results


# -- who signs in ----------------------------------------------------------------------------------
def _subject(tenant, identity):
    kind = identity.get("@odata.type")
    if kind == SP_SIGN_IN:
        sp_id = identity.get("servicePrincipalId")
        sp = next((s for s in tenant.get("servicePrincipals") or [] if s.get("id") == sp_id), None)
        if sp is None:
            raise _not_found(sp_id)
        return {"kind": "servicePrincipal", "id": sp_id}
    user_id = identity.get("userId")
    external = identity.get("externalUserType")
    subject = {"kind": "user", "id": user_id, "groups": set(), "roles": set(), "guest_types": set(),
               "external_tenant": identity.get("externalTenantId")}
    if external:
        subject["guest_types"] = {t.strip() for t in external.split(",") if t.strip() and t.strip() != "none"}
    if user_id:
        user = next((u for u in tenant.get("users") or [] if u.get("id") == user_id), None)
        if user is None:
            raise _not_found(user_id)
        subject["groups"] = _groups_of(tenant, user_id)
        subject["roles"] = {a.get("roleDefinitionId") for a in tenant.get("roleAssignments") or []
                            if a.get("principalId") in {user_id} | subject["groups"]}
        if user.get("userType") == "Guest" and not external:
            subject["guest_types"] = {"internalGuest" if not user.get("externalUserState") else "b2bCollaborationGuest"}
    elif not external:
        raise EvaluationError(400, "BadRequest", "signInIdentity needs userId or externalUserType.")
    return subject


def _groups_of(tenant, principal):
    """Every group the principal is a member of, also through nested groups."""
    groups = tenant.get("groups") or []
    found, frontier = set(), {principal}
    while frontier:
        nxt = {g["id"] for g in groups if g["id"] not in found and frontier & set(g.get("members") or [])}
        found |= nxt
        frontier = nxt
    return found


def _not_found(oid):
    return EvaluationError(404, "Request_ResourceNotFound", "Resource '%s' does not exist or one of its queried "
                           "reference-property objects are not present." % oid)


# -- one policy -------------------------------------------------------------------------------------
def _applies(tenant, policy, subject, context, conditions):
    if policy.get("state") == "disabled":
        return False, "policyNotEnabled"
    cond = policy.get("conditions") or {}
    checks = (
        ("users", lambda: _users_match(cond, subject)),
        ("workloadIdentities", lambda: _workload_match(cond, subject)),
        ("application", lambda: _application_match(cond, context)),
        ("userActions", lambda: _user_action_match(cond, context)),
        ("authenticationContext", lambda: _auth_context_match(cond, context)),
        ("devicePlatform", lambda: _platform_match(cond, conditions)),
        ("location", lambda: _location_match(tenant, cond, conditions)),
        ("clientApps", lambda: _client_app_match(cond, conditions)),
        ("signInRisk", lambda: _level_match(cond.get("signInRiskLevels"), conditions.get("signInRiskLevel"))),
        ("userRisk", lambda: _level_match(cond.get("userRiskLevels"), conditions.get("userRiskLevel"))),
        ("insiderRisk", lambda: _level_match(_flags(cond.get("insiderRiskLevels")), conditions.get("insiderRiskLevel"))),
        ("authenticationFlow", lambda: _flow_match(cond, conditions)),
        ("devices", lambda: _devices_match(cond)),
    )
    for reason, check in checks:
        try:
            if not check():
                return False, reason
        except _NoInfo:
            return False, NO_INFO
    if subject["kind"] == "servicePrincipal" and cond.get("servicePrincipalRiskLevels"):
        if not _level_match(cond["servicePrincipalRiskLevels"], conditions.get("servicePrincipalRiskLevel")):
            return False, "signInRisk"
    return True, "notSet"


def _flags(value):
    return [p.strip() for p in (value or "").split(",") if p.strip()] if isinstance(value, str) else list(value or [])


def _users_match(cond, subject):
    if subject["kind"] != "user":
        return True  # service principals are matched by clientApplications
    users = cond.get("users") or {}
    if _user_in(users, "include", subject) is False:
        return False
    return not _user_in(users, "exclude", subject)


def _user_in(users, side, subject):
    ids = users.get(side + "Users") or []
    if side == "include" and "All" in ids:
        return True
    if subject["id"] and subject["id"] in ids:
        return True
    if subject["groups"] & set(users.get(side + "Groups") or []):
        return True
    if subject["roles"] & set(users.get(side + "Roles") or []):
        return True
    if "GuestsOrExternalUsers" in ids and subject["guest_types"]:
        return True
    guests = users.get(side + "GuestsOrExternalUsers")
    if guests and subject["guest_types"] & set(_flags(guests.get("guestOrExternalUserTypes"))):
        tenants = guests.get("externalTenants") or {}
        if tenants.get("membershipKind") in (None, "all") or subject["external_tenant"] in (tenants.get("members") or []):
            return True
    return False


def _workload_match(cond, subject):
    clients = cond.get("clientApplications") or {}
    if subject["kind"] != "servicePrincipal":
        # a policy for workload identities only (users None) does not reach users: the users check says so
        return True
    include = clients.get("includeServicePrincipals") or []
    if not include:
        return False
    if subject["id"] in (clients.get("excludeServicePrincipals") or []):
        return False
    return "ServicePrincipalsInMyTenant" in include or subject["id"] in include


def _app_in(app_id, listed):
    for entry in listed or []:
        if entry == "All" or entry == app_id or app_id in APP_GROUPS.get(entry, ()):
            return True
    return False


def _application_match(cond, context):
    apps = cond.get("applications") or {}
    if context.get("@odata.type") != APPLICATION_CONTEXT:
        return True
    include = apps.get("includeApplications") or []
    requested = context.get("includeApplications") or []
    if not include or not requested:
        return False
    exclude = apps.get("excludeApplications") or []
    return any(_app_in(a, include) and not _app_in(a, exclude) for a in requested)


def _user_action_match(cond, context):
    if context.get("@odata.type") != USER_ACTION_CONTEXT:
        return True
    apps = cond.get("applications") or {}
    # Microsoft's example answer applies All-resources policies to a user action too
    if "All" in (apps.get("includeApplications") or []):
        return True
    return USER_ACTIONS.get(context.get("userAction")) in (apps.get("includeUserActions") or [])


def _auth_context_match(cond, context):
    if context.get("@odata.type") != AUTH_CONTEXT:
        return True
    apps = cond.get("applications") or {}
    return context.get("authenticationContextValue") in (apps.get("includeAuthenticationContextClassReferences") or [])


def _platform_match(cond, conditions):
    platforms = cond.get("platforms") or {}
    include = platforms.get("includePlatforms") or []
    exclude = platforms.get("excludePlatforms") or []
    if not include:
        return True
    platform = conditions.get("devicePlatform")
    if platform is None:
        if include == ["all"] and not exclude:
            return True
        raise _NoInfo()
    if "all" not in include and platform not in include:
        return False
    return platform not in exclude


def _location_match(tenant, cond, conditions):
    locations = cond.get("locations") or {}
    include = locations.get("includeLocations") or []
    exclude = locations.get("excludeLocations") or []
    if not include:
        return True
    if include == ["All"] and not exclude:
        return True
    if conditions.get("ipAddress") is None and conditions.get("country") is None:
        raise _NoInfo()
    if not any(_at(tenant, lid, conditions) for lid in include):
        return False
    return not any(_at(tenant, lid, conditions) for lid in exclude)


def _at(tenant, location_id, conditions):
    """Is the sign-in at this location (All, AllTrusted or a named location)?"""
    if location_id == "All":
        return True
    if location_id == MFA_TRUSTED_IPS:
        return False
    named = tenant.get("namedLocations") or []
    if location_id == "AllTrusted":
        return any(_in_location(loc, conditions) for loc in named if loc.get("isTrusted"))
    loc = next((x for x in named if x.get("id") == location_id), None)
    return bool(loc) and _in_location(loc, conditions)


def _in_location(location, conditions):
    if location.get("@odata.type") == "#microsoft.graph.countryNamedLocation":
        country = conditions.get("country")
        if not country:
            return bool(location.get("includeUnknownCountriesAndRegions"))
        return country.upper() in (location.get("countriesAndRegions") or [])
    address = conditions.get("ipAddress")
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise EvaluationError(400, "BadRequest", "signInConditions.ipAddress %r is not an IP address." % address)
    for item in location.get("ipRanges") or []:
        try:
            if ip in ipaddress.ip_network(item.get("cidrAddress") or "", strict=False):
                return True
        except ValueError:
            continue
    return False


def _client_app_match(cond, conditions):
    types = cond.get("clientAppTypes") or []
    if not types or "all" in types:
        return True
    requested = conditions.get("clientAppType")
    if requested is None:
        raise _NoInfo()
    if requested == "all":
        return True
    # exchangeActiveSync policies written as easSupported cover EAS clients too
    return requested in types or (requested == "exchangeActiveSync" and "easSupported" in types)


def _level_match(levels, requested):
    levels = list(levels or [])
    if not levels:
        return True
    if requested is None:
        raise _NoInfo()
    return requested in levels


def _flow_match(cond, conditions):
    flows = _flags(((cond.get("authenticationFlows") or {}).get("transferMethods")))
    flows = [f for f in flows if f != "none"]
    if not flows:
        return True
    method = (conditions.get("authenticationFlow") or {}).get("transferMethod")
    if method is None:
        raise _NoInfo()
    return method in flows


def _devices_match(cond):
    if ((cond.get("devices") or {}).get("deviceFilter") or {}).get("rule"):
        raise _NoInfo()  # device filter rules are not evaluated by the sandbox
    return True
