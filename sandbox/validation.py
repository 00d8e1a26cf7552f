"""Server-side checks of names and patterns, answering with the contract's 422 and the field."""

from __future__ import annotations

import re

import idna

from sandbox.errors import ApiError

LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
LOCAL_PART = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}$")


def hostname(value: str, param: str) -> str:
    """Lower-case, IDNs to punycode; at least two labels of letters, digits and hyphens."""
    text = value.strip().rstrip(".").lower()
    try:
        ascii_name = idna.encode(text, uts46=True).decode("ascii") if text else ""
    except idna.IDNAError as exc:
        raise ApiError(422, f"{param}: not a valid host name ({exc})", param=param) from exc
    labels = ascii_name.split(".")
    if (
        len(ascii_name) > 253
        or len(labels) < 2
        or not all(LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise ApiError(422, f"{param}: {value!r} is not a valid host name", param=param)
    return ascii_name


def sender_pattern(value: str, param: str = "pattern") -> str:
    """``a@b.com``, ``b.com`` or ``*@b.com``; returned in its normal form."""
    text = value.strip()
    if "@" not in text:
        return hostname(text, param)
    local, _, domain = text.rpartition("@")
    if local != "*" and not LOCAL_PART.match(local):
        raise ApiError(422, f"{param}: {value!r} is not an address or domain", param=param)
    return f"{local}@{hostname(domain, param)}"
