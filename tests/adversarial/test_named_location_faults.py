"""ca_named_location under faults: no partial write on a refused delete, one IPv6 form, host bits warned."""

from __future__ import annotations

from .harness import graph_or_cipp_writes, run_module, warnings_of
from .module_cases import IP_TYPE, MSP, put_location, put_policy_using

V6 = "#microsoft.graph.iPv6CidrRange"
TRUSTED = {"id": "cccccccc-0000-4000-8000-000000000001", "displayName": "Faults trusted", "isTrusted": True,
           "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "198.51.100.0/24"}]}


def result_of(*args, **kwargs):
    """The result dict of one in-process module run."""
    return run_module(*args, **kwargs)[0]


def stored(sandbox, location_id):
    return next((loc for loc in sandbox.client.locations(MSP) if loc["id"] == location_id), None)


def test_a_refused_delete_trusts_the_location_again(sandbox_reset, module_env):
    sandbox = sandbox_reset
    put_location(TRUSTED)(sandbox)
    put_policy_using(TRUSTED["id"])(sandbox)  # Graph refuses to delete a location a policy names
    result, stray = run_module("ca_named_location", {"tenant_id": MSP, "id": TRUSTED["id"], "state": "absent",
                                                     "force": True}, module_env)
    assert result.get("failed") and "trusted again, nothing changed" in result["msg"], result
    assert "Traceback" not in stray
    after = stored(sandbox, TRUSTED["id"])
    assert after is not None and after["isTrusted"] is True  # not left untrusted-but-present
    methods = [e["method"] for e in graph_or_cipp_writes(sandbox.client.log(tenant=MSP))]
    assert methods == ["PATCH", "DELETE", "PATCH"]


def test_all_trusted_use_blocks_the_delete_and_force_deletes(sandbox_reset, module_env):
    sandbox = sandbox_reset
    put_location(TRUSTED)(sandbox)
    put_policy_using("AllTrusted")(sandbox)
    args = {"tenant_id": MSP, "display_name": TRUSTED["displayName"], "state": "absent"}
    refused = result_of("ca_named_location", args, module_env)
    assert refused.get("failed") and refused["invalid_option"] == "force" and "Uses the location" in refused["msg"]
    assert graph_or_cipp_writes(sandbox.client.log(tenant=MSP)) == []
    deleted = result_of("ca_named_location", dict(args, force=True), module_env)
    assert deleted.get("changed") is True and not deleted.get("failed"), deleted
    assert stored(sandbox, TRUSTED["id"]) is None


def test_ipv6_is_shown_one_way_and_host_bits_are_warned(sandbox_reset, module_env):
    sandbox = sandbox_reset
    loud = dict(TRUSTED, id="cccccccc-0000-4000-8000-000000000002", displayName="Faults v6", isTrusted=False,
                ipRanges=[{"@odata.type": V6, "cidrAddress": "2001:0DB8:0010:0000:0000:0000:0000:0000/48"}])
    put_location(loud)(sandbox)
    info = result_of("ca_named_location_info", {"tenant_id": MSP, "id": loud["id"]}, module_env)
    assert info["named_locations"][0]["ip_ranges"] == ["2001:db8:10::/48"]

    args = {"tenant_id": MSP, "id": loud["id"], "ip_ranges": ["2001:db8:10::/48", "203.0.113.10/24"]}
    checked = result_of("ca_named_location", args, module_env, check=True)
    assert checked["changed"] is True
    assert checked["diff"]["before"]["ip_ranges"] == ["2001:db8:10::/48"]
    assert checked["diff"]["after"]["ip_ranges"] == ["203.0.113.0/24", "2001:db8:10::/48"]
    assert [r["cidrAddress"] for r in checked["named_location"]["ipRanges"]] == ["203.0.113.0/24", "2001:db8:10::/48"]
    assert "ip_ranges: 203.0.113.10/24 has host bits set; it is used as 203.0.113.0/24" in warnings_of(checked)
    assert graph_or_cipp_writes(sandbox.client.log(tenant=MSP)) == []

    same = result_of("ca_named_location", dict(args, ip_ranges=["2001:DB8:10:0::/48"]), module_env)
    assert same["changed"] is False and same["named_location"]["ipRanges"][0]["cidrAddress"] == "2001:db8:10::/48"


def test_the_type_stays_on_a_new_location(sandbox_reset, module_env):
    created = result_of("ca_named_location", {"tenant_id": MSP, "display_name": "Faults new",
                                              "ip_ranges": ["2001:db8::/32"]}, module_env)
    assert created["changed"] is True
    [location] = [loc for loc in sandbox_reset.client.locations(MSP) if loc["displayName"] == "Faults new"]
    assert location["@odata.type"] == IP_TYPE and location["ipRanges"][0]["@odata.type"] == V6
