"""Microsoft Graph v1.0 (and /beta on the same state) for Conditional Access, per graph-ca.md section 8.

Everything here runs under the server's single state lock.
"""

import copy
import datetime
import ipaddress
import re
import uuid
from urllib.parse import urlencode

from . import gdap
from .evaluator import READ_ONLY_ACTIONS, EvaluationError, evaluate
from .validation import schema_message

CA = "/identity/conditionalAccess"
LOCATION_TYPES = ("#microsoft.graph.ipNamedLocation", "#microsoft.graph.countryNamedLocation")
# Global Secure Access's "All Compliant Network locations": a beta-only derived type (not in the v1.0 CSDL), made by
# the service, referable from policies, never written through the CA API
COMPLIANT_NETWORK = "#microsoft.graph.compliantNetworkNamedLocation"
BUILTIN_STRENGTHS = {  # id -> displayName (policyType builtIn), as Graph lists them in every tenant
    "00000000-0000-0000-0000-000000000002": "Multifactor authentication",
    "00000000-0000-0000-0000-000000000003": "Passwordless MFA",
    "00000000-0000-0000-0000-000000000004": "Phishing-resistant MFA",
}
LOCATION_TYPE_MISSING = ("1042: Unexpected type: namedLocationType for NamedLocations. Supported types are "
                         "IpNamedLocation, CountryNamedLocation and PrivateLinkNamedLocation.")
MMP_PREFIX = "Microsoft-managed:"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# the application keywords Graph takes besides appIds (v1.0 docs; AllAgentIdResources from CIPP's template code)
APP_KEYWORDS = {"All", "None", "Office365", "MicrosoftAdminPortals", "AllAgentIdResources"}
SPECIAL_LOCATIONS = {"All", "AllTrusted", "00000000-0000-0000-0000-000000000000"}
FLAGS = {
    "guestOrExternalUserTypes": ["none", "internalGuest", "b2bCollaborationGuest", "b2bCollaborationMember",
                                 "b2bDirectConnectUser", "otherExternalUser", "serviceProvider", "unknownFutureValue"],
    "transferMethods": ["none", "deviceCodeFlow", "authenticationTransfer", "unknownFutureValue"],
    "insiderRiskLevels": ["minor", "moderate", "elevated", "unknownFutureValue"],
}
# members after unknownFutureValue are hidden unless the client sends Prefer: include-unknown-enum-members
EVOLVABLE = {"linux", "riskRemediation"}
POLYMORPHIC_TYPES = {
    "#microsoft.graph.conditionalAccessEnumeratedExternalTenants", "#microsoft.graph.conditionalAccessAllExternalTenants",
    "#microsoft.graph.iPv4CidrRange", "#microsoft.graph.iPv6CidrRange", "#microsoft.graph.iPv4Range",
    "#microsoft.graph.iPv6Range", "#microsoft.graph.ipNamedLocation", "#microsoft.graph.countryNamedLocation",
    COMPLIANT_NETWORK,
}
ROLE_TEMPLATES = {
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9": "Conditional Access Administrator",
    "194ae4cb-b126-40b2-bd5b-6091b380977d": "Security Administrator",
    "f2ef992c-3afb-46b9-b7cf-a126ee74c451": "Global Reader",
    "e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
    "29232cdf-9323-42fd-ade2-1d097af3e4de": "Exchange Administrator",
    "f28a1f50-f6e7-4571-818b-6a12f2af6b6c": "SharePoint Administrator",
    "fe930be7-5e62-47db-91af-98c3a49a38b1": "User Administrator",
    "729827e3-9c14-49f7-bb1b-9608f156bbb8": "Helpdesk Administrator",
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3": "Application Administrator",
    "158c047a-c907-4556-b7ef-446551a6b5f7": "Cloud Application Administrator",
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13": "Privileged Authentication Administrator",
    "c4e39bd9-1100-46d3-8c65-fb160da0071f": "Authentication Administrator",
    "3a2c62db-5318-420d-8d74-23affee5d9d5": "Intune Administrator",
    "5d6b6bb7-de71-4623-b4af-96380a352509": "Security Reader",
}
# Graph's permission table for application tokens ("roles" claim): each route lists the role sets that let an
# app call it; a request passes when the token holds every role of one set (graph-ca.md 1.3). Anything else: 403.
READ_ALL, CA_WRITE_ROLE = "Policy.Read.All", "Policy.ReadWrite.ConditionalAccess"
DIRECTORY = ({"Directory.Read.All"}, {"Directory.ReadWrite.All"})


def any_of(*roles):
    return tuple({r} for r in roles)


CA_READS = "ca reads"  # CA GETs: see ca_read_alternatives()


