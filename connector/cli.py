"""The ``mxguard`` command line: list, me, poll, run, demo, sandbox, contract."""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

import click
from pydantic import BaseModel

from api_client import MxGuardClient
from connector import __version__, registry
from connector.exits import (
    AuthenticationMissingError,
    CommandError,
    Exit,
    InvalidInputError,
    describe,
)
from connector.options import collect, options_for
from connector.polling import (
    OutputClosedError,
    describe_report,
    follow,
    json_lines_sink,
    make_poller,
    open_cursor,
    open_store,
)
from triggers.base import to_micros

SPEC_PATH = Path("manifests") / "openapi.json"
EARLIEST = "1970-01-01T00:00:00Z"
"""``--since`` before the Unix epoch is surely a typo: MxGuard keeps days of data, not ages."""
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@dataclass
class Settings:
    token: str | None = None
    base_url: str | None = None
    quiet: bool = False
    debug: bool = False

    def client(self) -> MxGuardClient:
        if not self.token:
            raise AuthenticationMissingError(
                "no MxGuard token: set MXGUARD_API_TOKEN (or pass --token); the sandbox prints "
                "the lines to export"
            )
        return MxGuardClient(self.token, self.base_url)

    def say(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True)


class NamedGroup(click.Group):
    """Subcommands answer to snake_case and kebab-case alike."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, registry.kebab(registry.normalize(cmd_name)))


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="mxguard")
@click.option(
    "--token",
    envvar="MXGUARD_API_TOKEN",
    help="API token [env: MXGUARD_API_TOKEN; prefer the variable: arguments are visible to "
    "other users of the machine].",
)
@click.option(
    "--base-url",
    envvar="MXGUARD_API_URL",
    help="API address [env: MXGUARD_API_URL; default: https://app.mxguard.uk].",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress or status lines on stderr.")
@click.option("--debug", is_flag=True, help="On an error, show the traceback too.")
@click.pass_obj
def main(
    settings: Settings, token: str | None, base_url: str | None, quiet: bool, debug: bool
) -> None:
    """MxGuard connector bundle: poll triggers, run actions, run a local sandbox.

    \b
    Exit codes: 0 ok, 1 unexpected error, 2 usage, 3 invalid input, 4 token or authentication,
    5 not found, 6 conflict, 7 rate limited, 8 MxGuard unreachable or failing, 130 interrupted,
    141 output closed by its reader, 143 terminated.
    """
    settings.token, settings.base_url, settings.quiet, settings.debug = (
        token,
        base_url,
        quiet,
        debug,
    )


pass_settings = click.make_pass_decorator(Settings)


@main.command(name="list")
def list_operations() -> None:
    """Every trigger and action, one line each."""
    triggers, actions = registry.triggers(), registry.actions()
    width = max(len(k) for k in [*triggers, *actions]) + 2
    for key, definition in triggers.items():
        click.echo(f"trigger  {registry.kebab(key):<{width}}{definition.description}")
    for key, action in actions.items():
        kind = "search " if action.kind == "search" else "action "
        click.echo(f"{kind}  {registry.kebab(key):<{width}}{action.description}")


@main.command()
@pass_settings
def me(settings: Settings) -> None:
    """Verify the token and print the account."""
    with settings.client() as client:
        click.echo(client.me().model_dump_json(indent=2))


# poll ----------------------------------------------------------------------------------------
@main.group(cls=NamedGroup)
def poll() -> None:
    """Poll a trigger: one JSON object per line per new item.

    The first poll starts from now (or --since); the cursor is kept in --state, keyed by trigger,
    token and filters, and committed after each page is written. See docs/delivery-guarantees.md.
    """


def _poll_command(key: str) -> click.Command:
    trigger = registry.triggers()[key]

    @pass_settings
    def command(settings: Settings, /, **params: Any) -> None:
        filters = _validated(trigger.filters, collect(trigger.filters, params, None))
        start = _since(params["since"])
        store = open_store(params["state"])
        with settings.client() as client:
            if params["sample"]:
                sample = make_poller(trigger, client, filters, store, key=trigger.key)
                json_lines_sink()(sample.sample(params["limit"]))
                return
            opened = open_cursor(store, trigger, client, filters)
            for note in opened.notes:
                settings.say(f"note: {note}")
            poller = make_poller(
                trigger,
                client,
                filters,
                store,
                key=opened.key,
                start_us=start,
                page_size=params["page_size"],
                sweep_interval_s=params["look_back_every"],
            )
            with store.hold(opened.key):
                if params["reset"]:
                    store.forget(opened.key)
                if start is not None and store.load(opened.key) is not None:
                    settings.say(
                        "note: --since applies to a new cursor only; add --reset to restart"
                    )
                sink = json_lines_sink()
                if params["follow"]:
                    follow(
                        lambda: poller.poll(sink),
                        trigger=trigger,
                        interval=params["interval"],
                        say=settings.say,
                    )
                else:
                    settings.say(describe_report(trigger, poller.poll(sink)))

    params: list[click.Parameter] = [
        *options_for(trigger.filters),
        click.Option(
            ["--state"],
            metavar="PATH",
            help="Cursor database (default: in the user data folder; ':memory:': none).",
        ),
        click.Option(
            ["--since"],
            metavar="TIME",
            help="Backfill: a new cursor starts here (RFC 3339) instead of now.",
        ),
        click.Option(
            ["--sample"],
            is_flag=True,
            help="Print the newest items without reading or moving the cursor.",
        ),
        click.Option(
            ["--limit"],
            type=click.IntRange(1, 100),
            default=3,
            show_default=True,
            help="How many items --sample prints.",
        ),
        click.Option(["--follow"], is_flag=True, help="Keep polling until interrupted."),
        click.Option(
            ["--interval"],
            type=Seconds(1, 86_400),
            default=60.0,
            show_default=True,
            help="Seconds between polls with --follow.",
        ),
        click.Option(["--reset"], is_flag=True, help="Forget the cursor first (starts from now)."),
        click.Option(["--page-size"], type=click.IntRange(1, 500), default=500, show_default=True),
        click.Option(
            ["--look-back-every"],
            type=Seconds(1, 86_400),
            default=120.0,
            show_default=True,
            help="Seconds between look-backs for late items.",
        ),
    ]
    return click.Command(
        registry.kebab(key),
        callback=command,
        params=params,
        help=trigger.description,
        short_help=trigger.label,
    )


class Seconds(click.ParamType[float]):
    """A finite number of seconds in a range (``nan`` and ``inf`` are refused)."""

    name = "seconds"

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or not self.low <= seconds <= self.high:
            self.fail(f"{value} is not between {self.low:g} and {self.high:g} seconds", param, ctx)
        return seconds


def _validated(model: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    return model.model_validate(data)


def _since(text: str | None) -> int | None:
    """``--since`` as microseconds; a time MxGuard cannot take is invalid input."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as exc:
        raise InvalidInputError(f"--since: not an RFC 3339 time ({exc})") from None
    if value.tzinfo is None:
        raise InvalidInputError("--since: give a time zone, e.g. 2026-11-23T10:00:00Z")
    try:
        micros = to_micros(value)
    except (OverflowError, ValueError):
        raise InvalidInputError(f"--since: {text} is out of range") from None
    if micros < 0:
        raise InvalidInputError(f"--since: {text} is before {EARLIEST}")
    return micros


