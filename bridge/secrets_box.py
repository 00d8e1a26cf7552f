"""Encryption at rest for what the bridge must keep but never show: customers' tokens.

The bridge polls MxGuard with each customer's token, so it has to keep the token itself, not a
hash. A copy of the database (a backup, a support bundle, a stolen disk image) must not hand
those tokens out, so they are sealed with AES-256-GCM under a key kept apart from the database:

* ``MXGUARD_BRIDGE_KEY`` in the environment when set (a container's secret, a key manager), as
  32 bytes in URL-safe base64 (``SecretBox.generate_key()`` makes one);
* else ``bridge.key`` in the data folder, created on first use with mode 0600. A key file that
  group or others may read or write is refused: it would let any local user open every token.

AES-GCM authenticates what it decrypts, so a wrong key (the environment variable changed, the
key file replaced) is a clear ``WrongKeyError``, never garbage and never the plaintext in a
message. A sealed value can be bound to a ``context`` (the token's fingerprint): a sealed token
copied onto another row of the database does not open there.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from api_client.errors import MxGuardError

KEY_ENV = "MXGUARD_BRIDGE_KEY"
"""The environment variable that holds the key; when set, no key file is read or made."""
KEY_FILE = "bridge.key"
"""The key file's name in the data folder."""
KEY_BYTES = 32
"""AES-256."""
NONCE_BYTES = 12
"""GCM's standard nonce: random for each seal (2^32 seals per key keep collisions negligible)."""
PREFIX = "v1."
"""Marks the format of a sealed value, so that another scheme can come next to it."""


class SecretBoxError(MxGuardError):
    """The key cannot be had, or a sealed value cannot be opened; the message says which and
    names the key's source, never a key or a secret."""


class KeyFileError(SecretBoxError):
    """The key (the file in the data folder, or ``MXGUARD_BRIDGE_KEY``) cannot be used: a key
    file others can read, a file that is not a key, a folder that cannot hold one."""


class WrongKeyError(SecretBoxError):
    """A sealed value does not open with this key: it was sealed with another one, for another
    context, or it was altered."""


def _decode_key(text: str) -> bytes | None:
    """The key's bytes, or None when ``text`` is not 32 bytes in URL-safe base64."""
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    return key if len(key) == KEY_BYTES else None


class SecretBox:
    """Seals and opens short secrets with one key (AES-256-GCM).

    ``source`` says where the key came from, for messages (``repr`` shows it, never the key).
    """

    __slots__ = ("_aead", "source")

    def __init__(self, key: bytes, *, source: str = "a key given in code") -> None:
        if len(key) != KEY_BYTES:
            raise KeyFileError(f"the key from {source} is not {KEY_BYTES} bytes")
        self._aead = AESGCM(key)
        self.source = source

    def __repr__(self) -> str:
        return f"SecretBox(source={self.source!r})"

    def __reduce__(self) -> tuple[object, ...]:
        """Never pickled: a pickle would carry the key wherever it goes."""
        raise TypeError("a SecretBox is not picklable: it holds a key")

    @staticmethod
    def generate_key() -> str:
        """A new key in the form ``MXGUARD_BRIDGE_KEY`` and the key file take."""
        return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")

    @classmethod
    def from_environment(
        cls, folder: Path, *, environ: Mapping[str, str] | None = None
    ) -> SecretBox:
        """The bridge's box: the key from ``MXGUARD_BRIDGE_KEY`` when set, else from the key
        file in ``folder`` (made on first use, mode 0600)."""
        env = os.environ if environ is None else environ
        text = env.get(KEY_ENV)
        if text is not None and text.strip():
            key = _decode_key(text)
            if key is None:
                raise KeyFileError(
                    f"{KEY_ENV} is not a key: it must be {KEY_BYTES} bytes in URL-safe base64 "
                    f'(python -c "from bridge.secrets_box import SecretBox; '
                    f'print(SecretBox.generate_key())")'
                )
            return cls(key, source=KEY_ENV)
        return cls.from_key_file(Path(folder) / KEY_FILE)

    @classmethod
    def from_key_file(cls, path: Path) -> SecretBox:
        """The key in ``path``, made there first when there is none."""
        if not path.exists() and not path.is_symlink():
            _create_key_file(path)
        return cls(_read_key_file(path), source=str(path))

    def seal(self, text: str, *, context: str = "") -> str:
        """``text`` encrypted and authenticated, as printable text (``v1.`` and base64). The
        same ``context`` must be given to open it."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, text.encode("utf-8"), context.encode("utf-8"))
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, sealed: str, *, context: str = "") -> str:
        """The text ``seal`` was given; ``WrongKeyError`` when this key (or ``context``) is not
        the one it was sealed with, or the value was altered."""
        if not sealed.startswith(PREFIX):
            raise WrongKeyError("not a sealed value of this bridge (an unknown format)")
        try:
            raw = base64.urlsafe_b64decode(sealed[len(PREFIX) :].encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise WrongKeyError("a sealed value is damaged (not base64)") from None
        if len(raw) <= NONCE_BYTES:
            raise WrongKeyError("a sealed value is damaged (too short)")
        try:
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise WrongKeyError(
                f"a sealed value does not open with the key from {self.source}: it was sealed "
                f"with another key (was {KEY_ENV} or the key file changed?), or altered"
            ) from None
        return plain.decode("utf-8")


def _create_key_file(path: Path) -> None:
    """Write a new key to ``path`` with mode 0600, all or nothing: the key goes to a private
    temporary file first, then is linked into place (a link never replaces a file), so that a
    process opening the folder at the same time sees no key file or a whole one, and two
    processes starting at once end up with the same key."""
    folder = path.parent
    if not folder.is_dir():
        raise KeyFileError(f"cannot make the key file {path}: {folder} is not a folder")
    temporary = folder / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(descriptor, 0o600)  # whatever the umask
            os.write(descriptor, (SecretBox.generate_key() + "\n").encode("ascii"))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            os.link(temporary, path)
    except OSError as error:
        raise KeyFileError(f"cannot make the key file {path}: {error.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()


def _read_key_file(path: Path) -> bytes:
    """The key in ``path``, after checking that only its owner may read or write it."""
    try:
        info = path.stat()
    except OSError as error:
        raise KeyFileError(f"cannot read the key file {path}: {error.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError(f"the key file {path} is not a regular file")
    loose = stat.S_IMODE(info.st_mode) & 0o077
    if loose:
        raise KeyFileError(
            f"the key file {path} may be read or written by others (mode "
            f"{stat.S_IMODE(info.st_mode):04o}); it opens every token the bridge keeps, so it "
            f"is not used: make it private (chmod 600 {path}) if no one else has read it, else "
            "replace the key (the tokens kept must then be given again)"
        )
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        cause = error.strerror if isinstance(error, OSError) else "not text"
        raise KeyFileError(f"cannot read the key file {path}: {cause}") from None
    key = _decode_key(text)
    if key is None:
        raise KeyFileError(
            f"{path} is not a key file of the bridge ({KEY_BYTES} bytes in URL-safe base64); "
            "restore it, or move it away to make a new key (the tokens kept must then be given "
            "again)"
        )
    return key
