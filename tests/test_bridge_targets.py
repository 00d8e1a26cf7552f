"""The SSRF rules for target URLs (bridge/targets.py), one behaviour per test.

Names are resolved by a fake resolver (``FakeDNS``), so no test touches the network; an IP literal
in a URL is checked as it is, without resolving.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest

from api_client.errors import MxGuardError
from bridge.targets import TargetRefusedError, check_target, non_public, pinned_address

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"

REFUSED = [
    pytest.param("127.0.0.1", "loopback", id="loopback-v4"),
    pytest.param("10.12.0.7", "private", id="private-10"),
    pytest.param("172.16.4.20", "private", id="private-172.16"),
    pytest.param("172.31.255.254", "private", id="private-172.31"),
    pytest.param("192.168.1.10", "private", id="private-192.168"),
    pytest.param("169.254.169.254", "link-local", id="cloud-metadata"),
    pytest.param("100.64.12.1", "shared address space", id="carrier-grade-nat"),
    pytest.param("0.0.0.0", "unspecified", id="unspecified-v4"),
    pytest.param("224.0.0.1", "multicast", id="multicast-v4"),
    pytest.param("240.0.0.1", "reserved", id="reserved-v4"),
    pytest.param("255.255.255.255", "reserved", id="broadcast"),
    pytest.param("::1", "loopback", id="loopback-v6"),
    pytest.param("::", "unspecified", id="unspecified-v6"),
    pytest.param("fc00::1", "private", id="unique-local-fc00"),
    pytest.param("fd12:3456:789a::1", "private", id="unique-local-fd"),
    pytest.param("fe80::1", "link-local", id="link-local-v6"),
    pytest.param("ff02::1", "multicast", id="multicast-v6"),
    pytest.param("::ffff:127.0.0.1", "IPv4-mapped (127.0.0.1 is loopback)", id="mapped-loopback"),
    pytest.param("::ffff:10.0.0.1", "IPv4-mapped (10.0.0.1 is private)", id="mapped-private"),
    pytest.param("::ffff:169.254.169.254", "link-local", id="mapped-metadata"),
    pytest.param("2002:a9fe:a9fe::1", "6to4 (169.254.169.254", id="6to4-metadata"),
    pytest.param("64:ff9b::a00:1", "NAT64 (10.0.0.1 is private)", id="nat64-private"),
]


class FakeDNS:
    """A resolver answering from a table, and recording what it was asked."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