def alternatives(roles):
    """gdap.PERMISSIONS style (a set: any one role; None: no check) as role-set alternatives."""
    return None if roles is None else tuple({r} for r in roles)


PERMISSIONS = [  # (path prefix, read alternatives, write alternatives); None: no check of its own
    # What If is a POST that reads (graph-ca.md 1.1: least privilege Policy.Read.ConditionalAccess)
    (CA + "/evaluate", any_of(READ_ALL, "Policy.Read.ConditionalAccess"), any_of(READ_ALL, "Policy.Read.ConditionalAccess")),
    (CA, CA_READS, ({READ_ALL, CA_WRITE_ROLE},)),
    ("/policies/identitySecurityDefaultsEnforcementPolicy",
     any_of(READ_ALL, "Policy.ReadWrite.SecurityDefaults", CA_WRITE_ROLE),
     any_of("Policy.ReadWrite.SecurityDefaults", CA_WRITE_ROLE)),
    ("/policies/authenticationStrengthPolicies", any_of(READ_ALL, "Policy.ReadWrite.AuthenticationMethod"), ()),
    ("/identityGovernance/termsOfUse", any_of("Agreement.Read.All", "Agreement.ReadWrite.All"), ()),
    ("/users", any_of("User.Read.All", "User.ReadBasic.All", "User.ReadWrite.All") + DIRECTORY, ()),
    ("/groups", any_of("Group.Read.All", "GroupMember.Read.All", "Group.ReadWrite.All") + DIRECTORY, ()),
    ("/servicePrincipals", any_of("Application.Read.All", "Application.ReadWrite.All") + DIRECTORY, ()),
    ("/organization", any_of("Organization.Read.All", "Organization.ReadWrite.All") + DIRECTORY, ()),
    ("/subscribedSkus", any_of("Organization.Read.All", "LicenseAssignment.Read.All") + DIRECTORY, ()),
    ("/auditLogs", any_of("AuditLog.Read.All"), ()),
    ("/directoryRoles", any_of("RoleManagement.Read.Directory", "RoleManagement.Read.All") + DIRECTORY, ()),
    ("/roleManagement", any_of("RoleManagement.Read.Directory", "RoleManagement.Read.All") + DIRECTORY, ()),
] + [(prefix, alternatives(read), alternatives(write)) for prefix, read, write in gdap.PERMISSIONS]


def ca_read_alternatives(faults):
    """Reading CA policies and locations needs Policy.Read.All; with ca_write_role_reads the write role alone reads
    too (the docs' "higher privileged" column; [UNVERIFIED] for app-only tokens)."""
    return any_of(READ_ALL, CA_WRITE_ROLE) if faults.get("ca_write_role_reads") else any_of(READ_ALL)


def permitted(roles, alternatives):
    return any(needed <= roles for needed in alternatives)


PAGE_SIZE = {"policies": 100, "namedLocations": 100, "signIns": 1000}
# texts of refusals whose exact Graph wording is [UNVERIFIED]; a fault switch "text_<key>" replaces one
TEXTS = {
    "trusted_delete": "1007: Locations marked as trusted can't be deleted without first removing the trusted "
                      "designation.",
    "location_in_use": "1007: The named location is used by Conditional Access policies: {policies}.",
    "mmp_change": "Microsoft-managed policies can only be turned on or off and have users excluded. Duplicate the "
                  "policy to make other changes.",
    "mmp_delete": "Microsoft-managed policies cannot be deleted.",
    # msgraph-metadata#647: v1.0 "always returns a 400 response instructing to use the Beta endpoint"; the code and
    # wording are not published, so the default names beta without 1038 (the module must not rely on the number)
    "everytime_v1": "The policy contains a sign-in frequency of 'everyTime' outside risky users, risky sign-ins and "
                    "Intune enrollment, which this API version does not support. Use the beta endpoint "
                    "(https://graph.microsoft.com/beta) to manage this policy.",
    "compliant_network_change": "1007: Compliant network locations are managed by Global Secure Access and cannot be "
                                "changed or deleted here.",
    "unknown_strength": "1007: AuthenticationStrengthPolicy with id {id} does not exist in the directory.",
    "unknown_terms": "1007: TermsOfUse agreement with id {id} does not exist in the directory.",
    "unknown_context": "1007: AuthenticationContextClassReference with id {id} does not exist in the directory.",
    "app_keyword": "1007: '{app}' in {side} is neither an application id nor a keyword Graph knows.",
    "security_defaults": "1037: Security defaults is enabled in the tenant. Disable security defaults to enable "
                         "Conditional Access policies.",
}


def text(faults, key, **values):
    return (faults.get("text_" + key) or TEXTS[key]).format(**values)


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


class GraphFailure(Exception):
    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def bad(message, code="BadRequest"):
    return GraphFailure(400, code, message)


