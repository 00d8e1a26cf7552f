"""Profiles of ``mxguard login``: one MxGuard token per name, several accounts on one machine.

A profile's token lives in the OS keyring (``keyring``; service ``mxguard-connector``, username
the profile's name). Where no keyring backend exists (a headless server: keyring falls back to
its ``fail`` backend, or was told to use the ``null`` one), it lives in ``tokens.json``, a file
readable by the user alone (mode 0600), and the caller is told so: never silently.

What is not secret -- the account's name, the customer id, the token's fingerprint, the base URL
and where the token is -- is in ``profiles.json`` beside it, in the user config folder
(``$MXGUARD_CONFIG_DIR`` when set). Both files are replaced whole (a temporary file renamed
over them) under a lock, so two logins at once cannot lose each other's profile.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import filelock
import keyring
import keyring.errors
import platformdirs
from keyring.backend import KeyringBackend
from keyring.backends import fail, null
from pydantic import BaseModel, ConfigDict, ValidationError

from api_client import Secret, check_token
from api_client.config import DISTRIBUTION

SERVICE = DISTRIBUTION
"""The keyring service name of every profile's token ("mxguard-connector")."""
DEFAULT_PROFILE = "default"
CONFIG_DIR_ENV = "MXGUARD_CONFIG_DIR"
PROFILES_FILE = "profiles.json"
TOKENS_FILE = "tokens.json"
LOCK_FILE = ".profiles.lock"
FORMAT = 1
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NAME_RULE = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"

TokenStore = Literal["keyring", "file"]


class ProfileError(Exception):
    """A profile that cannot be used or changed; the message says why (never with the token)."""


class ProfileNotFoundError(ProfileError):
    """No such profile, or its token is no longer where the profile says it is."""


class ProfileStoreError(ProfileError):
    """The profiles file, the token file or the keyring cannot be read or written."""


def check_name(name: str) -> str:
    """``name`` if it can name a profile, else ``ValueError`` saying what a name is."""
    if not NAME.fullmatch(name):
        raise ValueError(f"{name[:80]!r} is not a profile name ({NAME_RULE})")
    return name


def default_folder() -> Path:
    """``$MXGUARD_CONFIG_DIR``, else the user config folder (``~/.config/mxguard-connector``)."""
    chosen = os.environ.get(CONFIG_DIR_ENV)
    return Path(chosen) if chosen else Path(platformdirs.user_config_dir(DISTRIBUTION))


