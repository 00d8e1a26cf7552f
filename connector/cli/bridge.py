"""``mxguard bridge``: run the bridge, manage subscriptions on a running one, and check a
received webhook's signature.

``serve`` polls each subscribed token's streams once, with the triggers' cursor, and pushes
signed webhooks to the subscribers (``bridge/``); MxGuard is ``$MXGUARD_API_URL`` as everywhere.

``subscribe``, ``list``, ``unsubscribe``, ``deliveries`` and ``recover`` are thin clients of a
running bridge's API (``--bridge-url``), authenticated with the customer's MxGuard token: they
print its JSON answers, and turn its errors (``{"error": {"type", "message", "param"}}``) into the
command line's exit codes. The token is sent in the Authorization header only, and never shown.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin
from urllib.parse import quote, urlsplit

import click
import platformdirs
import requests

from api_client import MxGuardClient, Secret, check_token
from api_client.config import DISTRIBUTION, user_agent
from api_client.contract import MICROS
from api_client.errors import shown
from bridge.secrets_box import KEY_ENV
from connector import registry
from connector.cli.base import Settings, pass_settings
from connector.cli.poll import Rate, since
from connector.exits import OPERATION_ERRORS, Exit, InvalidInputError, OperationError

DEFAULT_PORT = 8030
DEFAULT_BRIDGE_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
BRIDGE_URL_ENV = "MXGUARD_BRIDGE_URL"
BRIDGE_URL = "mxguard.bridge_url"
"""Where the group keeps ``--bridge-url`` for its commands (``click.Context.meta``)."""
CONNECT_TIMEOUT = 5.0
DB_ENV = "MXGUARD_BRIDGE_DB"
READ_TIMEOUT = 60.0
"""Seconds the bridge has to answer: it may ask MxGuard whose the token is first."""


def default_data_folder() -> Path:
    return Path(platformdirs.user_data_dir(DISTRIBUTION)) / "bridge"


def _bridge_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """``--bridge-url``: an http(s) address, without a trailing slash."""
    text = value.strip()
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise click.BadParameter("the port is not a number from 0 to 65535") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"give an http(s) address, e.g. {DEFAULT_BRIDGE_URL}")
    if parts.username is not None or parts.password is not None:
        raise click.BadParameter("no user or password in it: the bridge takes your MxGuard token")
    if parts.query or parts.fragment:
        raise click.BadParameter("no query or fragment in it: the bridge's address only")
    return text.rstrip("/")


@click.group(short_help="Push signed webhooks for MxGuard's events (the bridge).")
@click.option(
    "--bridge-url",
    envvar=BRIDGE_URL_ENV,
    default=DEFAULT_BRIDGE_URL,
    show_default=True,
    callback=_bridge_url,
    metavar="URL",
    help=f"The running bridge that subscribe, list, unsubscribe, deliveries and recover talk to "
    f"[env: {BRIDGE_URL_ENV}].",
)
@click.pass_context
def bridge(ctx: click.Context, bridge_url: str) -> None:
    """The bridge: polls each token once and pushes signed webhooks to any number of
    subscribers (instant triggers for Zapier, Make and n8n). See docs/bridge.md.

    \b
    serve runs one; subscribe, list, unsubscribe, deliveries and recover manage your
    subscriptions on a running one (--bridge-url), with your MxGuard token
    (--token or MXGUARD_API_TOKEN), and print its answers as JSON.
    """
    ctx.meta[BRIDGE_URL] = bridge_url


def _db_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--db``: a PostgreSQL URL (checked before anything connects; never echoed, it may hold
    a password)."""
    from api_client.ratelimit import is_postgres_url

    if value is None or not value.strip():
        return None
    if not is_postgres_url(value.strip()):
        raise click.BadParameter("give a postgresql:// URL, e.g. postgresql://bridge@db/bridge")
    return value.strip()


FC = TypeVar("FC", bound=Callable[..., Any])


def data_option(help_text: str) -> Callable[[FC], FC]:
    """``--data``: the bridge's data folder (its SQLite file and key)."""
    return click.option("--data", type=click.Path(file_okay=False, path_type=Path), help=help_text)


