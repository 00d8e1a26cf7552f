"""``mxguard bridge``: run the bridge, and check a received webhook's signature.

``serve`` polls each subscribed token's streams once, with the triggers' cursor, and pushes
signed webhooks to the subscribers (``bridge/``); MxGuard is ``$MXGUARD_API_URL`` as everywhere.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import click
import platformdirs

from api_client import MxGuardClient
from api_client.config import DISTRIBUTION
from api_client.contract import MICROS
from connector import registry
from connector.cli.base import Settings, pass_settings
from connector.cli.poll import Rate

DEFAULT_PORT = 8030


def default_data_folder() -> Path:
    return Path(platformdirs.user_data_dir(DISTRIBUTION)) / "bridge"


@click.group(short_help="Push signed webhooks for MxGuard's events (the bridge).")
def bridge() -> None:
    """The bridge: polls each token once and pushes signed webhooks to any number of
    subscribers (instant triggers for Zapier, Make and n8n). See docs/bridge.md."""


class Schedule(click.ParamType[Any]):
    """``--retry-schedule 5s,5m,30m,2h``."""

    name = "schedule"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from bridge.retry import RetrySchedule, RetryScheduleError

        if isinstance(value, RetrySchedule):
            return value
        try:
            return RetrySchedule.parse(str(value))
        except RetryScheduleError as problem:
            self.fail(problem.message, param, ctx)


@bridge.command(short_help="Run the bridge: its API, the pumps and the deliveries.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of its database and key [default: in the user data folder].",
)
@click.option(
    "--interval",
    type=click.FloatRange(1, 3600),
    default=60.0,
    show_default=True,
    help="Seconds between polls of each stream.",
)
@click.option(
    "--allow-private-targets",
    is_flag=True,
    help="Let subscribers be on loopback or private addresses (a self-hosted n8n on the LAN).",
)
@click.option("--retry-schedule", type=Schedule(), help="Delays between attempts, e.g. 5s,5m,30m.")
@click.option("--budget", type=Rate(), metavar="RATE", help="Each stream's share, e.g. 200/h.")
@pass_settings
def serve(
    settings: Settings,
    host: str,
    port: int,
    data: Path | None,
    interval: float,
    allow_private_targets: bool,
    retry_schedule: Any,
    budget: float | None,
) -> None:
    """Run the bridge until interrupted: the subscription API on HOST:PORT (Swagger UI at
    /docs), one pump per token and event, and the delivery of what they find."""
    import uvicorn
    from bridge.api import create_app

    from bridge.delivery import Deliverer
    from bridge.secrets_box import SecretBox
    from bridge.service import BridgeService
    from bridge.sqlite import SQLiteBridgeStorage

    folder = data or default_data_folder()
    folder.mkdir(parents=True, exist_ok=True)
    storage = SQLiteBridgeStorage(folder / "bridge.sqlite", SecretBox.from_environment(folder))

    def client(token: str) -> MxGuardClient:
        return MxGuardClient(
            token, settings.base_url, per_minute=settings.per_minute, per_hour=settings.per_hour
        )

    def now() -> int:
        return int(time.time() * MICROS)

    triggers = registry.triggers()
    deliverer = Deliverer(
        storage, allow_private_targets=allow_private_targets, schedule=retry_schedule
    )
    service = BridgeService(
        storage,
        triggers=triggers,
        client_factory=client,
        deliverer=deliverer,
        clock_us=now,
        budget_per_hour=budget,
    )
    app = create_app(
        storage,
        triggers=triggers,
        client_factory=client,
        clock_us=now,
        allow_private_targets=allow_private_targets,
    )
    stop = threading.Event()
    worker = threading.Thread(target=service.serve, args=(stop, interval), daemon=True)
    settings.say(f"MxGuard bridge on http://{host}:{port}  (Swagger UI: /docs; data: {folder})")
    worker.start()
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        stop.set()
        worker.join(timeout=30)
        service.close()
        storage.close()


@bridge.command(short_help="Check a received webhook's signature.")
@click.option("--secret", envvar="MXGUARD_WEBHOOK_SECRET", required=True, help="whsec_… [env].")
@click.option(
    "--headers",
    "headers_file",
    type=click.File("r"),
    required=True,
    help="The webhook's headers as a JSON object.",
)
@click.argument("body", type=click.File("rb"))
def verify(secret: str, headers_file: Any, body: Any) -> None:
    """Check BODY (a file, or - for standard input) against the headers' signature; print the
    payload when it verifies (exit 0), else say why (exit 3)."""
    from bridge.signing import verify as check

    headers = json.load(headers_file)
    click.echo(json.dumps(check(secret, body.read(), headers), indent=2))
