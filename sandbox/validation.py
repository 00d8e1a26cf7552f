"""Names and patterns the contract accepts, as regular expressions shared by schema and server.

The same expression is declared in the OpenAPI document and enforced by the endpoint, so what the
document calls valid the server accepts, and the reverse. Host names are ASCII: IDNs travel as
punycode (``xn--…``), which the connector's actions convert to before sending.
"""

from __future__ import annotations

from api_client.contract import HOST_NAME, LOCAL_PART

HOSTNAME = rf"^{HOST_NAME}$"
SENDER_PATTERN = rf"^(?:(?:\*|{LOCAL_PART})@)?{HOST_NAME}$"
CURSOR = r"^[0-9]{1,18}\.[A-Za-z0-9_]{1,64}$"
"""A page cursor names the (time, id) of the last item returned. Clients treat it as opaque; the
document states its exact form so that every cursor it calls valid is one the server accepts."""


def normal_host(value: str) -> str:
    """Host names compare case-insensitively; store them in lower case."""
    return value.lower()


def normal_pattern(value: str) -> str:
    """The domain part of a sender pattern is case-insensitive; the local part is kept."""
    local, at, domain = value.rpartition("@")
    return f"{local}{at}{domain.lower()}"
