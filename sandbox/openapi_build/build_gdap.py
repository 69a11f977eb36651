"""Rebuild sandbox/graph-v1.0-subset.openapi.json: the shared subset plus the GDAP paths the inventory plugin reads.

The shared build (../shared/reference/graph-openapi/build: prune_csdl.py, postprocess.py) is run unchanged, with its
keep-lists widened by the tenantRelationships singleton:

    GET /v1.0/tenantRelationships/delegatedAdminRelationships[/{id}]
    GET /v1.0/tenantRelationships/delegatedAdminCustomers[/{id}]
    GET /v1.0/tenantRelationships/findTenantInformationByTenantId(tenantId={id})   (the value is quoted: '<guid>')

Usage (needs node/npm and the CSDL of msgraph-metadata commit f54f11b60956ea7b185ca0447b2b80805836ec7b):

    python sandbox/openapi_build/build_gdap.py SHARED_BUILD_DIR v1.0-Prod.csdl OUT.json

`$batch` is not in the CSDL (the converter's batch path is skipped as in the shared build): the sandbox checks a
batch body itself (sandbox/gdap.py) and validates every sub-request against this spec.
"""
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
COMMIT = "f54f11b60956ea7b185ca0447b2b80805836ec7b"
CONTAINER = {"tenantRelationships"}
NAV = {("tenantRelationship", "delegatedAdminRelationships"), ("tenantRelationship", "delegatedAdminCustomers")}
BOUND = {("findTenantInformationByTenantId", "graph.tenantRelationship")}
PATHS = [
    ("/tenantRelationships/delegatedAdminRelationships", ["get"]),
    ("/tenantRelationships/delegatedAdminRelationships/{id}", ["get"]),
    ("/tenantRelationships/delegatedAdminCustomers", ["get"]),
    ("/tenantRelationships/delegatedAdminCustomers/{id}", ["get"]),
    ("/tenantRelationships/findTenantInformationByTenantId(tenantId={id})", ["get"]),
]
KEEP = ["identity", "policies", "subscribedSkus", "auditLogs", "users", "groups", "directoryRoles", "roleManagement",
        "servicePrincipals", "organization", "tenantRelationships"]


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def point_function_result(converted, csdl):
    """The converter emits a stub for a function's complex return type (as for evaluate) and no schema for it:
    give tenantInformation its schema from the CSDL's ComplexType (every property nullable but the non-nullable),
    and type the function's path parameter as a plain string."""
    with open(converted, encoding="utf-8") as handle:
        spec = json.load(handle)
    name = "microsoft.graph.tenantInformation"
    complex_type = next(t for t in ET.parse(csdl).getroot().iter(EDM + "ComplexType")
                        if t.get("Name") == "tenantInformation")
    spec["components"]["schemas"][name] = {
        "title": "tenantInformation", "type": "object",
        "properties": {p.get("Name"): {"type": "string" if p.get("Nullable") == "false" else ["string", "null"]}
                       for p in complex_type.iter(EDM + "Property")}}
    for path, item in spec["paths"].items():
        if "findTenantInformationByTenantId" in path:
            item["get"]["responses"]["200"]["content"]["application/json"]["schema"] = {
                "$ref": "#/components/schemas/" + name}
            for parameter in item["get"].get("parameters", []) + item.get("parameters", []):
                if parameter.get("in") == "path" and isinstance(parameter["schema"].get("type"), list):
                    # openapi-core cannot deserialise a path parameter typed [string, null]; the pattern still
                    # admits the OData literal null
                    parameter["schema"]["type"] = "string"
    with open(converted, "w", encoding="utf-8") as handle:
        json.dump(spec, handle)


def main(shared_build, csdl, out):
    prune = load(os.path.join(shared_build, "prune_csdl.py"), "prune_csdl")
    post = load(os.path.join(shared_build, "postprocess.py"), "postprocess")
    prune.CONTAINER_KEEP |= CONTAINER
    prune.NAV_KEEP |= NAV
    prune.BOUND_KEEP |= BOUND
    post.SELECT.extend(PATHS)
    shared_normalize = post.normalize_path

    def normalize_path(path):
        # a bound function with a parameter: Graph-style name and the key named {id} like every other key
        return re.sub(r"/graph\.(\w+)\((\w+)=\{\w+\}\)$", r"/\1(\2={id})", shared_normalize(path))
    post.normalize_path = normalize_path
    with tempfile.TemporaryDirectory() as work:
        pruned, converted = os.path.join(work, "pruned.csdl"), os.path.join(work, "converted.json")
        prune.main(csdl, pruned)
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "odata-openapi@0.29.0"], cwd=work,
                       check=True, stdout=subprocess.DEVNULL)
        keep = [arg for name in KEEP for arg in ("-k", name)]
        with open(os.path.join(work, "converter.log"), "w") as log:
            subprocess.run([os.path.join(work, "node_modules", ".bin", "odata-openapi3")] + keep
                           + ["--levels", "6", "--basePath", "/v1.0", "--skipBatchPath", "--openapi-version", "3.1.0",
                              "-t", converted, pruned], check=True, stdout=log, stderr=log)
        point_function_result(converted, pruned)
        post.main(converted, pruned, out, COMMIT)


if __name__ == "__main__":
    main(*sys.argv[1:4])
