"""Checks an RO-Crate folder (or a .eln zip) against the RO-Crate 1.1 MUST rules and loads it
with ro-crate-py; prints {"problems": [...], "entities": {id: entity}} as JSON.

Usage: check_rocrate.py CRATE_DIR_OR_ELN
"""

import json
import os
import re
import sys
import tempfile
import zipfile
from urllib.parse import unquote, urlparse

from rocrate.rocrate import ROCrate

CONTEXT = "https://w3id.org/ro/crate/1.1/context"
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ].*)?$")


def refs(value):
    """Every {"@id": …} reference inside a property value."""
    if isinstance(value, dict):
        if set(value) == {"@id"}:
            yield value["@id"]
        else:
            for v in value.values():
                yield from refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from refs(v)


def check(root):
    problems = []
    with open(os.path.join(root, "ro-crate-metadata.json"), encoding="utf-8") as f:
        doc = json.load(f)
    if doc.get("@context") != CONTEXT:
        problems.append(f"@context is {doc.get('@context')!r}, not the 1.1 context")
    graph = doc.get("@graph")
    if not isinstance(graph, list):
        return ["@graph is not a list"], {}
    ids = [e.get("@id") for e in graph]
    entities = {e.get("@id"): e for e in graph}
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        problems.append(f"@ids repeated: {sorted(dup)}")
    if any(i is None for i in ids):
        problems.append("an entity has no @id")
    desc = entities.get("ro-crate-metadata.json", {})
    if desc.get("@type") != "CreativeWork":
        problems.append("the metadata descriptor is not a CreativeWork")
    if desc.get("about") != {"@id": "./"}:
        problems.append("the metadata descriptor is not about ./")
    if desc.get("conformsTo", {}).get("@id", "").rstrip("/") != "https://w3id.org/ro/crate/1.1":
        problems.append("the metadata descriptor does not conform to RO-Crate 1.1")
    root_entity = entities.get("./")
    if root_entity is None:
        return problems + ["no root data entity ./"], entities
    if root_entity.get("@type") != "Dataset":
        problems.append("the root is not a Dataset")
    for key in ("name", "description", "datePublished", "license"):
        if not root_entity.get(key):
            problems.append(f"the root has no {key}")
    if not ISO_DATE.match(str(root_entity.get("datePublished", ""))):
        problems.append("datePublished is not an ISO 8601 date")
    parts = {r for r in refs(root_entity.get("hasPart", []))}
    for e in graph:
        eid = e.get("@id", "")
        for r in refs({k: v for k, v in e.items() if k != "@id"}):
            if r not in entities and not urlparse(r).scheme:
                problems.append(f"{eid}: refers to {r}, which is not in the crate")
        types = e.get("@type")
        types = types if isinstance(types, list) else [types]
        if eid in ("./", "ro-crate-metadata.json") or urlparse(eid).scheme or eid.startswith("#"):
            continue
        if "File" in types or "Dataset" in types:
            if eid not in parts:
                problems.append(f"{eid}: a data entity not listed in the root's hasPart")
            if "Dataset" in types and not eid.endswith("/"):
                problems.append(f"{eid}: a Dataset @id must end with /")
            path = os.path.join(root, unquote(eid))
            exists = os.path.isdir(path) if "Dataset" in types else os.path.isfile(path)
            if not exists:
                problems.append(f"{eid}: not in the crate's folder")
    crate = ROCrate(root)
    loaded = {e.id for e in crate.get_entities()}
    if crate.root_dataset is None or crate.root_dataset["name"] != root_entity.get("name"):
        problems.append("ro-crate-py does not see the root dataset")
    missing = sorted(i for i in parts if i not in loaded)
    if missing:
        problems.append(f"ro-crate-py does not load {missing}")
    return problems, entities


def main():
    target = sys.argv[1]
    if os.path.isfile(target):
        with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(target) as z:
            z.extractall(tmp)
            tops = {n.split("/", 1)[0] for n in z.namelist()}
            if len(tops) != 1:
                print(json.dumps({"problems": [f"the .eln holds {sorted(tops)} at its top, not one folder"], "entities": {}}))
                return
            problems, entities = check(os.path.join(tmp, tops.pop()))
    else:
        problems, entities = check(target)
    print(json.dumps({"problems": problems, "entities": entities}))


if __name__ == "__main__":
    main()
