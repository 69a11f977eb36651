"""ca_tenant_info's pure logic: Entra ID P1/P2 detection, policy/location counts, token permissions."""

import base64
import json

from ansible_collections.msp.conditional_access.plugins.module_utils import _tenant as t

P1 = "41781fb2-bc02-4b7c-bd55-b576c07bb09d"
P2 = "eec0eb4f-6444-4f95-aba0-50c24d67f998"
EXCHANGE = "9aaf7827-d63c-4b61-89c3-182f06f82e5c"


def sku(part, plans, status="Enabled"):
    return {"skuPartNumber": part, "skuId": part.lower(), "capabilityStatus": status,
            "servicePlans": [{"servicePlanId": pid, "servicePlanName": name, "provisioningStatus": prov}
                             for pid, name, prov in plans]}


def test_business_premium_carries_p1():
    result = t.licenses([sku("SPB", [(EXCHANGE, "EXCHANGE_S_STANDARD", "Success"), (P1, "AAD_PREMIUM", "Success")])])
    assert result["entra_id_p1"] is True and result["entra_id_p2"] is False
    assert result["skus"][0]["entra_id_plans"] == ["AAD_PREMIUM"]


def test_p2_implies_p1():
    result = t.licenses([sku("EMSPREMIUM", [(P2, "AAD_PREMIUM_P2", "Success")])])
    assert result == dict(result, entra_id_p1=True, entra_id_p2=True)


def test_no_premium_plan_means_no_conditional_access():
    assert t.licenses([sku("O365_BUSINESS_ESSENTIALS", [(EXCHANGE, "EXCHANGE_S_STANDARD", "Success")])])[
        "entra_id_p1"] is False
    assert t.licenses([])["entra_id_p1"] is False


def test_suspended_sku_and_disabled_plan_do_not_count():
    assert t.licenses([sku("SPB", [(P1, "AAD_PREMIUM", "Success")], status="Suspended")])["entra_id_p1"] is False
    assert t.licenses([sku("SPB", [(P1, "AAD_PREMIUM", "Disabled")])])["entra_id_p1"] is False


def test_plan_name_is_a_fallback_for_unknown_ids():
    assert t.licenses([sku("X", [("00000000-0000-0000-0000-000000000001", "AAD_PREMIUM_P2", "Success")])])[
        "entra_id_p2"] is True


def test_policy_counts():
    policies = [{"displayName": "CA001", "state": "enabled"},
                {"displayName": "Microsoft-managed: MFA for admins", "state": "enabledForReportingButNotEnforced"},
                {"displayName": "old", "state": "disabled"}]
    assert t.policy_counts(policies) == {"total": 3, "enabled": 1, "report_only": 1, "disabled": 1,
                                         "microsoft_managed": 1}


def test_location_counts():
    locations = [{"@odata.type": "#microsoft.graph.ipNamedLocation", "isTrusted": True},
                 {"@odata.type": "#microsoft.graph.ipNamedLocation", "isTrusted": False},
                 {"@odata.type": "#microsoft.graph.countryNamedLocation"}]
    assert t.location_counts(locations) == {"total": 3, "ip": 2, "country": 1, "trusted": 1}


def _jwt(claims):
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return "%s.%s." % (part({"alg": "none"}), part(claims))


def test_token_permissions():
    assert t.token_permissions(_jwt({"roles": ["Policy.Read.All", "Application.Read.All"]})) == [
        "Application.Read.All", "Policy.Read.All"]
    assert t.token_permissions(_jwt({"scp": "Policy.Read.All User.Read"})) == ["Policy.Read.All", "User.Read"]
    assert t.token_permissions("opaque-token") is None
    assert t.token_permissions(_jwt({"sub": "x"})) is None


def test_denied_section_names_the_permission_of_its_endpoint_and_others_go_on():
    from ansible_collections.msp.conditional_access.plugins.module_utils._graph import GraphError

    class Module:
        params = {}
        graph = None
        warnings = []

        def warn(self, text):
            self.warnings.append(text)

    info = t.TenantInfo(Module())

    def refuse(path):
        def fetch():
            raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.",
                             "GET", "https://graph.microsoft.com/v1.0" + path, "t")
        return fetch

    assert info._read("users", refuse("/users?$filter=x")) is None
    assert info._read("licenses", refuse("/subscribedSkus")) is None
    assert info._read("policies", lambda: ["p"]) == ["p"]
    assert "User.Read.All" in info.permissions["users"] and "Policy" not in info.permissions["users"]
    assert info.permissions["licenses"].startswith("denied (Authorization_RequestDenied): ")
    assert "Organization.Read.All" in info.permissions["licenses"]
    assert info.permissions["policies"] == "ok" and len(Module.warnings) == 2


# -- the checks the preflight role prints, through the one fake transport ------------------------------------
def _info(graph, **params):
    from ansible_collections.msp.conditional_access.plugins.module_utils._tenant import TENANT_INFO_SPEC

    return t.TenantInfo(graph.module(TENANT_INFO_SPEC, **params)).gather()


def test_client_checks_consent_licence_security_defaults_and_reads():
    from fake_transport import FakeTransport

    graph = FakeTransport(securityDefaults={"isEnabled": True}, subscribedSkus=[])
    result = _info(graph, tenant_role="client")
    verdict = {c["name"]: c["passed"] for c in result["checks"]}
    assert verdict == {"App consent": True, "Entra ID P1/P2 licence": False, "Security defaults": False,
                       "Graph reads": True}  # no break-glass check for a client: no false FAIL
    assert "FAIL Security defaults: ENABLED: turn them off before using Conditional Access" in result["summary"]
    assert graph.writes() == []


def test_msp_checks_need_break_glass_accounts_and_find_them():
    from fake_transport import FakeTransport

    graph = FakeTransport(users=[{"id": "aaaaaaaa-0000-4000-8000-0000000000b1", "userPrincipalName": "bg1@x"}],
                          subscribedSkus=[sku("AAD_PREMIUM_P2", [(t.PLAN_P2, "AAD_PREMIUM_P2", "Success")])])
    lines = _info(graph)["summary"]
    assert "FAIL Break-glass accounts configured: none given: set msp_break_glass_accounts (the lockout guard " \
           "needs them)" in lines
    lines = _info(graph, break_glass_accounts=["bg1@x", "nobody@x"])["summary"]
    assert "PASS Break-glass account bg1@x: exists" in lines and "FAIL Break-glass account nobody@x: NOT FOUND" in lines
    assert "PASS Entra ID P1/P2 licence: P2" in lines


def test_a_tenant_without_consent_is_one_failed_check_not_a_failed_task():
    from fake_transport import FakeTransport
    from sandbox.graph import GraphFailure

    graph = FakeTransport()

    def unconsented(_graph, method, path, body):
        raise GraphFailure(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
    graph.hooks.append(unconsented)
    result = _info(graph, tenant_role="client")
    [consent] = result["checks"]
    assert consent["name"] == "App consent" and not consent["passed"] and "401" in consent["reason"]
