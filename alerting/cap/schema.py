"""Validation against the OASIS CAP 1.2 schema shipped in this package."""

from __future__ import annotations

import functools
from pathlib import Path

from lxml import etree

NS = "urn:oasis:names:tc:emergency:cap:1.2"
XSD = Path(__file__).with_name("CAP-v1.2.xsd")


@functools.cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def schema_errors(document: bytes | etree._Element) -> list[str]:
    """Why `document` is not valid CAP 1.2 ("line N: message" each); empty when it is."""
    root = etree.fromstring(document) if isinstance(document, bytes) else document
    schema = _schema()
    if schema.validate(root):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]