# run -----------------------------------------------------------------------------------------
@main.group(cls=NamedGroup, short_help="Run an action or search.")
def run() -> None:
    """Run an action or search; inputs as --input JSON (as platforms pass them) or one flag each."""


def _run_command(key: str) -> click.Command:
    action = registry.actions()[key]

    @pass_settings
    def command(settings: Settings, /, **params: Any) -> None:
        data = _validated(action.input, collect(action.input, params, params["input"]))
        with settings.client() as client:
            result = action.execute(client, data)
        click.echo(_to_json(result))

    params: list[click.Parameter] = [
        *options_for(action.input),
        click.Option(["--input", "input"], metavar="JSON", help="All inputs as one JSON object."),
    ]
    return click.Command(
        registry.kebab(key),
        callback=command,
        params=params,
        help=f"{action.description}\n\nOn repeat: {action.on_repeat}",
        short_help=action.label,
    )


def _to_json(result: Any) -> str:
    if isinstance(result, list):
        return json.dumps([r.model_dump(mode="json") for r in result], indent=2)
    assert isinstance(result, BaseModel)
    return result.model_dump_json(indent=2)


# demo and sandbox ----------------------------------------------------------------------------
@main.command(short_help="Follow triggers on the embedded sandbox, release, block.")
@click.option(
    "--rounds",
    type=click.IntRange(1, 100),
    default=8,
    show_default=True,
    help="Rounds of traffic to show.",
)
@click.option(
    "--pause",
    type=click.FloatRange(0, 60),
    default=1.0,
    show_default=True,
    help="Seconds between rounds.",
)
@click.option(
    "--seed",
    type=int,
    default=7,
    show_default=True,
    help="Seed of everything random (account history, traffic): the same seed, the same demo.",
)
def demo(rounds: int, pause: float, seed: int) -> None:
    """The main job on the embedded sandbox: follow triggers, release a false positive, block a
    spammer."""
    from connector.demo import run_demo

    run_demo(rounds=rounds, pause=pause, seed=seed)


