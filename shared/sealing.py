"""Secrets sealed at rest with Fernet (AES-128-CBC and HMAC-SHA256), keyed by
HELIXQ_SECRET_KEY.

HELIXQ_SECRET_KEY is a comma-separated list: the first key seals, every key opens,
so a new key goes first and the old ones stay until `helixq secrets reseal` (or
`POST /admin/secrets/reseal`) has sealed everything again with the first. Each item
is a Fernet key (`helixq secrets generate`) or any text of at least 32 characters,
stretched to one with HKDF.
"""

import base64
import binascii

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_SECRET_CHARS = 32
_UNREADABLE = "sealed with a key HELIXQ_SECRET_KEY no longer holds"
_HKDF_INFO = b"helixq sealed secrets"


class Unreadable(Exception):
    """A sealed value no key of HELIXQ_SECRET_KEY opens (or tampered with)."""


def fernet_keys(setting: str) -> list[bytes]:
    """The Fernet keys of a HELIXQ_SECRET_KEY value; ValueError (never quoting
    it) when an item is neither a Fernet key nor long enough to stretch."""
    items = [item.strip() for item in setting.split(",") if item.strip()]
    if not items:
        raise ValueError("no key given")
    return [_fernet_key(item, position) for position, item in enumerate(items, 1)]


def _fernet_key(item: str, position: int) -> bytes:
    try:
        if len(base64.urlsafe_b64decode(item.encode())) == 32 and len(item) == 44:
            return item.encode()
    except (binascii.Error, ValueError):
        pass
    if len(item) < MIN_SECRET_CHARS:
        raise ValueError(
            f"key {position} is neither a Fernet key nor {MIN_SECRET_CHARS} "
            "characters or more"
        )
    stretched = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO
    ).derive(item.encode())
    return base64.urlsafe_b64encode(stretched)


def generate_secret_key() -> str:
    """A new Fernet key, for HELIXQ_SECRET_KEY."""
    return Fernet.generate_key().decode()


class SecretBox:
    """Seals with the first key of HELIXQ_SECRET_KEY, opens with any of them."""

    def __init__(self, setting: str) -> None:
        self._fernet = MultiFernet([Fernet(key) for key in fernet_keys(setting)])

    def seal(self, secret: str) -> str:
        """The sealed text of `secret` (a Fernet token, ASCII)."""
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        """The secret; Unreadable when no key opens it."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise Unreadable(_UNREADABLE) from None

    def reseal(self, sealed: str) -> str:
        """The same secret sealed with the first key; Unreadable as `open`."""
        try:
            return self._fernet.rotate(sealed.encode()).decode()
        except InvalidToken:
            raise Unreadable(_UNREADABLE) from None