class Profile(BaseModel):
    """What ``profiles.json`` keeps of one profile: nothing secret."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    account_name: str
    customer_id: str
    fingerprint: str
    """``Secret(token).fingerprint``: names the token without revealing it."""
    base_url: str
    token_store: TokenStore
    token_location: str
    """The keyring backend's name, or the token file's path."""


class _ProfilesFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    format: int = FORMAT
    profiles: dict[str, Profile] = {}


class _TokensFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    format: int = FORMAT
    tokens: dict[str, str] = {}


@dataclass(frozen=True)
class Saved:
    """What ``ProfileStore.save`` did: the profile, and why the keyring was not used (or None)."""

    profile: Profile
    replaced: bool
    no_keyring: str | None


@dataclass(frozen=True)
class Removed:
    """What ``ProfileStore.remove`` found and removed."""

    profile: Profile | None
    from_keyring: bool
    from_file: bool


class ProfileStore:
    """The profiles in ``folder`` (default: ``default_folder()``) and their tokens in
    ``backend`` (default: keyring's current backend, ``keyring.get_keyring()``)."""

    def __init__(self, folder: Path | None = None, backend: KeyringBackend | None = None) -> None:
        self.folder = folder if folder is not None else default_folder()
        self._backend = backend

    @property
    def profiles_path(self) -> Path:
        return self.folder / PROFILES_FILE

    @property
    def tokens_path(self) -> Path:
        return self.folder / TOKENS_FILE

    @property
    def backend(self) -> KeyringBackend:
        return self._backend if self._backend is not None else keyring.get_keyring()

    def no_keyring(self) -> str | None:
        """Why the keyring cannot keep tokens here, or None when it can (as far as is known
        before trying)."""
        backend = self.backend
        if isinstance(backend, fail.Keyring | null.Keyring):
            return f"no keyring backend is available (keyring chose {_backend_name(backend)})"
        return None

    # -- reading ---------------------------------------------------------------------------

    def profiles(self) -> dict[str, Profile]:
        """Every profile by name, in name order."""
        return dict(sorted(self._read_profiles().profiles.items()))

    def get(self, name: str) -> Profile | None:
        return self._read_profiles().profiles.get(name)

    def token(self, name: str) -> tuple[Secret, Profile]:
        """The token of profile ``name`` (checked: well formed, and the one that logged in)."""
        profile = self.get(name)
        if profile is None:
            raise ProfileNotFoundError(self.missing(name))
        if profile.token_store == "keyring":
            value = self._keyring_get(name, profile)
        else:
            value = self._read_tokens().tokens.get(name)
        if not value:
            where = "the keyring" if profile.token_store == "keyring" else str(self.tokens_path)
            raise ProfileNotFoundError(
                f"the token of profile {name!r} is no longer in {where}: log in again with "
                f"`mxguard login --profile {name}`"
            )
        secret = check_token(value, source=f"profile {name!r}")
        if secret.fingerprint != profile.fingerprint:
            raise ProfileStoreError(
                f"the token stored for profile {name!r} (fingerprint {secret.fingerprint}) is not "
                f"the one that logged in ({profile.fingerprint}): log in again with "
                f"`mxguard login --profile {name}`"
            )
        return secret, profile

    # -- changing --------------------------------------------------------------------------

    def save(
        self, name: str, secret: Secret, *, account_name: str, customer_id: str, base_url: str
    ) -> Saved:
        """Keep ``secret`` as profile ``name``: in the keyring, or in the token file when there
        is no keyring backend (``Saved.no_keyring`` says why). Replaces a profile of that name."""
        check_name(name)
        with self._locked():
            previous = self.get(name)
            reason = self.no_keyring()
            if reason is None:
                try:
                    self.backend.set_password(SERVICE, name, secret.reveal())
                except (keyring.errors.NoKeyringError, keyring.errors.InitError) as error:
                    reason = f"the keyring cannot be used ({_said(error, secret)})"
                except keyring.errors.KeyringError as error:
                    raise ProfileStoreError(
                        f"the keyring ({_backend_name(self.backend)}) did not store the token: "
                        f"{_said(error, secret)}; nothing was stored"
                    ) from None
            if reason is None:
                store: TokenStore = "keyring"
                location = _backend_name(self.backend)
                self._drop_file_token(name)
            else:
                store, location = "file", str(self.tokens_path)
                tokens = self._read_tokens()
                tokens.tokens[name] = secret.reveal()
                _write_private(self.tokens_path, tokens.model_dump())
            profile = Profile(
                account_name=account_name,
                customer_id=customer_id,
                fingerprint=secret.fingerprint,
                base_url=base_url,
                token_store=store,
                token_location=location,
            )
            stored = self._read_profiles()
            stored.profiles[name] = profile
            _write_private(self.profiles_path, stored.model_dump())
        return Saved(profile, replaced=previous is not None, no_keyring=reason)

    def remove(self, name: str) -> Removed:
        """Forget profile ``name``: its keyring entry, its token file entry, its profile. Any of
        them may be absent already; a keyring that refuses leaves everything in place."""
        with self._locked():
            profile = self.get(name)
            from_keyring = False
            in_keyring = profile is None or profile.token_store == "keyring"
            if in_keyring and self.no_keyring() is None:
                backend = self.backend
                try:
                    value = backend.get_password(SERVICE, name)
                    # another folder's profile of that name (``$MXGUARD_CONFIG_DIR``) is left
                    theirs = profile and value and Secret(value).fingerprint != profile.fingerprint
                    if value is not None and not theirs:
                        backend.delete_password(SERVICE, name)
                        from_keyring = True
                except (keyring.errors.PasswordDeleteError, keyring.errors.NoKeyringError):
                    pass
                except keyring.errors.KeyringError as error:
                    raise ProfileStoreError(
                        f"the keyring ({_backend_name(backend)}) did not remove the token of "
                        f"profile {name!r}: {error}; the profile is kept"
                    ) from None
            from_file = self._drop_file_token(name)
            if profile is not None:
                stored = self._read_profiles()
                del stored.profiles[name]
                _write_private(self.profiles_path, stored.model_dump())
        return Removed(profile, from_keyring, from_file)

    # -- the files and the keyring ---------------------------------------------------------

    def missing(self, name: str) -> str:
        """The message for a profile there is not, naming those there are."""
        known = ", ".join(self.profiles()) or "none yet"
        return (
            f"no profile {name!r} (profiles: {known}): log in with `mxguard login --profile {name}`"
        )

    def _keyring_get(self, name: str, profile: Profile) -> str | None:
        reason = self.no_keyring()
        if reason is not None:
            raise ProfileStoreError(
                f"profile {name!r} keeps its token in the keyring ({profile.token_location}), "
                f"but {reason} now"
            )
        try:
            return self.backend.get_password(SERVICE, name)
        except keyring.errors.KeyringError as error:
            raise ProfileStoreError(
                f"the keyring ({_backend_name(self.backend)}) did not give the token of profile "
                f"{name!r}: {error}"
            ) from None

    def _drop_file_token(self, name: str) -> bool:
        if not self.tokens_path.exists():
            return False
        tokens = self._read_tokens()
        if tokens.tokens.pop(name, None) is None:
            return False
        _write_private(self.tokens_path, tokens.model_dump())
        return True

    def _read_profiles(self) -> _ProfilesFile:
        data = _read_json(self.profiles_path)
        if data is None:
            return _ProfilesFile()
        try:
            return _ProfilesFile.model_validate(data)
        except ValidationError as error:
            raise ProfileStoreError(
                f"{self.profiles_path} is not a profiles file ({error.error_count()} problem(s)); "
                "move it away and log in again"
            ) from None

    def _read_tokens(self) -> _TokensFile:
        path = self.tokens_path
        if os.name == "posix" and path.exists():
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                raise ProfileStoreError(
                    f"{path} can be read by other users (mode {mode:04o}): `chmod 600 {path}`, "
                    "or remove it and log in again"
                )
        data = _read_json(path)
        try:
            return _TokensFile() if data is None else _TokensFile.model_validate(data)
        except ValidationError:
            # never echo the file's content: it holds tokens
            raise ProfileStoreError(
                f"{path} is not a token file of mxguard; remove it and log in again"
            ) from None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        _make_folder(self.folder)
        with filelock.FileLock(self.folder / LOCK_FILE, timeout=30):
            yield


def _backend_name(backend: KeyringBackend) -> str:
    name: str = type(backend).name
    return name


def _said(error: BaseException, secret: Secret) -> str:
    """An error's message for people: scrubbed of the token, as every message is."""
    return secret.scrub(str(error)).split("\n", 1)[0][:200] or type(error).__name__


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise ProfileStoreError(f"cannot create {folder}: {error.strerror or error}") from None


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ProfileStoreError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        return json.loads(text)
    except ValueError:
        raise ProfileStoreError(f"{path} is not JSON; move it away and log in again") from None


def _write_private(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` with ``data`` as JSON, readable and writable by the user alone (0600):
    written to a temporary file beside it, synced, then renamed over it."""
    _make_folder(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        temporary.unlink(missing_ok=True)
        descriptor = os.open(temporary, flags, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(data, file, indent=2, ensure_ascii=False)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise ProfileStoreError(f"cannot write {path}: {error.strerror or error}") from None
