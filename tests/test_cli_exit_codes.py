"""Every documented exit code, reached in-process, and the one error tree behind them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import connector.errors
from api_client import MxGuardClient, MxGuardError
from connector.cli import Settings, invoke, main
from connector.exits import EXIT_CODES, Exit, exit_code
from sandbox.server import SandboxServer
from tests.support import Account, SandboxAdmin

MANIFESTS = Path(__file__).resolve().parents[1] / "manifests"
Setup = Callable[[SandboxAdmin, Account, Path, pytest.MonkeyPatch], list[str]]


def _unexpressible_manifests(tmp_path: Path) -> Path:
    """A copy of the manifests whose add_domain has a repeat rule Make cannot express (an empty
    search's rule on a create)."""
    copy = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, copy)
    path = copy / "actions" / "add_domain.json"
    manifest = json.loads(path.read_text())
    manifest["repeat"] = {"shape": "empty", "status": 404}
    path.write_text(json.dumps(manifest))
    return copy


def _make_cannot_express(
    _: SandboxAdmin, __: Account, tmp: Path, ___: pytest.MonkeyPatch
) -> list[str]:
    return [
        "export",
        "make",
        "--out",
        str(tmp / "out"),
        "--manifests",
        str(_unexpressible_manifests(tmp)),
    ]


def _without_token(_: SandboxAdmin, __: Account, ___: Path, mp: pytest.MonkeyPatch) -> list[str]:
    mp.delenv("MXGUARD_API_TOKEN")
    return ["me"]


def _rate_limited(
    admin: SandboxAdmin, account: Account, _: Path, __: pytest.MonkeyPatch
) -> list[str]:
    admin.fault(kind="status", status=429, count=3, retry_after=3600, token_id=account.token_id)
    return ["me"]


def _unreachable(_: SandboxAdmin, __: Account, ___: Path, mp: pytest.MonkeyPatch) -> list[str]:
    mp.setenv("MXGUARD_API_URL", "http://127.0.0.1:9")
    return ["me"]


def _interrupted(_: SandboxAdmin, __: Account, ___: Path, mp: pytest.MonkeyPatch) -> list[str]:
    def interrupt(self: MxGuardClient) -> None:
        raise KeyboardInterrupt

    mp.setattr(MxGuardClient, "me", interrupt)
    return ["me"]


def _args(*args: str) -> Setup:
    return lambda *_: list(args)


CASES: list[tuple[Exit, Setup, str]] = [
    (Exit.OK, _args("list"), ""),
    (Exit.FAILED, _make_cannot_express, "mxguard: export failed: add_domain: its repeat rule"),
    (Exit.USAGE, _args("export", "make", "--out", "x", "--base-url", "ftp://x"), "--base-url"),
    (Exit.INVALID_INPUT, _args("run", "add-domain", "--input", "{oops"), "not valid JSON"),
    (Exit.AUTHENTICATION, _without_token, "MXGUARD_API_TOKEN"),
    (Exit.NOT_FOUND, _args("run", "release-message", "--message-id", "qmsg_x"), "not found"),
    (
        Exit.CONFLICT,
        _args("run", "add-domain", "--domain", "example.com", "--real-mx-host", "mx.other.example"),
        "mxguard: conflict: ",
    ),
    (Exit.RATE_LIMITED, _rate_limited, "mxguard: rate limited"),
    (Exit.UNAVAILABLE, _unreachable, "mxguard: MxGuard unreachable"),
    (Exit.INTERRUPTED, _interrupted, "mxguard: interrupted"),
]


@pytest.mark.parametrize(("code", "setup", "says"), CASES, ids=[str(int(c[0])) for c in CASES])
def test_every_documented_exit_code_in_process(
    sandbox: SandboxServer,
    admin: SandboxAdmin,
    account: Account,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    code: Exit,
    setup: Setup,
    says: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MXGUARD_API_TOKEN", account.token)
    monkeypatch.setenv("MXGUARD_API_URL", sandbox.base_url)
    args = setup(admin, account, tmp_path, monkeypatch)
    got = invoke(args)
    out, err = capsys.readouterr()
    assert got == code, err
    assert says in err
    assert "Traceback" not in err
    assert "unexpected error" not in err
    assert account.token not in out + err


def test_the_documented_codes_are_the_exit_enum() -> None:
    assert sorted(int(c) for c in Exit) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 130, 141, 143]
    assert sorted({int(case[0]) for case in CASES}) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 130]
    assert "141 output closed by its reader, 143 terminated" in " ".join((main.help or "").split())


def _tree(root: type[BaseException]) -> set[type[BaseException]]:
    found = {root}
    for child in root.__subclasses__():
        found |= _tree(child)
    return found


def test_one_tree_every_class_named_in_its_drawing_and_given_a_code() -> None:
    tree = {kind for kind in _tree(MxGuardError) if kind.__module__.split(".")[0] != "tests"}
    drawing = connector.errors.__doc__ or ""
    for kind in tree:
        assert kind.__name__ in connector.errors.__all__, kind
        assert kind.__name__ in drawing or kind.__module__ == "api_client.errors", kind
    assert {kind for kind, _, _ in EXIT_CODES} <= tree
    outside_before = [
        "ActionConflictError",
        "CursorStoreError",
        "CursorStoreFileError",
        "CursorHeldError",
        "ScaffoldError",
        "ExportError",
    ]
    for name in outside_before:
        kind = getattr(connector.errors, name)
        assert issubclass(kind, MxGuardError)
        code, label = exit_code(kind("x"))
        assert label != "error", f"{name} has its own row in EXIT_CODES"
        assert code in Exit


def test_exporter_errors_are_in_the_tree_and_stay_value_and_file_errors(tmp_path: Path) -> None:
    from connector.export import n8n
    from connector.export.common import load_bundle

    with pytest.raises(MxGuardError) as bad_url:
        load_bundle(MANIFESTS, "ftp://example.com")
    assert isinstance(bad_url.value, ValueError)
    assert bad_url.value.param == "--base-url"
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(MxGuardError) as not_an_export:
        n8n.export(load_bundle(MANIFESTS, None), tmp_path)
    assert isinstance(not_an_export.value, FileExistsError)
    assert exit_code(not_an_export.value)[0] == Exit.USAGE


def test_export_option_errors_are_usage_errors_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    out_args = ["export", "zapier", "--manifests", str(MANIFESTS), "--out", str(mine)]
    assert invoke(out_args) == Exit.USAGE
    err = capsys.readouterr().err
    assert "Invalid value for --out" in err
    assert "not an earlier export" in err
    assert (mine / "notes.txt").read_text() == "keep me"
    url_args = ["export", "n8n", "--manifests", str(MANIFESTS), "--out", str(tmp_path / "o")]
    assert invoke([*url_args, "--base-url", "mxguard.example"]) == Exit.USAGE
    assert "Invalid value for --base-url" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_clirunner_reports_an_error_of_the_tree_with_its_code(tmp_path: Path) -> None:
    """Without ``invoke``: the root group turns the error into a ``ClickException``."""
    manifests = _unexpressible_manifests(tmp_path)
    args = ["export", "make", "--out", str(tmp_path / "out"), "--manifests", str(manifests)]
    result = CliRunner().invoke(main, args, obj=Settings())
    assert result.exit_code == Exit.FAILED
    assert "mxguard: export failed: add_domain" in result.output
    assert not (tmp_path / "out").exists()