def db_option(help_text: str) -> Callable[[FC], FC]:
    """``--db`` (``$MXGUARD_BRIDGE_DB``): the bridge's PostgreSQL database, checked by
    ``_db_url``."""
    return click.option(
        "--db", "db_url", envvar=DB_ENV, callback=_db_url, metavar="URL", help=help_text
    )


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
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on.",
)
@data_option("Folder of its database and key [default: in the user data folder].")
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
@db_option(
    "A PostgreSQL database (postgresql://user:password@host/name) shared by any number of "
    "bridge processes, instead of SQLite in --data. Every process needs the same key: set "
    f"{KEY_ENV}. [env: {DB_ENV}]"
)
@click.option(
    "--worker-id",
    metavar="NAME",
    help="This process's name in leases and claims [default: host, process id, random].",
)
@click.option(
    "--lease",
    "lease_s",
    type=click.FloatRange(10, 3600),
    default=120.0,
    show_default=True,
    help="Seconds a worker holds a token without renewing it: another worker takes the token "
    "over this long after one stops. More than --interval.",
)
@click.option(
    "--no-api",
    is_flag=True,
    help="Poll and deliver only, without the API (more workers beside a bridge that serves it).",
)
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
    db_url: str | None,
    worker_id: str | None,
    lease_s: float,
    no_api: bool,
) -> None:
    """Run the bridge until interrupted: the subscription API on HOST:PORT (Swagger UI at
    /docs), one pump per token and event, and the delivery of what they find.

    With --db, any number of such processes, on any number of machines, share the work: each
    token is polled by one of them at a time (a lease), its rate limits are counted in the
    database for all of them, and deliveries are claimed by whichever is free. See
    docs/bridge.md."""
    import uvicorn

    from bridge.api import create_app
    from bridge.backends import open_storage
    from bridge.delivery import Deliverer
    from bridge.service import BridgeService

    if lease_s <= interval:
        raise click.BadParameter(
            f"{lease_s:g} s is not more than --interval ({interval:g} s): a worker would lose "
            "its tokens between two rounds",
            param_hint="--lease",
        )
    folder = data or default_data_folder()
    folder.mkdir(parents=True, exist_ok=True)
    worker = worker_id or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
    storage = open_storage(folder, db_url, worker_id=worker, claim_s=lease_s)

    def client(token: str) -> MxGuardClient:
        return MxGuardClient(
            token,
            settings.base_url,
            per_minute=settings.per_minute,
            per_hour=settings.per_hour,
            rate_limit_db=db_url,  # on PostgreSQL: one budget per token for every worker
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
        worker_id=worker,
        lease_s=lease_s,
    )
    app = create_app(
        storage,
        triggers=triggers,
        client_factory=client,
        clock_us=now,
        allow_private_targets=allow_private_targets,
    )
    stop = threading.Event()
    rounds = threading.Thread(target=service.serve, args=(stop, interval), daemon=True)
    where = storage.location
    if no_api:
        settings.say(f"MxGuard bridge worker {worker} (data: {where})")
    else:
        settings.say(
            f"MxGuard bridge on http://{host}:{port}  (console: /console; Swagger UI: /docs; "
            f"worker {worker}; data: {where})"
        )
    rounds.start()
    try:
        if no_api:
            _wait_for_a_signal(stop)
        else:
            uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        stop.set()
        rounds.join(timeout=30)
        service.close()
        storage.close()


def _wait_for_a_signal(stop: threading.Event) -> None:
    """Until SIGTERM or Ctrl-C (a worker without the API has nothing else to wait for)."""
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set():
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


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


# -- the subscription commands: clients of a running bridge's API ------------------------------


@dataclass(frozen=True)
class BridgeApi:
    """A running bridge's ``/v1/`` API at ``url``, called with ``token`` (a ``Secret``)."""

    url: str
    token: Secret

    def call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
    ) -> Any:
        """The answer's JSON (None for 204); an ``OperationError`` with the documented exit code
        for an error answer, no answer, or one that is not the bridge's."""
        headers = {
            "Authorization": f"Bearer {self.token.reveal()}",
            "Accept": "application/json",
            "User-Agent": user_agent(),
        }
        try:
            answer = requests.request(
                method,
                self.url + path,
                json=body,
                params=query,
                headers=headers,
                timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                allow_redirects=False,
            )
        except requests.ConnectionError:
            raise _error(
                Exit.UNAVAILABLE, f"no bridge at {self.url}: start one with mxguard bridge serve"
            ) from None
        except requests.Timeout:
            raise _error(
                Exit.UNAVAILABLE,
                f"the bridge at {self.url} did not answer within {READ_TIMEOUT:.0f} s",
            ) from None
        except requests.RequestException as problem:
            raise _error(
                Exit.UNAVAILABLE,
                f"the bridge at {self.url} could not be asked ({type(problem).__name__})",
            ) from None
        if answer.status_code == 204:
            return None
        try:
            data = answer.json()
        except ValueError:
            data = None
        if 200 <= answer.status_code < 300 and data is not None:
            return data
        raise self._failure(answer.status_code, data)

    def _failure(self, status: int, data: Any) -> OperationError:
        """The bridge's error answer as the command line's error (its message scrubbed)."""
        detail = data.get("error") if isinstance(data, dict) else None
        message = detail.get("message") if isinstance(detail, dict) else None
        if not isinstance(detail, dict) or not isinstance(message, str):
            return _error(
                Exit.UNAVAILABLE,
                f"unexpected answer from {self.url} (HTTP {status}): is it an MxGuard bridge?",
            )
        code, label = _exit_for(status, detail.get("type"))
        return _error(code, f"{label}: {self.token.scrub(message)}")


