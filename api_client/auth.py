"""The API token: checked locally, kept in a ``Secret`` that never prints itself.

MxGuard tokens never expire and are treated like passwords, so the client refuses a malformed
one before any request, and nothing it prints (repr, str, log lines, exception messages) shows
more than ``mxg_live_X8kJ…``: text that came from elsewhere (a server, a proxy, ``requests``) goes
through ``Secret.scrub``, which also removes a token echoed in part or in another case.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from typing import NoReturn

import requests

from api_client.config import TOKEN_ENV
from api_client.errors import InvalidTokenError

TOKEN_PREFIXES = ("mxg_live_", "mxg_test_")
TOKEN_BODY_LENGTH = 43
TOKEN_BODY = re.compile(r"[A-Za-z0-9_-]*")
SHOWN_CHARACTERS = 13
"""The prefix and four characters: enough to recognise a token, not to use it."""
FRAGMENT = 5
"""``scrub`` removes every run of this many characters of the token's body, in any case: no more
of the body than the four characters of the redacted form is ever shown."""


def redact(value: str) -> str:
    """``mxg_live_X8kJ…``; nothing at all of a string too short to be a token."""
    return value[:SHOWN_CHARACTERS] + "…" if len(value) > SHOWN_CHARACTERS + 8 else "…"


class Secret:
    """A string that redacts itself in ``repr``, ``str`` and f-strings; ``reveal()`` to use it."""

    __slots__ = ("_fragments", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        self._fragments = _fragment_finder(value)

    def reveal(self) -> str:
        return self._value

    @property
    def redacted(self) -> str:
        return redact(self._value)

    @property
    def fingerprint(self) -> str:
        """A stable, non-reversible name for the token (SHA-256 prefix), e.g. for file keys."""
        return hashlib.sha256(self._value.encode()).hexdigest()[:16]

    def scrub(self, text: str) -> str:
        """``text`` with the secret replaced by its redacted form, and any other trace of it (the
        body without its prefix, a part of it, the same in upper or lower case) by ``…``.

        Every run of ``FRAGMENT`` characters of the token's body, whatever their case, counts as
        a trace, so an echo cut short, re-cased or stripped of its prefix is caught too.
        """
        if not self._value:
            return text
        text = text.replace(self._value, self.redacted)
        if self._fragments is None:
            return text
        spans: list[list[int]] = []
        for found in self._fragments.finditer(text):
            start, end = found.start(), found.start() + len(found.group(1))
            if spans and start <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
        if not spans:
            return text
        kept, last = [], 0
        for start, end in spans:
            kept += [text[last:start], "…"]
            last = end
        kept.append(text[last:])
        return "".join(kept)

    def __repr__(self) -> str:
        return f"Secret({self.redacted!r})"

    def __str__(self) -> str:
        return self.redacted

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled; pass the token to each process instead")


def _fragment_finder(value: str) -> re.Pattern[str] | None:
    """Finds (overlapping) runs of ``FRAGMENT`` characters of the token's body, in any case."""
    prefix = next((p for p in TOKEN_PREFIXES if value.startswith(p)), "")
    body = value[len(prefix) :]
    if len(body) < FRAGMENT:
        return None
    runs = sorted({body[i : i + FRAGMENT] for i in range(len(body) - FRAGMENT + 1)})
    return re.compile("(?=(" + "|".join(re.escape(run) for run in runs) + "))", re.IGNORECASE)


def check_token(value: str, source: str = "token") -> Secret:
    """A ``Secret`` for a well-formed token, else ``InvalidTokenError`` saying what is wrong.

    Surrounding whitespace (a pasted newline) is dropped; the message never echoes the token.
    """
    token = value.strip()
    expected = f"expected 'mxg_live_' or 'mxg_test_' followed by {TOKEN_BODY_LENGTH} characters"
    prefix = next((p for p in TOKEN_PREFIXES if token.startswith(p)), None)
    if prefix is None:
        problem = "it does not start with 'mxg_live_' or 'mxg_test_'"
    else:
        body = token[len(prefix) :]
        matched = TOKEN_BODY.match(body)
        valid = matched.end() if matched else 0
        if valid < len(body):
            problem = f"character {len(prefix) + valid + 1} is not one of [A-Za-z0-9_-]"
        elif len(body) != TOKEN_BODY_LENGTH:
            problem = f"it has {len(body)} characters after '{prefix}'"
        else:
            return Secret(token)
    raise InvalidTokenError(f"malformed MxGuard token in {source}: {problem}; {expected}")


def load_token(token: str | Secret | None) -> Secret:
    """The given token, else ``$MXGUARD_API_TOKEN``; checked either way."""
    if isinstance(token, Secret):
        return check_token(token.reveal())
    if token is not None:
        return check_token(token)
    from_env = os.environ.get(TOKEN_ENV)
    if not from_env:
        raise InvalidTokenError(f"no MxGuard token: pass token=... or set {TOKEN_ENV}")
    return check_token(from_env, source=f"${TOKEN_ENV}")


class BearerAuth(requests.auth.AuthBase):
    """Adds ``Authorization: Bearer …`` to each request; its repr shows the redacted token."""

    def __init__(self, secret: Secret) -> None:
        self._secret = secret

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._secret.reveal()}"
        return request

    def __repr__(self) -> str:
        return f"BearerAuth({self._secret!r})"