# -- normalisation -----------------------------------------------------------------------------
def canonical_flags(name, value):
    members = FLAGS[name]
    parts = [p.strip() for p in str(value).split(",") if p.strip()]
    return ",".join(m for m in members if m in parts)


def normalise(obj, key=None):
    """Stored form: canonical flags, no non-polymorphic @odata.type annotations, no *@odata.context."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k.endswith("@odata.context") or (k == "@odata.type" and v not in POLYMORPHIC_TYPES):
                continue
            if k in FLAGS and isinstance(v, str):
                out[k] = canonical_flags(k, v)
            else:
                out[k] = normalise(v, k)
        return out
    if isinstance(obj, list):
        return [normalise(v, key) for v in obj]
    return obj


def drop_nulls(obj):
    if isinstance(obj, dict):
        return {k: drop_nulls(v) for k, v in obj.items() if v is not None}
    return obj


def deep_merge(target, patch):
    """PATCH semantics: objects merge, arrays and scalars replace, null clears."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict) and "@odata.type" not in value:
            deep_merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


REPORT_ONLY_RESULTS = {"reportOnlySuccess", "reportOnlyFailure", "reportOnlyNotApplied", "reportOnlyInterrupted"}
# evolvable enum members after unknownFutureValue, by the property that carries them
MASKED = {"includePlatforms": EVOLVABLE, "excludePlatforms": EVOLVABLE, "builtInControls": EVOLVABLE,
          "result": REPORT_ONLY_RESULTS}