def _exit_for(status: int, kind: object) -> tuple[Exit, str]:
    """The exit code and label of the bridge's error answer (as ``connector.exits`` labels)."""
    if kind == "target_refused":
        return Exit.INVALID_INPUT, "target refused"
    if kind == "upstream_rate_limited" or status == 429:
        return Exit.RATE_LIMITED, "rate limited"
    if status in (400, 422):
        return Exit.INVALID_INPUT, "invalid input"
    if status == 401:
        return Exit.AUTHENTICATION, "authentication failed"
    if status == 404:
        return Exit.NOT_FOUND, "not found"
    if status == 409:
        return Exit.CONFLICT, "conflict"
    if status >= 500:
        return Exit.UNAVAILABLE, f"bridge (HTTP {status})"
    return Exit.FAILED, f"bridge (HTTP {status})"


def _error(code: Exit, message: str) -> OperationError:
    return OPERATION_ERRORS[code](message)


def _api() -> BridgeApi:
    """The group's bridge, with the token of the global options (checked before sending)."""
    ctx = click.get_current_context()
    settings = ctx.ensure_object(Settings)
    if not settings.token:
        settings.client()  # raises AuthenticationMissingError: the message `mxguard me` gives
    token = check_token(settings.token or "", source="--token or $MXGUARD_API_TOKEN")
    return BridgeApi(str(ctx.meta.get(BRIDGE_URL, DEFAULT_BRIDGE_URL)), token)


def _segment(subscription_id: str) -> str:
    """The id as one path segment. A dot segment would name another route, and so would a '/'
    even encoded (the bridge routes on the decoded path): no id holds either."""
    if subscription_id in ("", ".", "..") or "/" in subscription_id:
        raise InvalidInputError(f"ID: {shown(subscription_id)} is not a subscription id (sub_…)")
    return quote(subscription_id, safe="")


