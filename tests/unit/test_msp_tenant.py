"""verified_msp_name: the MSP tenant's name comes from Graph, and a contradicting msp_tenant_name is refused."""

from __future__ import annotations

import pytest

from ansible_collections.msp.conditional_access.plugins.module_utils._graph import GraphError
from ansible_collections.msp.conditional_access.plugins.module_utils._module import InvalidOption
from ansible_collections.msp.conditional_access.plugins.module_utils._msp_tenant import verified_msp_name

MSP = "11111111-1111-4111-8111-111111111111"


class FakeGraph:
    def __init__(self, answer):
        self.answer = answer
        self.paths = []

    def get(self, path, params=None, version=None):
        self.paths.append(path)
        if isinstance(self.answer, GraphError):
            raise self.answer
        return self.answer


def test_the_name_shown_is_graphs_and_one_lookup_is_made():
    graph = FakeGraph({"tenantId": MSP, "displayName": "Contoso MSP", "defaultDomainName": "contoso-msp.onmicrosoft.com"})
    assert verified_msp_name(graph, MSP.upper(), None) == "Contoso MSP"
    assert verified_msp_name(graph, MSP, "  contoso   msp ") == "Contoso MSP"  # spacing and case are no contradiction
    assert graph.paths == ["/tenantRelationships/findTenantInformationByTenantId(tenantId='%s')" % MSP] * 2


def test_a_name_that_contradicts_graph_is_refused_naming_both():
    graph = FakeGraph({"tenantId": MSP, "displayName": "Woodgrove Bank", "defaultDomainName": "woodgrove.onmicrosoft.com"})
    with pytest.raises(InvalidOption) as err:
        verified_msp_name(graph, MSP, "Contoso MSP")
    text = str(err.value)
    assert err.value.option == "msp_tenant_name"
    assert "Woodgrove Bank" in text and "woodgrove.onmicrosoft.com" in text and MSP in text and "nothing was written" in text


@pytest.mark.parametrize("status,code,needle", [(404, "Request_ResourceNotFound", "knows no tenant"),
                                                (400, "BadRequest", "knows no tenant"),
                                                (403, "Authorization_RequestDenied", "CrossTenantInformation.ReadBasic.All")])
def test_a_tenant_graph_cannot_confirm_is_not_applied(status, code, needle):
    with pytest.raises(InvalidOption) as err:
        verified_msp_name(FakeGraph(GraphError(status, code, "no")), MSP, "Contoso MSP")
    assert err.value.option == "msp_tenant_id" and needle in str(err.value)


def test_other_graph_errors_are_not_turned_into_input_errors():
    with pytest.raises(GraphError):
        verified_msp_name(FakeGraph(GraphError(503, "ServiceUnavailable", "busy")), MSP, None)
