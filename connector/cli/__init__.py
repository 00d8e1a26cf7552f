"""The ``mxguard`` command line: list, me, poll, run, demo, sandbox, contract, manifests, export,
scaffold, login, logout, profiles.

One module per command or group; this one holds the root group (its global options and the
translation of errors into exit codes), ``invoke`` (run it in-process, get the exit code) and
``entry`` (the console script and ``python -m connector``).

An error of the tree in ``connector/errors.py`` (or input that fails validation) leaves a command
as an ``OperationError``, a ``click.ClickException`` carrying the exit code of
``connector.exits.EXIT_CODES``, so click (and ``click.testing.CliRunner``) reports it like any
other; ``invoke`` only adds the signals, a closed output and the unexpected.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from types import FrameType
from typing import Any

import click
from pydantic import ValidationError

from api_client import MxGuardError
from api_client.config import RATE_LIMITS_ENV, parse_rate_limits
from api_client.contract import DEFAULT_BASE_URL, DEFAULT_PER_HOUR, DEFAULT_PER_MINUTE
from connector import __version__
from connector.cli import (
    bridge,
    bridge_tokens,  # noqa: F401 - registers `bridge tokens` under `bridge`
    bulk,
    contract,
    demo,
    export,
    info,
    login,
    manifests,
    poll,
    run,
    sandbox,
    scaffold,
)
from connector.cli.base import CONTEXT, Settings, pass_settings
from connector.exits import CommandError, Exit, describe, operation_error
from connector.polling import OutputClosedError

__all__ = ["Settings", "Terminated", "entry", "invoke", "main", "pass_settings"]


class MainGroup(click.Group):
    """The root group: an error of the tree leaves any command as an ``OperationError``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (MxGuardError, ValidationError) as error:
            raise operation_error(error) from error


@click.group(cls=MainGroup, context_settings=CONTEXT)
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
    help=f"API address [env: MXGUARD_API_URL; default: {DEFAULT_BASE_URL}].",
)
@click.option(
    "--rate-limits",
    metavar="LIMITS",
    envvar=RATE_LIMITS_ENV,
    help=f"The token's limits when MxGuard raised them, e.g. 120/min,6000/h [env: "
    f"{RATE_LIMITS_ENV}; default: {DEFAULT_PER_MINUTE}/min,{DEFAULT_PER_HOUR}/h].",
)
@click.option(
    "--profile",
    metavar="NAME",
    envvar="MXGUARD_PROFILE",
    callback=login.profile_option,
    help="Take the token and base URL from this profile of `mxguard login` when no --token or "
    "$MXGUARD_API_TOKEN is given (those win) [env: MXGUARD_PROFILE; default: the profile "
    "'default', when there is one].",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress or status lines on stderr.")
@click.option("--debug", is_flag=True, help="On an error, show the traceback too.")
@pass_settings
def main(
    settings: Settings,
    token: str | None,
    base_url: str | None,
    rate_limits: str | None,
    profile: str | None,
    quiet: bool,
    debug: bool,
) -> None:
    """MxGuard connector bundle: poll triggers, run actions, run a local sandbox.

    \b
    Exit codes: 0 ok, 1 failed, 2 usage, 3 invalid input, 4 token or authentication,
    5 not found, 6 conflict, 7 rate limited, 8 MxGuard unreachable or failing, 130 interrupted,
    141 output closed by its reader, 143 terminated.
    """
    settings.token, settings.base_url, settings.quiet, settings.debug = (
        token,
        base_url,
        quiet,
        debug,
    )
    settings.profile = profile
    if rate_limits:
        try:
            settings.per_minute, settings.per_hour = parse_rate_limits(rate_limits, "--rate-limits")
        except MxGuardError as problem:
            message = problem.message.removeprefix("--rate-limits: ")
            raise click.BadParameter(message, param_hint="--rate-limits") from None


for _command in (
    info.list_operations,
    info.me,
    poll.poll,
    run.run,
    demo.demo,
    sandbox.sandbox,
    contract.contract_group,
    manifests.manifests_group,
    export.export,
    scaffold.scaffold,
    bridge.bridge,
    bulk.bulk,
    login.login,
    login.logout,
    login.profiles,
):
    main.add_command(_command)


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
        code = main.main(args, prog_name="mxguard", obj=settings, standalone_mode=False)
    except click.ClickException as error:
        if isinstance(error, CommandError):
            _show_traceback(settings)
        error.show()
        return error.exit_code
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
    return code if isinstance(code, int) else Exit.OK


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