@main.command(short_help="Run a local, stateful MxGuard API.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8025, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--db", "db_path", type=click.Path(dir_okay=False), help="SQLite file (default: in memory)."
)
@click.option("--seed", type=click.Choice(["demo", "empty"]), default="demo", show_default=True)
@click.option("--token", help="The first customer's token (default: a new mxg_test_ token).")
@click.option("--admin-token", help="Token of the /_sandbox/ simulation API (default: new).")
@click.option("--rate-per-minute", default=60, show_default=True, type=click.IntRange(1))
@click.option("--rate-per-hour", default=600, show_default=True, type=click.IntRange(1))
def sandbox(
    host: str,
    port: int,
    db_path: str | None,
    seed: str,
    token: str | None,
    admin_token: str | None,
    rate_per_minute: int,
    rate_per_hour: int,
) -> None:
    """Run a local, stateful MxGuard API (the contract, plus the /_sandbox/ simulation API)."""
    from sandbox.server import serve_forever
    from sandbox.settings import SandboxSettings
    from sandbox.tokens import looks_like_token, new_token

    for name, value in (("--token", token), ("--admin-token", admin_token)):
        if value is not None and not (value.startswith("mxg_test_") and looks_like_token(value)):
            raise click.BadParameter(
                "expected mxg_test_ followed by 43 characters", param_hint=name
            )
    settings = SandboxSettings(
        db_path=db_path,
        seed=seed,  # type: ignore[arg-type]
        token=token or new_token(),
        admin_token=admin_token or new_token(),
        rate_per_minute=rate_per_minute,
        rate_per_hour=rate_per_hour,
    )
    base_url = f"http://{host}:{port}"
    click.echo(f"MxGuard sandbox on {base_url}  (Swagger UI: {base_url}/api/v1/docs)")
    click.echo(f"  customer token: {settings.token}")
    click.echo(f"  admin token:    {settings.admin_token}")
    click.echo("Point the mxguard command line at it (in another terminal):")
    click.echo(f"  export MXGUARD_API_URL={base_url}")
    click.echo(f"  export MXGUARD_API_TOKEN={settings.token}")
    click.echo("  mxguard me")
    click.echo(f'or: curl -H "Authorization: Bearer {settings.token}" {base_url}/api/v1/me')
    sys.stdout.flush()
    serve_forever(settings, host, port)


# contract ------------------------------------------------------------------------------------
@main.group(name="contract")
def contract_group() -> None:
    """The API contract, manifests/openapi.json."""


@contract_group.command(name="write")
@click.option("--path", type=click.Path(path_type=Path), default=SPEC_PATH, show_default=True)
def contract_write(path: Path) -> None:
    """Regenerate the contract file from the sandbox's definitions."""
    from connector import contract

    contract.write(path)
    click.echo(f"wrote {path}")


@contract_group.command(name="check")
@click.option("--path", type=click.Path(path_type=Path), default=SPEC_PATH, show_default=True)
def contract_check(path: Path) -> None:
    """Fail when the contract file drifted from the code."""
    from connector import contract

    problem = contract.drift(path)
    if problem:
        raise click.ClickException(problem)
    click.echo(f"{path} is up to date")


@contract_group.command(name="diff")
@click.argument("published", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--path", type=click.Path(path_type=Path), default=SPEC_PATH, show_default=True)
def contract_diff(published: Path, path: Path) -> None:
    """Compare our contract with a published openapi.json; exit 1 when they differ."""
    from connector import contract

    lines = contract.diff(contract.load(path), contract.load(published))
    for line in lines:
        click.echo(line)
    if lines:
        sys.exit(1)
    click.echo("no differences")


# manifests -----------------------------------------------------------------------------------
@main.group(name="manifests", short_help="Build and check the platform-neutral manifests.")
def manifests_group() -> None:
    """Platform-neutral manifests of every trigger and action (manifests/)."""


MANIFESTS_DIR = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("manifests"),
    show_default=True,
)


@manifests_group.command(name="build")
@MANIFESTS_DIR
def manifests_build(directory: Path) -> None:
    """Generate the manifests and their JSON Schema from the Python definitions."""
    from connector.manifest import files

    for path in files.write(directory):
        click.echo(f"wrote {path}")


@manifests_group.command(name="check")
@MANIFESTS_DIR
def manifests_check(directory: Path) -> None:
    """Fail when a manifest is invalid against the schema or differs from what the code makes."""
    from connector.manifest import files

    found = files.problems(directory)
    for problem in found:
        click.echo(problem, err=True)
    if found:
        raise click.ClickException(f"{len(found)} problem(s) in {directory}")
    click.echo(f"{directory}: manifests valid and up to date")