def _print(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _takes_list(event: str, key: str) -> bool:
    """Whether the event's filter ``key`` is a list (as this bundle's trigger declares it)."""
    trigger = registry.trigger(event)
    field = trigger.filters.model_fields.get(key) if trigger is not None else None
    if field is None:
        return False
    kinds = (field.annotation, *get_args(field.annotation))  # list[...], or list[...] | None
    return any(get_origin(kind) is list for kind in kinds)


def filters_from(event: str, pairs: tuple[str, ...], raw: str | None) -> dict[str, Any] | None:
    """``--filters JSON`` overridden key by key by ``--filter KEY=VALUE``; a key given more than
    once, or one the event takes a list for, becomes a list. None when neither is given."""
    data: dict[str, Any] = {}
    if raw is not None:
        try:
            loaded = json.loads(raw)
        except RecursionError:
            raise InvalidInputError("--filters: nested too deeply") from None
        except ValueError as exc:
            raise InvalidInputError(f"--filters: not valid JSON ({exc})") from None
        if not isinstance(loaded, dict):
            raise InvalidInputError("--filters: must be a JSON object")
        data.update(loaded)
    given: dict[str, list[str]] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        key = registry.normalize(key)
        if not equals or not key:
            raise InvalidInputError(f"--filter: {shown(pair)} is not KEY=VALUE")
        given.setdefault(key, []).append(value)
    for key, values in given.items():
        data[key] = values if len(values) > 1 or _takes_list(event, key) else values[0]
    return data if raw is not None or pairs else None


@bridge.command(short_help="Subscribe a webhook target to an event.")
@click.argument("event")
@click.option(
    "--target",
    "target_url",
    required=True,
    metavar="URL",
    help="Where the bridge POSTs each item: http(s), a public address.",
)
@click.option("--description", help="A note for people, e.g. the workflow it feeds.")
@click.option(
    "--secret",
    metavar="whsec_…",
    help="The signing secret to use; the bridge makes one when absent (better: arguments are "
    "visible to other users of the machine).",
)
@click.option(
    "--filter",
    "filter_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="One of the event's filters; repeat it, a key given twice makes a list "
    "(--filter verdict=spam --filter verdict=phishing).",
)
@click.option(
    "--filters",
    "filters_json",
    metavar="JSON",
    help='The filters as a JSON object, e.g. \'{"verdict": ["phishing"]}\'; --filter overrides '
    "its keys.",
)
@pass_settings
def subscribe(
    settings: Settings,
    event: str,
    target_url: str,
    description: str | None,
    secret: str | None,
    filter_pairs: tuple[str, ...],
    filters_json: str | None,
) -> None:
    """Subscribe URL (--target) to EVENT (a trigger: new-verdict, new-quarantined-message,
    new-domain; see mxguard list): from now on, each item that passes the filters is POSTed to
    it, signed. Prints the subscription as JSON, with its signing secret: shown this once."""
    api = _api()
    event = registry.normalize(event)
    body: dict[str, Any] = {"event": event, "target_url": target_url}
    filters = filters_from(event, filter_pairs, filters_json)
    if filters is not None:
        body["filters"] = filters
    if description is not None:
        body["description"] = description
    if secret is not None:
        body["secret"] = secret
    created = api.call("POST", "/v1/subscriptions", body=body)
    _print(created)
    settings.say(
        "mxguard: the secret is shown this once: keep it to verify the webhooks "
        "(mxguard bridge verify)"
    )


@bridge.command(name="list", short_help="List your subscriptions.")
@click.option("--target", "target_url", metavar="URL", help="Only those to this target.")
def list_subscriptions(target_url: str | None) -> None:
    """Your subscriptions on the bridge, oldest first, as a JSON array (without their
    secrets)."""
    query = {"target_url": target_url} if target_url is not None else None
    answer = _api().call("GET", "/v1/subscriptions", query=query)
    _print(answer.get("data", answer) if isinstance(answer, dict) else answer)


@bridge.command(short_help="Delete a subscription.")
@click.argument("subscription_id", metavar="ID")
def unsubscribe(subscription_id: str) -> None:
    """Delete subscription ID (sub_…): nothing more is sent to it, and its undelivered items
    are dropped. Prints {"id": ID, "unsubscribed": true}."""
    _api().call("DELETE", f"/v1/subscriptions/{_segment(subscription_id)}")
    _print({"id": subscription_id, "unsubscribed": True})


@bridge.command(short_help="A subscription's delivery attempts, newest first.")
@click.argument("subscription_id", metavar="ID")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Attempts at most [default: 20; the bridge gives 100 at most].",
)
def deliveries(subscription_id: str, limit: int | None) -> None:
    """The delivery attempts of subscription ID (sub_…), newest first, as a JSON array: when,
    the target's status code (null: no answer), the start of its answer, the next retry."""
    query = {"limit": limit} if limit is not None else None
    answer = _api().call(
        "GET", f"/v1/subscriptions/{_segment(subscription_id)}/deliveries", query=query
    )
    _print(answer.get("data", answer) if isinstance(answer, dict) else answer)


@bridge.command(short_help="Send again what failed, and re-enable a subscription.")
@click.argument("subscription_id", metavar="ID")
@click.option(
    "--since",
    "since_text",
    required=True,
    metavar="TIME",
    help="Undelivered items queued from this moment on are sent again (RFC 3339, with a time "
    "zone, e.g. 2026-11-23T10:00:00Z).",
)
def recover(subscription_id: str, since_text: str) -> None:
    """Make the undelivered items of subscription ID (sub_…) queued since TIME due now, and
    re-enable it if it was disabled. Prints {"requeued": N, "status": ...}."""
    from bridge.signing import rfc3339
    from triggers.base import from_micros

    api = _api()
    micros = since(since_text)
    assert micros is not None
    body = {"since": rfc3339(from_micros(micros))}
    _print(api.call("POST", f"/v1/subscriptions/{_segment(subscription_id)}/recover", body=body))
