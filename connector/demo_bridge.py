"""The bridge in the demo: one pump beside the polling triggers, and a receiver that verifies.

Everything stays in the demo's process and on its sandbox clock: a ``new_verdict`` pump feeds the
outbox, the delivery worker posts signed webhooks to a receiver on 127.0.0.1, and the receiver
checks each signature (``bridge.signing.verify``) before it counts the verdict. The demo then
shows that the webhooks carried the same verdicts the polling trigger emitted, each once.
"""

from __future__ import annotations

import secrets
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from api_client import MxGuardClient
from api_client.contract import MICROS
from bridge.delivery import Deliverer
from bridge.models import Subscription
from bridge.outbox import Pump
from bridge.secrets_box import SecretBox
from bridge.signing import SignatureError, new_secret, verify
from bridge.sqlite import SQLiteBridgeStorage
from triggers.polling.new_verdict import TRIGGER as NEW_VERDICT


class VerifyingReceiver:
    """A webhook endpoint on loopback that keeps the verdict ids whose signature verifies."""

    def __init__(self, secret: str, now: Callable[[], datetime]) -> None:
        self.secret = secret
        self.now = now
        self.verified: list[str] = []
        self.rejected = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/mxguard"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    payload = verify(
                        receiver.secret, body, dict(self.headers.items()), now=receiver.now()
                    )
                except SignatureError:
                    with receiver._lock:
                        receiver.rejected += 1
                    self.send_response(401)
                else:
                    with receiver._lock:
                        receiver.verified.append(str(payload["data"]["id"]))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class DemoBridge:
    """A ``new_verdict`` pump and its delivery, on the demo's clock, into a verifying receiver."""

    def __init__(self, client: MxGuardClient, customer_id: str, now: Callable[[], float]) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="mxguard-demo-bridge-")
        folder = Path(self._folder.name)
        self.now_us: Callable[[], int] = lambda: int(now() * MICROS)
        self.storage = SQLiteBridgeStorage(
            folder / "bridge.sqlite", SecretBox.from_environment(folder, environ={})
        )
        secret = new_secret()
        self.receiver = VerifyingReceiver(secret, lambda: datetime.fromtimestamp(now(), UTC))
        fingerprint = client.token.fingerprint
        self.storage.put_token(customer_id, fingerprint, client.token.reveal())
        self.storage.add_subscription(
            Subscription(
                id=f"sub_{secrets.token_hex(12)}",
                customer_id=customer_id,
                token_fingerprint=fingerprint,
                event=NEW_VERDICT.key,
                filters={},
                target_url=self.receiver.url,
                secret=secret,
                description="the demo's receiver",
                created_at=self.now_us(),
            )
        )
        self.pump = Pump(
            self.storage,
            trigger=NEW_VERDICT,
            fingerprint=fingerprint,
            client=client,
            clock_us=self.now_us,
        )
        self.deliverer = Deliverer(self.storage, allow_private_targets=True, clock_us=self.now_us)

    def round(self) -> int:
        """Poll the stream once and deliver what is due; the verdicts verified so far."""
        self.pump.poll()
        while self.deliverer.deliver_due().attempted:
            pass
        return len(self.receiver.verified)

    def close(self) -> None:
        self.receiver.close()
        self.storage.close()
        self._folder.cleanup()
