"""Connection failures against real local conditions: a closed port, a name that does not
resolve, a server that never answers, TLS trouble, a reset, an answer cut short. Each becomes one
clear line naming the host and the cause; the ``requests`` exception is kept, without its request,
as ``__cause__``."""

from __future__ import annotations

import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import requests

from api_client import APIConnectionError, APITimeoutError, MxGuardClient, RetryPolicy
from sandbox.server import free_port
from tests.client_support import TOKEN, FakeTime, assert_not_leaked, capture_everything

Handler = Callable[[socket.socket], None]


@contextmanager
def serving(handler: Handler, backlog: int = 8) -> Iterator[int]:
    """A raw TCP server on 127.0.0.1 that gives each connection to ``handler``; yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(backlog)
    listener.settimeout(0.05)  # so that the loop sees ``stop`` soon
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(5)
            with connection, suppress(OSError):
                handler(connection)

    thread = threading.Thread(target=accept, name="local-server", daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def _read_request(connection: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return
        data += chunk


def _fail(base_url: str, *, timeout: float | tuple[float, float] = 5.0) -> APIConnectionError:
    """The error of one ``GET /me`` (no retries) against ``base_url``."""
    fake = FakeTime()
    client = MxGuardClient(
        TOKEN,
        base_url,
        rate_limit_db=":memory:",
        timeout=timeout,
        retry=RetryPolicy(max_retries=0),
        clock=fake.clock,
        sleep=fake.sleep,
    )
    with client, pytest.raises(APIConnectionError) as caught:
        client.me()
    return caught.value


def _check(error: APIConnectionError, host: str, start: str, reason: str, *, sent: bool) -> None:
    """One line, ``GET /api/v1/me: <start> <host>...: <reason>``, with a detached cause."""
    assert str(error) == f"GET /api/v1/me: {start}{host}{_middle(start)}: {reason}"
    assert (error.host, error.reason, error.sent) == (host, reason, sent)
    assert "\n" not in str(error)
    assert "\n" not in repr(error)
    cause = error.__cause__
    assert isinstance(cause, requests.RequestException)
    assert cause.request is None
    assert cause.response is None
    assert cause.__traceback__ is None


def _middle(start: str) -> str:
    return " failed after the request was sent" if start.startswith("the connection") else ""


CONNECT = "could not connect to "
AFTER = "the connection to "


def test_a_closed_port_is_connection_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    capture_everything(caplog)
    port = free_port()
    error = _fail(f"http://127.0.0.1:{port}")
    _check(error, f"127.0.0.1:{port}", CONNECT, "connection refused", sent=False)
    assert_not_leaked(TOKEN, error, caplog)


def test_a_name_that_does_not_resolve(caplog: pytest.LogCaptureFixture) -> None:
    capture_everything(caplog)
    error = _fail("https://nonexistent.invalid")
    _check(error, "nonexistent.invalid", CONNECT, "name not resolved", sent=False)
    assert "NameResolutionError" in str(error.__cause__), "the details stay in the cause"
    assert_not_leaked(TOKEN, error, caplog)


def test_a_server_that_never_answers_times_out(caplog: pytest.LogCaptureFixture) -> None:
    capture_everything(caplog)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes the handshake; nobody ever reads or answers
    port = silent.getsockname()[1]
    with silent:
        error = _fail(f"http://127.0.0.1:{port}", timeout=(5.0, 0.2))
    assert isinstance(error, APITimeoutError)
    start = f"GET /api/v1/me: no answer from 127.0.0.1:{port}: "
    assert str(error) == start + "timed out after 0.2 s"
    assert (error.reason, error.sent) == ("timed out after 0.2 s", True)
    assert isinstance(error.__cause__, requests.ReadTimeout)
    assert_not_leaked(TOKEN, error, caplog)


@pytest.mark.skipif(sys.platform != "linux", reason="a full accept queue drops SYNs on Linux")
def test_a_server_that_never_accepts_times_out_connecting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    capture_everything(caplog)
    full = socket.socket()
    full.bind(("127.0.0.1", 0))
    full.listen(0)
    port = full.getsockname()[1]
    waiting = []
    for _ in range(3):  # fill the accept queue, so the kernel drops the client's SYN
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        waiting.append(filler)
    time.sleep(0.1)
    try:
        error = _fail(f"http://127.0.0.1:{port}", timeout=(0.3, 5.0))
    finally:
        for filler in waiting:
            filler.close()
        full.close()
    assert isinstance(error, APITimeoutError)
    _check(error, f"127.0.0.1:{port}", CONNECT, "timed out after 0.3 s", sent=False)
    assert_not_leaked(TOKEN, error, caplog)


def test_tls_to_a_plain_http_server_is_a_tls_failure(caplog: pytest.LogCaptureFixture) -> None:
    capture_everything(caplog)

    def plain(connection: socket.socket) -> None:
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    with serving(plain) as port:
        error = _fail(f"https://127.0.0.1:{port}")
    assert error.reason is not None
    assert error.reason.startswith("TLS failure")
    _check(error, f"127.0.0.1:{port}", CONNECT, error.reason, sent=False)
    assert_not_leaked(TOKEN, error, caplog)


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    folder: Path = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def test_an_untrusted_certificate_is_named(
    self_signed: ssl.SSLContext, caplog: pytest.LogCaptureFixture
) -> None:
    capture_everything(caplog)

    def handshake(connection: socket.socket) -> None:
        try:
            with self_signed.wrap_socket(connection, server_side=True) as wrapped:
                wrapped.recv(65536)
        except ssl.SSLError:
            pass  # the client refuses the certificate and hangs up

    with serving(handshake) as port:
        error = _fail(f"https://127.0.0.1:{port}")
    reason = "TLS certificate not accepted (self-signed certificate)"
    _check(error, f"127.0.0.1:{port}", CONNECT, reason, sent=False)
    assert_not_leaked(TOKEN, error, caplog)


def test_a_reset_after_the_request_left(caplog: pytest.LogCaptureFixture) -> None:
    capture_everything(caplog)

    def reset(connection: socket.socket) -> None:
        _read_request(connection)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    with serving(reset) as port:
        error = _fail(f"http://127.0.0.1:{port}")
    _check(error, f"127.0.0.1:{port}", AFTER, "connection reset", sent=True)
    assert_not_leaked(TOKEN, error, caplog)


def test_a_close_without_an_answer(caplog: pytest.LogCaptureFixture) -> None:
    capture_everything(caplog)
    with serving(_read_request) as port:
        error = _fail(f"http://127.0.0.1:{port}")
    reason = "connection closed by the server without an answer"
    _check(error, f"127.0.0.1:{port}", AFTER, reason, sent=True)
    assert_not_leaked(TOKEN, error, caplog)


def test_an_answer_cut_short(caplog: pytest.LogCaptureFixture) -> None:
    capture_everything(caplog)

    def short(connection: socket.socket) -> None:
        _read_request(connection)
        connection.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            b'{"id": "cus_'
        )

    with serving(short) as port:
        error = _fail(f"http://127.0.0.1:{port}")
    _check(error, f"127.0.0.1:{port}", AFTER, "the answer was cut short", sent=True)
    assert_not_leaked(TOKEN, error, caplog)
