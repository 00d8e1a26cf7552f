"""A hostile server on 127.0.0.1 that reflects the ``Authorization`` header into everything it
sends back (``error.type``, ``error.param``, ``error.message``, ``X-Request-Id``, ``Location``, the
reason phrase, the body, a status line): the token must show nowhere, whole or in part, in what
the client raises or logs."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from api_client import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    MalformedResponseError,
    MxGuardClient,
    MxGuardError,
    NotFoundError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
)
from tests.client_support import (
    ME,
    TOKEN,
    FakeTime,
    assert_not_leaked,
    capture_everything,
    echoes,
    no_jitter,
)

FORMS = echoes(TOKEN)


@dataclass
class Plan:
    """What the server answers next: a status and a body kind, echoing the token as ``form``."""

    status: int = 200
    kind: str = "error"
    form: str = "whole"


class EchoServer(ThreadingHTTPServer):
    daemon_threads = True
    plan = Plan()


class Reflect(BaseHTTPRequestHandler):
    """Puts the caller's token, in the planned form, everywhere a server can put text."""

    server: EchoServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        plan = self.server.plan
        echo = {
            "whole": token,
            "upper-cased": token.upper(),
            "lower-cased": token.lower(),
            "without its prefix": token[9:],
            "one character short": token[:-1],
            "without its prefix, upper-cased": token[9:].upper(),
            "without its prefix, one character short": token[10:],
        }[plan.form]
        if plan.kind == "status line":
            self.wfile.write(f"XTTP/1.1 {echo}\r\n\r\n".encode())
            self.close_connection = True
            return
        headers = {"X-Request-Id": echo, "Content-Type": "application/json"}
        if plan.kind == "error":
            message = f"token {echo} refused\r\nINFO forged log line"
            error = {"type": echo, "param": echo, "message": message}
            body = json.dumps({"error": error}).encode()
            headers["Retry-After"] = "7200"
        elif plan.kind == "redirect":
            body = b""
            headers["Location"] = f"https://elsewhere.example/{echo}"
        elif plan.kind == "html":
            body = f"<html><h1>{echo}</h1></html>".encode()
            headers["Content-Type"] = "text/html"
        elif plan.kind == "not json":
            body = f'{{"id": "{echo}'.encode()
        elif plan.kind == "off contract":
            body = json.dumps({"id": echo, echo: echo, "by_verdict": {echo: echo}}).encode()
        else:  # a good answer, whose request id still echoes the token
            body = json.dumps(ME).encode()
        self.send_response(plan.status, echo if plan.kind == "html" else None)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.do_GET()

    def do_DELETE(self) -> None:
        self.do_GET()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads what the client says, not the server."""


@pytest.fixture(scope="module")
def hostile() -> Iterator[EchoServer]:
    server = EchoServer(("127.0.0.1", 0), Reflect)
    thread = threading.Thread(target=server.serve_forever, name="hostile-echo", daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _client(server: EchoServer) -> MxGuardClient:
    fake = FakeTime()
    host, port = server.server_address[:2]
    return MxGuardClient(
        TOKEN,
        f"http://{host!s}:{port}",
        rate_limit_db=":memory:",
        clock=fake.clock,
        sleep=fake.sleep,
        jitter=no_jitter,
        retry=RetryPolicy(max_retries=1),
    )


Call = Callable[[MxGuardClient], object]
RELEASE: Call = lambda client: client.quarantine.release("q1")  # noqa: E731  # a write: no retry
ME_CALL: Call = lambda client: client.me()  # noqa: E731
STATS: Call = lambda client: client.stats()  # noqa: E731

SCENARIOS: dict[str, tuple[Plan, Call, type[MxGuardError]]] = {
    "400": (Plan(400), RELEASE, InvalidRequestError),
    "401": (Plan(401), RELEASE, AuthenticationError),
    "404": (Plan(404), RELEASE, NotFoundError),
    "409": (Plan(409), RELEASE, ConflictError),
    "422": (Plan(422), RELEASE, InvalidRequestError),
    "429 beyond the max wait": (Plan(429), ME_CALL, RateLimitedError),
    "500 on a write": (Plan(500), RELEASE, ServerError),
    "503 on a read, after its retry": (Plan(503), ME_CALL, ServerError),
    "302 to a Location": (Plan(302, "redirect"), ME_CALL, APIError),
    "502 with an HTML body and reason phrase": (Plan(502, "html"), RELEASE, ServerError),
    "200 that is not JSON": (Plan(200, "not json"), ME_CALL, MalformedResponseError),
    "200 off the contract": (Plan(200, "off contract"), STATS, MalformedResponseError),
    "a status line that is no HTTP": (Plan(200, "status line"), RELEASE, APIConnectionError),
}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", SCENARIOS)
def test_a_reflected_token_shows_nowhere(
    hostile: EchoServer, caplog: pytest.LogCaptureFixture, name: str, form: str
) -> None:
    capture_everything(caplog)
    plan, call, kind = SCENARIOS[name]
    hostile.plan = Plan(plan.status, plan.kind, form)
    with _client(hostile) as client, pytest.raises(kind) as caught:
        call(client)
    assert type(caught.value) is kind
    assert_not_leaked(TOKEN, caught.value, caplog)
    for text in (str(caught.value), repr(caught.value)):
        assert "\n" not in text
    if plan.kind == "error":
        error = caught.value
        assert error.error_type is not None
        assert error.param is not None
        assert error.request_id is not None
        for value in (error.message, error.error_type, error.param, error.request_id):
            assert FORMS[form] not in value
        assert "…" in error.param, "what the server sent is kept, with the token cut out"


@pytest.mark.parametrize("form", FORMS)
def test_a_request_id_echoing_the_token_is_not_logged(
    hostile: EchoServer, caplog: pytest.LogCaptureFixture, form: str
) -> None:
    capture_everything(caplog)
    hostile.plan = Plan(200, "ok", form)
    with _client(hostile) as client:
        assert client.me().id == "cus_1"
    assert "request_id=" in caplog.text
    body = TOKEN[9:].lower()
    for text in (caplog.text, *(record.getMessage() for record in caplog.records)):
        assert FORMS[form] not in text
        assert not [
            body[i : i + 5] for i in range(len(body) - 4) if body[i : i + 5] in text.lower()
        ]


def test_the_hostile_server_really_echoes_the_token(hostile: EchoServer) -> None:
    """The scenarios above test something: the server does send every form back."""
    for form, echoed in FORMS.items():
        hostile.plan = Plan(404, "error", form)
        with socket.create_connection(("127.0.0.1", hostile.server_address[1]), timeout=5) as raw:
            raw.sendall(
                f"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            answer = b""
            while chunk := raw.recv(65536):
                answer += chunk
        text = answer.decode()
        assert f"X-Request-Id: {echoed}\r\n" in text
        assert json.loads(text.partition("\r\n\r\n")[2])["error"]["param"] == echoed