def render(obj, prefer_unknown, key=None):
    """What a client sees: evolvable members as unknownFutureValue unless it sent Prefer: include-unknown-enum-members."""
    if prefer_unknown:
        return obj
    if isinstance(obj, dict):
        return {k: render(v, prefer_unknown, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [render(v, prefer_unknown, key) for v in obj]
    if isinstance(obj, str) and obj in MASKED.get(key, ()):
        return "unknownFutureValue"
    return obj


USERS_DEFAULTS = dict(includeUsers=[], excludeUsers=[], includeGroups=[], excludeGroups=[], includeRoles=[],
                      excludeRoles=[], includeGuestsOrExternalUsers=None, excludeGuestsOrExternalUsers=None)
APPS_DEFAULTS = dict(includeApplications=[], excludeApplications=[], includeUserActions=[],
                     includeAuthenticationContextClassReferences=[], applicationFilter=None)
COND_DEFAULTS = dict(userRiskLevels=[], signInRiskLevels=[], servicePrincipalRiskLevels=[], clientAppTypes=[],
                     platforms=None, locations=None, devices=None, clientApplications=None, insiderRiskLevels=None,
                     authenticationFlows=None)
GRANT_DEFAULTS = dict(operator="OR", builtInControls=[], customAuthenticationFactors=[], termsOfUse=[],
                      authenticationStrength=None)


def fill_policy_defaults(policy):
    cond = policy.setdefault("conditions", {}) or {}
    policy["conditions"] = cond
    for k, v in COND_DEFAULTS.items():
        cond.setdefault(k, copy.deepcopy(v))
    cond["users"] = dict(copy.deepcopy(USERS_DEFAULTS), **(cond.get("users") or {}))
    cond["applications"] = dict(copy.deepcopy(APPS_DEFAULTS), **(cond.get("applications") or {}))
    if policy.get("grantControls") is not None:
        policy["grantControls"] = dict(copy.deepcopy(GRANT_DEFAULTS), **policy["grantControls"])
    policy.setdefault("grantControls", None)
    policy.setdefault("sessionControls", None)
    policy["sessionControls"] = condense_session(policy["sessionControls"])
    for k in ("description", "templateId", "modifiedDateTime", "deletedDateTime"):
        policy.setdefault(k, None)
    return policy


def condense_session(session):
    """Graph answers ineffectual sessionControls as null."""
    if not session:
        return None
    effective = any([
        (session.get("applicationEnforcedRestrictions") or {}).get("isEnabled"),
        (session.get("cloudAppSecurity") or {}).get("isEnabled"),
        (session.get("persistentBrowser") or {}).get("isEnabled"),
        (session.get("signInFrequency") or {}).get("isEnabled"),
        session.get("disableResilienceDefaults"),
        (session.get("secureSignInSession") or {}).get("isEnabled"),
    ])
    return session if effective else None


# -- service rules (what the schema does not check) ----------------------------------------------
def check_policy_rules(policy, tenant, version, faults, lagging_locations, state_before=None):
    if version == "v1.0" and faults.get("v1_preview_refusal"):
        # any other preview feature v1.0 turns down: the text is the switch's value (it should name beta)
        raise bad(faults["v1_preview_refusal"])
    if not policy.get("displayName"):
        raise bad(schema_message("ConditionalAccessPolicy", ["displayName is required"]))
    cond = policy.get("conditions") or {}
    users = cond.get("users") or {}
    apps = cond.get("applications") or {}
    if not (users.get("includeUsers") or users.get("includeGroups") or users.get("includeRoles")
            or users.get("includeGuestsOrExternalUsers") or cond.get("clientApplications")):
        raise bad("1005: Conditions.Users must include users, groups, roles or guests.")
    kinds = [bool(apps.get("includeApplications")), bool(apps.get("includeUserActions")),
             bool(apps.get("includeAuthenticationContextClassReferences"))]
    if sum(kinds) == 0:
        raise bad("1011: Conditions.Applications.IncludeApplications must not be empty.")
    if sum(kinds) > 1:
        raise bad("1011: Applications, user actions and authentication contexts cannot be combined.")
    for side in ("includeApplications", "excludeApplications"):
        for app in apps.get(side) or []:
            if not GUID.match(str(app)) and app not in APP_KEYWORDS | set(faults.get("extra_app_keywords") or ()):
                raise bad(text(faults, "app_keyword", app=app, side=side))
    for side in ("includeGuestsOrExternalUsers", "excludeGuestsOrExternalUsers"):
        guests = users.get(side)
        if guests is None:
            continue
        if not guests.get("guestOrExternalUserTypes") and guests.get("externalTenants"):
            raise bad("1007: External tenants can be specified only when guestOrExternalUserTypes is set (%s)." % side)
        ext = guests.get("externalTenants") or {}
        if ext.get("membershipKind") == "enumerated" and not ext.get("members"):
            raise bad("1007: membershipKind enumerated needs members (%s)." % side)
        if ext.get("membershipKind") != "enumerated" and ext.get("members"):
            raise bad("1007: Only membershipKind enumerated can have members (%s)." % side)
    grant = policy.get("grantControls") or {}
    session = condense_session(copy.deepcopy(policy.get("sessionControls")))
    if grant:
        if grant.get("operator") not in ("AND", "OR"):
            raise bad("1007: grantControls.operator must be AND or OR.")
    has_grant = bool(grant.get("builtInControls") or grant.get("authenticationStrength") or grant.get("termsOfUse")
                     or grant.get("customAuthenticationFactors"))
    if not has_grant and not session:
        raise bad("1007: A policy needs at least one grant control or session control.")
    if "passwordChange" in (grant.get("builtInControls") or []):
        if not ("mfa" in grant["builtInControls"] and grant.get("operator") == "AND" and cond.get("userRiskLevels")
                and apps.get("includeApplications") == ["All"]):
            raise bad("1032: ConditionalActionPolicy validation failed due to InvalidPasswordResetControl.")
    sif = (policy.get("sessionControls") or {}).get("signInFrequency") or {}
    if sif.get("frequencyInterval") == "everyTime":
        if sif.get("type") is not None or sif.get("value") is not None:
            raise bad("1007: signInFrequency with frequencyInterval everyTime must not set type or value.")
        sc = policy.get("sessionControls") or {}
        if sc.get("applicationEnforcedRestrictions") is not None or sc.get("disableResilienceDefaults") is not None:
            raise bad("1007: 2 options are not allowed with signInFrequency everyTime: applicationEnforcedRestrictions, "
                      "disableResilienceDefaults.")
        if version == "v1.0" and faults.get("everytime_requires_beta"):
            # the 1038 reading (azure-docs-powershell-azuread#659): every every-time policy, with the preview text
            raise bad("1038: The policy you are trying to create or update contains preview features. Use the Canary "
                      "endpoint (beta) to manage this policy.")
        if version == "v1.0" and not everytime_in_v1_scope(cond, faults):
            raise bad(text(faults, "everytime_v1"))
    elif sif.get("isEnabled") and (sif.get("type") is None or sif.get("value") is None):
        raise bad("1007: signInFrequency needs type and value unless frequencyInterval is everyTime.")
    strength = (grant.get("authenticationStrength") or {}).get("id")
    if strength and strength not in BUILTIN_STRENGTHS and strength not in {
            s["id"] for s in tenant["authenticationStrengthPolicies"]}:
        raise bad(text(faults, "unknown_strength", id=strength))
    for agreement in grant.get("termsOfUse") or []:
        if agreement not in {a["id"] for a in tenant["agreements"]}:
            raise bad(text(faults, "unknown_terms", id=agreement))
    for context in apps.get("includeAuthenticationContextClassReferences") or []:
        if context not in {c["id"] for c in tenant["authenticationContextClassReferences"]}:
            raise bad(text(faults, "unknown_context", id=context))
    locations = cond.get("locations") or {}
    known = {loc["id"] for loc in tenant["namedLocations"]}
    for lid in (locations.get("includeLocations") or []) + (locations.get("excludeLocations") or []):
        if lid in SPECIAL_LOCATIONS:
            continue
        if lid not in known or lagging_locations(lid):
            raise bad("1040: NamedLocation with id %s does not exist in the directory." % lid)
    # [UNVERIFIED] rule and text: turning a policy on while security defaults are on is refused
    if policy.get("state") == "enabled" and state_before != "enabled" and tenant["securityDefaults"].get("isEnabled"):
        raise bad(text(faults, "security_defaults"))


def check_location_rules(location, tenant, creating):
    otype = location.get("@odata.type")
    if otype not in LOCATION_TYPES:
        raise bad(LOCATION_TYPE_MISSING)
    if not location.get("displayName"):
        raise bad(schema_message("NamedLocation", ["displayName is required"]))
    if otype == "#microsoft.graph.ipNamedLocation":
        ranges = location.get("ipRanges") or []
        if not ranges:
            raise bad("1007: ipRanges must not be empty.")
        if len(ranges) > 2000:
            raise bad("1007: A named location holds at most 2000 IP ranges.")
        for item in ranges:
            cidr = item.get("cidrAddress") or ""
            try:
                net = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise bad("Property ipRanges in payload has a value that does not match schema.")
            if "/" not in cidr or net.prefixlen <= 8:
                raise bad("1007: Only CIDR masks greater than /8 are allowed (%s)." % cidr)
    else:
        codes = location.get("countriesAndRegions") or []
        if not codes or any(not re.match(r"^[A-Z]{2}$", c) for c in codes):
            raise bad("1007: countriesAndRegions needs ISO 3166-1 alpha-2 codes.")
        if location.get("isTrusted"):
            raise bad("1007: IsTrusted is not supported for country locations.")
    if creating and len(tenant["namedLocations"]) >= 195:
        raise bad("1007: A tenant holds at most 195 named locations.")


INTUNE_ENROLLMENT = "d4ebce55-015a-49b5-a083-c84d1797ae8c"  # Microsoft Intune Enrollment


def everytime_in_v1_scope(cond, faults):
    """v1.0 documents every-time sign-in frequency for risky users, risky sign-ins and Intune enrolment only; the
    beta docs add any application (graph-ca.md 2.3 item 6). everytime_v1_accepted: v1.0 takes every policy."""
    if faults.get("everytime_v1_accepted"):
        return True
    apps = (cond.get("applications") or {}).get("includeApplications") or []
    return bool(cond.get("userRiskLevels") or cond.get("signInRiskLevels") or INTUNE_ENROLLMENT in apps)


def mmp_change_allowed(before, after):
    """Microsoft-managed policies: only state and user exclusions may change."""
    def strip(p):
        p = copy.deepcopy(p)
        for k in ("state", "modifiedDateTime"):
            p.pop(k, None)
        users = (p.get("conditions") or {}).get("users") or {}
        for k in ("excludeUsers", "excludeGroups", "excludeRoles", "excludeGuestsOrExternalUsers"):
            users.pop(k, None)
        return p
    return strip(before) == strip(after)


# -- $filter -----------------------------------------------------------------------------------
EQ = re.compile(r"^\s*([\w/]+)\s+eq\s+'((?:[^']|'')*)'\s*$", re.I)


def apply_filter(items, expr):
    if not expr:
        return items
    expr = expr.strip()
    m = re.match(r"^isof\('microsoft\.graph\.(\w+)'\)$", expr)
    if m:
        return [i for i in items if i.get("@odata.type") == "#microsoft.graph." + m.group(1)]
    m = re.match(r"^createdDateTime\s+ge\s+(\S+)(?:\s+and\s+(.*))?$", expr)
    if m:
        items = [i for i in items if (i.get("createdDateTime") or "") >= m.group(1)]
        return apply_filter(items, m.group(2)) if m.group(2) else items
    m = re.match(r"^appliedConditionalAccessPolicies/any\(\w+:\s*\w+/id eq '([^']+)'\)$", expr)
    if m:
        return [i for i in items if any(p.get("id") == m.group(1) for p in i.get("appliedConditionalAccessPolicies") or [])]
    m = EQ.match(expr)
    if m:
        field, value = m.group(1), m.group(2).replace("''", "'")
        return [i for i in items if str(i.get(field, "")).lower() == value.lower()]
    raise bad("Invalid filter clause: unsupported expression %r" % expr, code="BadRequest")


# -- the Graph request dispatcher -------------------------------------------------------------------
class Graph:
    def __init__(self, state):
        self.state = state  # sandbox.server.State

    def handle(self, ctx):
        """ctx: method, version, path (after the version), query (dict), body, claims, tenant, prefer_unknown, base."""
        claims = ctx["claims"]
        roles = set(claims.get("roles") or [])
        path = ctx["path"].rstrip("/")
        method = ctx["method"]
        tenant = ctx["tenant"]
        reading = method == "GET" or path in READ_ONLY_ACTIONS
        needed = next(((read if reading else write) for prefix, read, write in PERMISSIONS if path.startswith(prefix)), ())
        if needed == CA_READS:
            needed = ca_read_alternatives(ctx["faults"])
        if needed is not None and not permitted(roles, needed):
            raise GraphFailure(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")

        for pattern, handler in self.routes():
            m = re.match(pattern + "$", path)
            if m:
                return handler(ctx, tenant, *m.groups())
        raise GraphFailure(400, "BadRequest", "Resource not found for the segment '%s'." % path.rsplit("/", 1)[-1])

    def routes(self):
        return [
            (CA + r"/(policies|namedLocations)", self.collection),
            (CA + r"/(policies|namedLocations)/([^/]+)", self.item),
            (CA + r"/evaluate", self.what_if),
            (CA + r"/deletedItems/(policies|namedLocations)", self.deleted_collection),
            (CA + r"/deletedItems/(policies|namedLocations)/([^/]+)", self.deleted_item),
            (CA + r"/deletedItems/(policies|namedLocations)/([^/]+)/restore", self.restore),
            (CA + r"/authenticationContextClassReferences", self.listing("authenticationContextClassReferences")),
            (CA + r"/authenticationContextClassReferences/([^/]+)", self.listing("authenticationContextClassReferences")),
            (r"/policies/authenticationStrengthPolicies", self.listing("authenticationStrengthPolicies")),
            (r"/policies/authenticationStrengthPolicies/([^/]+)", self.listing("authenticationStrengthPolicies")),
            (r"/identityGovernance/termsOfUse/agreements", self.listing("agreements")),
            (r"/identityGovernance/termsOfUse/agreements/([^/]+)", self.listing("agreements")),
            (r"/policies/identitySecurityDefaultsEnforcementPolicy", self.security_defaults),
            (r"/subscribedSkus", self.skus),
            (r"/auditLogs/signIns", self.sign_ins),
            (r"/(users|groups|servicePrincipals|organization)", self.directory_collection),
            (r"/(users|groups|servicePrincipals|organization)/([^/]+)", self.directory_item),
            (r"/directoryRoles", self.directory_roles),
            (r"/roleManagement/directory/roleDefinitions", self.role_definitions),
            (r"/roleManagement/directory/roleDefinitions/([^/]+)", self.role_definition),
        ] + gdap.routes(self)

    # -- helpers
    def page(self, ctx, items, kind=None):
        items = apply_filter(items, ctx["query"].get("$filter"))
        select = ctx["query"].get("$select")
        top = int(ctx["query"].get("$top") or PAGE_SIZE.get(kind, 100))
        skip = int(ctx["query"].get("$skiptoken") or 0)
        chunk = items[skip: skip + top]
        if select:
            keys = set(select.split(",")) | {"id", "@odata.type"}
            chunk = [{k: v for k, v in i.items() if k in keys} for i in chunk]
        body = {"@odata.context": "%s/%s/$metadata#%s" % (ctx["base"], ctx["version"], ctx["path"].strip("/")),
                "value": [render(copy.deepcopy(i), ctx["prefer_unknown"]) for i in chunk]}
        if skip + top < len(items):
            query = {k: v for k, v in ctx["query"].items() if k != "$skiptoken"}
            query["$skiptoken"] = str(skip + top)
            if "$top" not in query:
                query["$top"] = str(top)
            body["@odata.nextLink"] = "%s/%s%s?%s" % (ctx["base"], ctx["version"], ctx["path"], urlencode(query))
        return 200, body

    def find(self, tenant, kind, oid):
        for item in tenant[kind]:
            if item["id"] == oid:
                return item
        return None

    def not_found(self, kind, oid):
        label = "NamedLocation" if kind == "namedLocations" else "ConditionalAccessPolicy"
        return GraphFailure(404, "ResourceNotFound", "%s with id %s does not exist in the directory." % (label, oid))

    def listing(self, key):
        """Read-only collections a policy refers to by id: authentication strengths (built-ins first), terms of use
        agreements, authentication contexts."""
        def handle(ctx, tenant, oid=None):
            if ctx["method"] != "GET":
                raise GraphFailure(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request uri.")
            items = copy.deepcopy(tenant[key])
            if key == "authenticationStrengthPolicies":
                items = [{"id": sid, "displayName": name, "policyType": "builtIn", "requirementsSatisfied": "mfa",
                          "allowedCombinations": []} for sid, name in BUILTIN_STRENGTHS.items()] + items
            if oid is None:
                return self.page(ctx, items)
            for item in items:
                if item["id"] == oid:
                    return 200, item
            raise GraphFailure(404, "ResourceNotFound", "Resource with id %s does not exist." % oid)
        return handle

    def visible(self, ctx, kind, item):
        """v1.0 has no compliantNetworkNamedLocation type: hidden there unless compliant_network_on_v1."""
        return not (kind == "namedLocations" and item.get("@odata.type") == COMPLIANT_NETWORK
                    and ctx["version"] == "v1.0" and not ctx["faults"].get("compliant_network_on_v1"))

    # -- CA collections
    def collection(self, ctx, tenant, kind):
        if ctx["method"] == "GET":
            return self.page(ctx, [i for i in tenant[kind] if self.visible(ctx, kind, i)], kind)
        if ctx["method"] != "POST":
            raise GraphFailure(405, "Request_BadRequest", "Method not allowed.")
        body = normalise(ctx["body"] or {})
        for k in ("id", "createdDateTime", "modifiedDateTime", "deletedDateTime"):
            body.pop(k, None)
        if kind == "namedLocations":
            check_location_rules(body, tenant, creating=True)
            item = {"@odata.type": body["@odata.type"], "id": str(uuid.uuid4()), "createdDateTime": now(),
                    "modifiedDateTime": None}
            if body["@odata.type"] == "#microsoft.graph.ipNamedLocation":
                item.update(isTrusted=False)
            else:
                item.update(includeUnknownCountriesAndRegions=False, countryLookupMethod="clientIpAddress")
            item.update(body)
        else:
            if "state" not in body or "conditions" not in body:
                raise bad(schema_message("ConditionalAccessPolicy", ["state and conditions are required"]))
            item = fill_policy_defaults(dict(body, id=str(uuid.uuid4()), createdDateTime=now()))
            check_policy_rules(item, tenant, ctx["version"], ctx["faults"], self.state.lagging_location(tenant))
        tenant[kind].append(item)
        self.state.mark_written(tenant, item["id"], kind)
        out = dict(render(copy.deepcopy(item), ctx["prefer_unknown"]))
        out["@odata.context"] = "%s/%s/$metadata#identity/conditionalAccess/%s/$entity" % (ctx["base"], ctx["version"], kind)
        return 201, out

    def item(self, ctx, tenant, kind, oid):
        current = self.find(tenant, kind, oid)
        if current is not None and not self.visible(ctx, kind, current):
            current = None
        if current is None or (ctx["method"] == "GET" and self.state.lagging_read(tenant, oid)):
            raise self.not_found(kind, oid)
        if ctx["method"] != "GET" and current.get("@odata.type") == COMPLIANT_NETWORK:
            raise bad(text(ctx["faults"], "compliant_network_change"))
        if ctx["method"] == "GET":
            out = render(copy.deepcopy(current), ctx["prefer_unknown"])
            select = ctx["query"].get("$select")
            if select:
                keys = set(select.split(",")) | {"id", "@odata.type"}
                out = {k: v for k, v in out.items() if k in keys}
            return 200, out
        if ctx["method"] == "DELETE":
            return self.delete(tenant, kind, current, ctx["faults"])
        if ctx["method"] != "PATCH":
            raise GraphFailure(405, "Request_BadRequest", "Method not allowed.")
        patch = ctx["body"] or {}
        if kind == "namedLocations":
            if patch.get("@odata.type") not in LOCATION_TYPES:
                raise bad(LOCATION_TYPE_MISSING)
            if patch["@odata.type"] != current["@odata.type"]:
                raise bad("1007: The type of a named location cannot be changed.")
        patch = normalise(patch)
        patch.pop("id", None)
        if isinstance(patch.get("sessionControls"), dict) and not ctx["faults"].get("session_nested_null_clears"):
            # Terraform's reading of Graph: session controls go only when the whole object is null; a nested null
            # (one sub-control, or a property of one) leaves the stored value as it was
            patch["sessionControls"] = drop_nulls(patch["sessionControls"])
        after = deep_merge(copy.deepcopy(current), patch)
        if kind == "namedLocations":
            check_location_rules(after, tenant, creating=False)
        else:
            after["sessionControls"] = condense_session(after.get("sessionControls"))
            if current["displayName"].startswith(MMP_PREFIX) and ctx["faults"].get("mmp_locked", True):
                if not mmp_change_allowed(current, after):
                    # Graph's exact text is [UNVERIFIED]; this one says what the portal says
                    raise bad(text(ctx["faults"], "mmp_change"))
            check_policy_rules(after, tenant, ctx["version"], ctx["faults"], self.state.lagging_location(tenant),
                               state_before=current.get("state"))
        after["modifiedDateTime"] = now()
        if ctx["faults"].get("patch_noop"):
            return 204, None  # accepted, nothing stored: a silent no-op the caller must catch by reading back
        current.clear()
        current.update(after)
        self.state.mark_written(tenant, oid, kind)
        return 204, None

    def delete(self, tenant, kind, current, faults):
        if kind == "namedLocations":
            if current.get("isTrusted"):
                raise bad(text(faults, "trusted_delete"))
            users = []
            for item in tenant["policies"]:
                locations = (item.get("conditions") or {}).get("locations") or {}
                if current["id"] in (locations.get("includeLocations") or []) + (locations.get("excludeLocations") or []):
                    users.append(item["displayName"])
            if users:  # [UNVERIFIED] the portal refuses; Graph's behaviour and text are not documented
                raise bad(text(faults, "location_in_use", policies=", ".join(users)))
        elif current["displayName"].startswith(MMP_PREFIX) and faults.get("mmp_locked", True):
            raise bad(text(faults, "mmp_delete"))
        tenant[kind].remove(current)
        tenant["deleted"][kind].append(dict(current, deletedDateTime=now()))
        return 204, None

    def deleted_collection(self, ctx, tenant, kind):
        return self.page(ctx, tenant["deleted"][kind], kind)

    def deleted_item(self, ctx, tenant, kind, oid):
        item = next((i for i in tenant["deleted"][kind] if i["id"] == oid), None)
        if item is None:
            raise self.not_found(kind, oid)
        if ctx["method"] == "DELETE":
            tenant["deleted"][kind].remove(item)
            return 204, None
        return 200, copy.deepcopy(item)

    def restore(self, ctx, tenant, kind, oid):
        item = next((i for i in tenant["deleted"][kind] if i["id"] == oid), None)
        if item is None:
            raise self.not_found(kind, oid)
        tenant["deleted"][kind].remove(item)
        item["deletedDateTime"] = None
        tenant[kind].append(item)
        return 200, copy.deepcopy(item)

    def what_if(self, ctx, tenant):
        """What If: sandbox/evaluator.py."""
        try:
            results = evaluate(tenant, ctx["body"])
        except EvaluationError as exc:
            raise GraphFailure(exc.status, exc.code, exc.message)
        return 200, {"@odata.context": "%s/%s/$metadata#Collection(microsoft.graph.whatIfAnalysisResult)"
                     % (ctx["base"], ctx["version"]), "value": [render(r, ctx["prefer_unknown"]) for r in results]}

    # -- tenant settings and reports
    def security_defaults(self, ctx, tenant):
        sd = tenant["securityDefaults"]
        if ctx["method"] == "PATCH":
            sd.update({k: v for k, v in (ctx["body"] or {}).items() if k == "isEnabled"})
            return 204, None
        return 200, dict({"id": "00000000-0000-0000-0000-000000000005", "displayName": "Security Defaults",
                          "description": "Security defaults is a set of basic identity security mechanisms."}, **sd)

    def skus(self, ctx, tenant):
        return 200, {"value": copy.deepcopy(tenant["subscribedSkus"])}

    def sign_ins(self, ctx, tenant):
        if not any(s for s in tenant["subscribedSkus"] if "AAD_PREMIUM" in str(s)):
            raise GraphFailure(403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                               "Neither tenant is B2C or tenant doesn't have premium license")
        return self.page(ctx, sorted(tenant["signIns"], key=lambda s: s.get("createdDateTime", ""), reverse=True),
                         "signIns")

    # -- directory reads
    def directory_collection(self, ctx, tenant, kind):
        return self.page(ctx, tenant.get(kind) or [])

    def directory_item(self, ctx, tenant, kind, key):
        for item in tenant.get(kind) or []:
            if item.get("id") == key or (item.get("userPrincipalName") or "").lower() == key.lower():
                return 200, copy.deepcopy(item)
        raise GraphFailure(404, "Request_ResourceNotFound", "Resource '%s' does not exist or one of its queried "
                           "reference-property objects are not present." % key)

    def directory_roles(self, ctx, tenant):
        roles = [{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, tid)), "roleTemplateId": tid, "displayName": name}
                 for tid, name in ROLE_TEMPLATES.items()]
        return self.page(ctx, roles)

    def role_definitions(self, ctx, tenant):
        return self.page(ctx, [self._role(tid) for tid in ROLE_TEMPLATES])

    def role_definition(self, ctx, tenant, tid):
        if tid not in ROLE_TEMPLATES:
            raise GraphFailure(404, "Request_ResourceNotFound", "Resource '%s' does not exist." % tid)
        return 200, self._role(tid)

    @staticmethod
    def _role(tid):
        return {"id": tid, "templateId": tid, "displayName": ROLE_TEMPLATES[tid], "isBuiltIn": True, "isEnabled": True}
