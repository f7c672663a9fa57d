#!/usr/bin/env python3
"""Validates the server's repository exports offline; prints {"problems": [...]} as JSON.

Usage: check_exports.py datacite FILE.json   (the DataCite 4.5 JSON schema shipped in the
                                              `datacite` package, with format checks)
       check_exports.py oai_dc FILE.xml      (the OAI-PMH oai_dc XSD in tests/tools/oai_dc, lxml)
"""

import json
import os
import sys


def datacite(path):
    from datacite import schema45
    from jsonschema import Draft201909Validator, FormatChecker

    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    checked = Draft201909Validator(schema45.validator.schema, format_checker=FormatChecker())
    problems = [
        f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in checked.iter_errors(doc)
    ]
    if not problems and not schema45.validator.is_valid(doc):
        problems.append("datacite.schema45's validator refuses it")
    return problems


def oai_dc(path):
    from lxml import etree

    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "oai_dc")
    schema = etree.XMLSchema(etree.parse(os.path.join(here, "oai_dc.xsd")))
    try:
        doc = etree.parse(path)
    except etree.XMLSyntaxError as e:
        return [f"not well-formed: {e}"]
    if schema.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


if __name__ == "__main__":
    kind, path = sys.argv[1], sys.argv[2]
    print(json.dumps({"problems": {"datacite": datacite, "oai_dc": oai_dc}[kind](path)}))