# export --------------------------------------------------------------------------------------
EXPORTERS = {
    "zapier": "connector.export.zapier",
    "make": "connector.export.make",
    "n8n": "connector.export.n8n",
}


@main.command()
@click.argument("platform", type=click.Choice(sorted(EXPORTERS)))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the integration to (an earlier export there is replaced).",
)
@click.option(
    "--base-url",
    "api_url",
    metavar="URL",
    help="The API the integration calls [default: https://app.mxguard.uk].",
)
@click.option(
    "--manifests",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Manifests folder [default: ./manifests in a project checkout, else built afresh].",
)
def export(platform: str, out: Path, api_url: str | None, manifests: Path | None) -> None:
    """Export a native integration for PLATFORM from the manifests."""
    import importlib
    import tempfile

    from connector.export.common import load_bundle
    from connector.manifest import files

    with tempfile.TemporaryDirectory() as scratch:
        if manifests is None:
            manifests = Path("manifests")
            if not (manifests / "connector.json").exists():
                manifests = Path(scratch)
                files.write(manifests)
        try:
            bundle = load_bundle(manifests, api_url)
        except ValueError as problem:
            raise click.BadParameter(str(problem), param_hint="--base-url") from problem
    module = importlib.import_module(EXPORTERS[platform])
    try:
        written: Path = module.export(bundle, out)
    except FileExistsError as problem:
        raise click.BadParameter(str(problem), param_hint="--out") from problem
    click.echo(f"{platform} integration written to {written}")


# scaffold ------------------------------------------------------------------------------------
@main.command(short_help="Create a new trigger or action.")
@click.argument("kind", type=click.Choice(["trigger", "action"]))
@click.argument("name")
@click.option(
    "--root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The project checkout.",
)
def scaffold(kind: str, name: str, root: Path) -> None:
    """Create a new trigger or action NAME: definition, HTTP mapping, test, manifest."""
    from connector.manifest import files
    from connector.scaffold import ScaffoldError
    from connector.scaffold import scaffold as make

    try:
        written = make(kind, name, root)  # type: ignore[arg-type]
    except ScaffoldError as problem:
        raise click.UsageError(str(problem)) from problem
    for path in written:
        click.echo(f"wrote {path}")
    registry.triggers.cache_clear()
    registry.actions.cache_clear()
    for path in files.write(root / "manifests"):
        click.echo(f"wrote {path}")
    test = next(path for path in written if path.name.startswith("test_"))
    click.echo(f"next: edit them, then run pytest {test}")


def _register() -> None:
    for key in registry.triggers():
        poll.add_command(_poll_command(key))
    for key in registry.actions():
        run.add_command(_run_command(key))


_register()


class Terminated(BaseException):
    """SIGTERM arrived: unwind like an interrupt (a poll commits only delivered pages)."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def entry() -> None:
    """Console script: run the CLI, turning errors into one message and an exit code."""
    signal.signal(signal.SIGTERM, _terminate)
    _exit(invoke(sys.argv[1:]))


def invoke(args: list[str]) -> int:
    """Run the command line on ``args`` and return its exit code (the documented ones)."""
    settings = Settings()
    try:
        main.main(args, prog_name="mxguard", obj=settings, standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except CommandError as error:
        _show_traceback(settings)
        error.show()
        return error.exit_code
    except click.ClickException as usage:
        usage.show()
        return Exit.USAGE if usage.exit_code == 2 else usage.exit_code
    except (click.Abort, KeyboardInterrupt):
        click.echo("mxguard: interrupted", err=True)
        return Exit.INTERRUPTED
    except Terminated:
        click.echo("mxguard: terminated", err=True)
        return Exit.TERMINATED
    except (BrokenPipeError, OutputClosedError):
        return Exit.BROKEN_PIPE
    except Exception as error:
        _show_traceback(settings)
        code, message = describe(error)
        click.echo(f"mxguard: {message}", err=True)
        return code
    return Exit.OK


def _show_traceback(settings: Settings) -> None:
    if settings.debug:
        traceback.print_exc()


def _exit(code: int) -> None:
    """Exit with ``code``; output the reader no longer takes is dropped, not reported."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = Exit.BROKEN_PIPE if code == Exit.OK else code
    except ValueError:  # stdout already closed
        pass
    if code == Exit.BROKEN_PIPE or not _stdout_open():
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(code)


def _stdout_open() -> bool:
    try:
        os.fstat(sys.stdout.fileno())
    except (OSError, ValueError):
        return False
    return True
