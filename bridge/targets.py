"""Which target URLs the bridge may call: the SSRF rules.

Subscribers choose the URL the bridge POSTs to, from inside the operator's network. Without
rules, a subscription to ``http://169.254.169.254/...`` or ``http://10.0.0.5:8080/admin`` would
make the bridge call the cloud's metadata service or an internal service on the caller's behalf.
So a target must be http(s), name a host, carry no credentials, and *every* address its host
resolves to must be public. The check runs at subscribe time and again before each delivery,
because a name can be re-pointed at a private address after it was accepted (DNS rebinding);
``pinned_address`` gives the address that was checked, so the worker can connect to exactly it.

``allow_private`` (the operator's ``--allow-private-targets``) lets private addresses through, for
a self-hosted receiver on the LAN and for tests; the other rules still hold.

Messages name the rule broken and the host or address, never the whole URL: a URL may carry a
password or a token in its query.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from api_client.errors import MxGuardError

Resolver = Callable[[str, int], list[str]]
"""``(host, port) -> addresses`` as text; raises ``OSError`` when the name does not resolve."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = {"http": 80, "https": 443}

SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")
"""RFC 6598, carrier-grade NAT: not private to ``ipaddress``, yet not reachable from outside."""
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")
"""RFC 6052: a NAT64 gateway forwards these to the IPv4 address in their last 32 bits."""


class TargetRefusedError(MxGuardError, ValueError):
    """A target URL the bridge will not call; ``rule`` names the rule it breaks.

    Rules: ``url`` (cannot be parsed), ``scheme``, ``host``, ``userinfo``, ``port``,
    ``resolution`` (the name does not resolve), ``address`` (a non-public address).
    The subscription API answers it with 422 on ``target_url``.
    """

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message, error_type="target_refused", param="target_url")
        self.rule = rule

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "rule": self.rule}


def resolve_with_getaddrinfo(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6), as the HTTP client would find them."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def check_target(
    url: str, *, allow_private: bool, resolve: Resolver = resolve_with_getaddrinfo
) -> None:
    """Raise ``TargetRefusedError`` unless the bridge may POST to ``url``."""
    approved_addresses(url, allow_private=allow_private, resolve=resolve)


def pinned_address(
    url: str, *, allow_private: bool, resolve: Resolver = resolve_with_getaddrinfo
) -> str:
    """The address to connect to for ``url``, checked: connect to it (with the URL's host name
    for TLS and ``Host``), so a second resolution cannot swap in a private address."""
    return approved_addresses(url, allow_private=allow_private, resolve=resolve)[0]


def approved_addresses(url: str, *, allow_private: bool, resolve: Resolver) -> list[str]:
    """The addresses of ``url``'s host, once every rule is checked (in the resolver's order)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise TargetRefusedError(f"the target URL cannot be parsed: {error}", rule="url") from None
    if parts.scheme not in SCHEMES:
        shown = parts.scheme or "none"
        raise TargetRefusedError(
            f"the target URL's scheme must be http or https, not {shown[:20]!r}", rule="scheme"
        )
    if "@" in parts.netloc:
        raise TargetRefusedError(
            "the target URL must not carry credentials (user:password@): put them in a header "
            "or the path instead",
            rule="userinfo",
        )
    host = parts.hostname
    if not host:
        raise TargetRefusedError("the target URL has no host", rule="host")
    if port == 0:
        raise TargetRefusedError("the target URL's port must be 1-65535, not 0", rule="port")
    port = port or SCHEMES[parts.scheme]

    literal = _parse_address(host)
    if literal is not None:
        texts = [host]
    else:
        try:
            texts = resolve(host, port)
        except (OSError, UnicodeError) as error:
            raise TargetRefusedError(
                f"the target host {host[:100]!r} does not resolve ({_reason(error)})",
                rule="resolution",
            ) from None
        if not texts:
            raise TargetRefusedError(
                f"the target host {host[:100]!r} resolves to no address", rule="resolution"
            )
    for text in texts:
        address = _parse_address(text)
        if address is None:
            raise TargetRefusedError(
                f"the target host {host[:100]!r} resolves to {text[:60]!r}, not an IP address",
                rule="resolution",
            )
        if allow_private:
            continue
        why = non_public(address)
        if why is not None:
            via = "" if literal is not None else f"the target host {host[:100]!r} resolves to "
            raise TargetRefusedError(
                f"{via}{address} is {why}: private targets are refused unless the bridge runs "
                "with --allow-private-targets",
                rule="address",
            )
    return texts


def non_public(address: IPAddress) -> str | None:
    """Which non-public range ``address`` is in (for a message), or None for a public address.

    IPv6 forms that carry an IPv4 address (IPv4-mapped, 6to4, Teredo, NAT64) are judged by it
    too, since a connection to them may end up at that IPv4 address.
    """
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:
            why = non_public(mapped)
            return None if why is None else f"IPv4-mapped ({mapped} is {why})"
        for kind, inner in _embedded_ipv4(address):
            why = non_public(inner)
            if why is not None:
                return f"{kind} ({inner} is {why})"
    if address.is_unspecified:
        return "unspecified (0.0.0.0 or ::)"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local (where cloud metadata services answer)"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in SHARED_ADDRESS_SPACE:
        return "shared address space (100.64.0.0/10, carrier-grade NAT)"
    if address.is_reserved:
        return "reserved"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local (fec0::/10)"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "not globally reachable"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    if address.sixtofour is not None:
        found.append(("6to4", address.sixtofour))
    if address.teredo is not None:
        server, client = address.teredo
        found += [("Teredo", server), ("Teredo", client)]
    if address in NAT64_PREFIX:
        found.append(("NAT64", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)))
    return found


def _parse_address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _reason(error: BaseException) -> str:
    if isinstance(error, socket.gaierror) and error.strerror:
        return error.strerror
    return type(error).__name__