def url_for(address: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"https://{host}/hooks/mxguard"


def refused(url: str, *, allow_private: bool = False, dns: FakeDNS | None = None) -> str:
    """The rule ``url`` breaks (and checks the error is the typed one)."""
    with pytest.raises(TargetRefusedError) as caught:
        check_target(url, allow_private=allow_private, resolve=dns or FakeDNS({}))
    return caught.value.rule


# -- addresses in the URL --------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "range_named"), REFUSED)
def test_a_non_public_address_literal_is_refused_naming_its_range(
    address: str, range_named: str
) -> None:
    with pytest.raises(TargetRefusedError, match="--allow-private-targets") as caught:
        check_target(url_for(address), allow_private=False, resolve=FakeDNS({}))
    assert caught.value.rule == "address"
    assert range_named in caught.value.message


@pytest.mark.parametrize(("address", "range_named"), REFUSED)
def test_allow_private_lets_a_non_public_address_literal_through(
    address: str, range_named: str
) -> None:
    check_target(url_for(address), allow_private=True, resolve=FakeDNS({}))


@pytest.mark.parametrize("address", [PUBLIC_V4, PUBLIC_V6, "8.8.8.8", "::ffff:8.8.8.8"])
def test_a_public_address_literal_passes(address: str) -> None:
    check_target(url_for(address), allow_private=False, resolve=FakeDNS({}))


def test_an_address_literal_is_not_sent_to_the_resolver() -> None:
    dns = FakeDNS({})
    check_target(url_for(PUBLIC_V4), allow_private=False, resolve=dns)
    assert dns.asked == []


# -- names and what they resolve to ----------------------------------------------------------------


@pytest.mark.parametrize(("address", "range_named"), REFUSED)
def test_a_name_resolving_to_a_non_public_address_is_refused(
    address: str, range_named: str
) -> None:
    dns = FakeDNS({"hooks.example.com": [address]})
    with pytest.raises(TargetRefusedError) as caught:
        check_target("https://hooks.example.com/in", allow_private=False, resolve=dns)
    assert caught.value.rule == "address"
    assert "'hooks.example.com' resolves to" in caught.value.message
    assert range_named in caught.value.message


@pytest.mark.parametrize(("address", "range_named"), REFUSED)
def test_allow_private_lets_a_name_resolving_to_a_non_public_address_through(
    address: str, range_named: str
) -> None:
    dns = FakeDNS({"n8n.lan": [address]})
    check_target("http://n8n.lan:5678/webhook/abc", allow_private=True, resolve=dns)


def test_localhost_is_refused_through_what_it_resolves_to() -> None:
    dns = FakeDNS({"localhost": ["127.0.0.1", "::1"]})
    assert refused("http://localhost:8080/", dns=dns) == "address"


def test_a_name_resolving_to_public_addresses_passes() -> None:
    dns = FakeDNS({"hooks.zapier.com": [PUBLIC_V4, PUBLIC_V6]})
    check_target("https://hooks.zapier.com/hooks/catch/1/abc/", allow_private=False, resolve=dns)


def test_a_name_with_one_private_address_among_public_ones_is_refused() -> None:
    dns = FakeDNS({"hooks.example.com": [PUBLIC_V4, "10.0.0.8"]})
    assert refused("https://hooks.example.com/", dns=dns) == "address"


def test_the_resolver_is_asked_for_the_scheme_default_port() -> None:
    dns = FakeDNS({"hooks.example.com": [PUBLIC_V4]})
    check_target("https://hooks.example.com/in", allow_private=False, resolve=dns)
    check_target("http://hooks.example.com/in", allow_private=False, resolve=dns)
    assert dns.asked == [("hooks.example.com", 443), ("hooks.example.com", 80)]


def test_the_resolver_is_asked_for_the_url_port() -> None:
    dns = FakeDNS({"hooks.example.com": [PUBLIC_V4]})
    check_target("https://hooks.example.com:8443/in", allow_private=False, resolve=dns)
    assert dns.asked == [("hooks.example.com", 8443)]


def test_a_name_that_does_not_resolve_is_refused_clearly() -> None:
    with pytest.raises(TargetRefusedError, match="does not resolve") as caught:
        check_target("https://nowhere.invalid/", allow_private=False, resolve=FakeDNS({}))
    assert caught.value.rule == "resolution"
    assert "Name or service not known" in caught.value.message


def test_a_name_that_does_not_resolve_is_refused_even_with_allow_private() -> None:
    assert refused("https://nowhere.invalid/", allow_private=True) == "resolution"


def test_a_name_resolving_to_nothing_is_refused() -> None:
    assert refused("https://empty.example/", dns=FakeDNS({"empty.example": []})) == "resolution"


def test_a_resolver_answer_that_is_not_an_address_is_refused() -> None:
    dns = FakeDNS({"odd.example": ["not-an-ip"]})
    assert refused("https://odd.example/", dns=dns) == "resolution"


def test_pinned_address_is_the_first_checked_address() -> None:
    dns = FakeDNS({"hooks.example.com": [PUBLIC_V6, PUBLIC_V4]})
    address = pinned_address("https://hooks.example.com/", allow_private=False, resolve=dns)
    assert address == PUBLIC_V6


def test_pinned_address_refuses_what_check_target_refuses() -> None:
    dns = FakeDNS({"rebound.example": ["127.0.0.1"]})
    with pytest.raises(TargetRefusedError):
        pinned_address("https://rebound.example/", allow_private=False, resolve=dns)


# -- the URL's shape -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://files.example.com/drop",
        "file:///etc/passwd",
        "gopher://hooks.example.com/",
        "javascript:alert(1)",
        "hooks.example.com/in",
    ],
)
def test_a_scheme_other_than_http_or_https_is_refused(url: str) -> None:
    with pytest.raises(TargetRefusedError, match="http or https") as caught:
        check_target(url, allow_private=True, resolve=FakeDNS({}))
    assert caught.value.rule == "scheme"


def test_an_uppercase_https_scheme_passes() -> None:
    dns = FakeDNS({"hooks.example.com": [PUBLIC_V4]})
    check_target("HTTPS://hooks.example.com/", allow_private=False, resolve=dns)


@pytest.mark.parametrize("url", ["https:///in", "https://", "http://:8080/in"])
def test_a_url_without_a_host_is_refused(url: str) -> None:
    assert refused(url) == "host"


def test_credentials_in_the_url_are_refused_without_being_quoted() -> None:
    url = "https://zapier:hunter2-very-secret@hooks.example.com/in"
    with pytest.raises(TargetRefusedError) as caught:
        check_target(url, allow_private=True, resolve=FakeDNS({"hooks.example.com": [PUBLIC_V4]}))
    assert caught.value.rule == "userinfo"
    assert "hunter2" not in str(caught.value)
    assert "hunter2" not in repr(caught.value)


def test_a_user_without_password_in_the_url_is_refused() -> None:
    assert refused("https://admin@hooks.example.com/in") == "userinfo"


def test_an_unparsable_port_is_refused() -> None:
    assert refused("https://hooks.example.com:99999/in") == "url"


def test_port_zero_is_refused() -> None:
    assert refused("https://hooks.example.com:0/in") == "port"


def test_an_unclosed_ipv6_bracket_is_refused() -> None:
    assert refused("https://[::1/in") == "url"


def test_the_refusal_does_not_quote_the_query_string() -> None:
    url = "https://10.0.0.1/in?token=mxg_live_supersecret"
    with pytest.raises(TargetRefusedError) as caught:
        check_target(url, allow_private=False, resolve=FakeDNS({}))
    assert "supersecret" not in str(caught.value)


def test_target_refused_error_is_an_mxguard_error_on_the_target_url_param() -> None:
    with pytest.raises(MxGuardError) as caught:
        check_target("ftp://x/", allow_private=False, resolve=FakeDNS({}))
    assert caught.value.param == "target_url"


# -- the classification itself ---------------------------------------------------------------------


def test_non_public_is_none_for_a_public_address() -> None:
    assert non_public(ipaddress.ip_address(PUBLIC_V4)) is None
