"""Names the API takes (domains, MX hosts, sender patterns, ids), checked before any request.

Domain names: lower case, IDNs converted to punycode (``bücher.example`` becomes
``xn--bcher-kva.example``), every label 1-63 letters, digits or hyphens not at either end, 253
characters at most, a top label that starts with a letter. Sender patterns: an address, a whole
domain or ``*@domain``.

Every pattern must match the whole value (``fullmatch``: ``$`` would also match before a final
newline), and a message never echoes more than the start of a long value.
"""

from __future__ import annotations

import re
from typing import Annotated

import idna
from pydantic import AfterValidator, Field

from api_client import contract
from api_client.errors import clip, shown

LABEL = re.compile(contract.HOST_LABEL)
LOCAL_PART = re.compile(contract.LOCAL_PART)
ID_PATTERN = re.compile(contract.OBJECT_ID)
LONGEST_INPUT = 1024
"""Longer than any name the API takes, however written (IDN, trailing dot, spaces around)."""


def normalize_host(value: str) -> str:
    """A host name in the form the API takes, or ValueError saying what is wrong."""
    text = value.strip().rstrip(".")
    if not text:
        raise ValueError("a host name is required")
    if len(text) > LONGEST_INPUT:
        raise ValueError(f"{shown(value)} is longer than 253 characters")
    if any(ch.isspace() for ch in text) or "/" in text or "@" in text:
        raise ValueError(f"{shown(value)} is not a host name (no spaces, '/' or '@')")
    try:
        ascii_name = idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(f"{shown(value)} is not a valid host name: {clip(str(exc), 120)}") from exc
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise ValueError(f"{shown(value)} needs at least two labels, e.g. example.com")
    if len(ascii_name) > 253:
        raise ValueError(f"{shown(value)} is longer than 253 characters")
    for label in labels:
        if not LABEL.fullmatch(label):
            raise ValueError(
                f"{shown(value)}: label {shown(label)} must be 1-63 letters, digits or hyphens, "
                "not starting or ending with a hyphen"
            )
    if not labels[-1][0].isalpha():
        raise ValueError(f"{shown(value)}: the last label must start with a letter")
    return ascii_name


def normalize_sender_pattern(value: str) -> str:
    """``a@b.com``, ``b.com`` or ``*@b.com``, with the domain part normalized."""
    text = value.strip()
    if "@" not in text:
        return normalize_host(text)
    local, _, domain = text.rpartition("@")
    if local != "*" and not LOCAL_PART.fullmatch(local):
        raise ValueError(
            f"{shown(value)} is not a sender pattern: use an address (a@b.com), "
            "a domain (b.com) or every address of a domain (*@b.com)"
        )
    return f"{local}@{normalize_host(domain)}"


def check_object_id(value: str) -> str:
    text = value.strip()
    if not ID_PATTERN.fullmatch(text):
        raise ValueError(f"{shown(value)} is not an MxGuard id (letters, digits, '_' and '-')")
    return text


DomainName = Annotated[
    str,
    AfterValidator(normalize_host),
    Field(description="Domain name, e.g. example.com (IDNs are converted to punycode)."),
]
MxHost = Annotated[
    str,
    AfterValidator(normalize_host),
    Field(description="Your own mail server that MxGuard delivers to, e.g. mail.example.com."),
]
SenderPattern = Annotated[
    str,
    AfterValidator(normalize_sender_pattern),
    Field(description="An address (a@b.com), a whole domain (b.com) or *@b.com."),
]
ObjectId = Annotated[str, AfterValidator(check_object_id)]
