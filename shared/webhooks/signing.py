"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

A message is signed as `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, the
key being the base64 part of a `whsec_` secret. During a rotation every active secret
signs, and the signatures travel space-separated in one `webhook-signature` header.
"""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from uuid import UUID

from shared.errors import InvalidRequest
from shared.webhooks.errors import SignatureMismatch

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec asks for 24 to 64 random bytes
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_S = 300  # the spec's suggested window against replayed messages


def generate_secret() -> str:
    """A new random secret, `whsec_<base64>`."""
    key = secrets.token_bytes(SECRET_BYTES)
    return SECRET_PREFIX + base64.b64encode(key).decode()


def message_id(delivery_id: UUID) -> str:
    """The `webhook-id` of a delivery: the same on every retry and replay."""
    return f"msg_{delivery_id.hex}"


def _key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError:
        # Never echo the secret itself.
        raise InvalidRequest("a webhook secret is not valid base64") from None


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of `body` under `secret`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signed_headers(
    signing_secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers, one signature per active secret."""
    if not signing_secrets:
        raise ValueError("at least one secret must sign a webhook")
    signatures = " ".join(sign(s, msg_id, timestamp, body) for s in signing_secrets)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now_s: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> None:
    """Check a received webhook; raises SignatureMismatch. Headers keys lower case."""
    msg_id = headers.get("webhook-id", "")
    timestamp_text = headers.get("webhook-timestamp", "")
    if not msg_id or not timestamp_text.isdigit():
        raise SignatureMismatch("missing webhook-id or webhook-timestamp")
    timestamp = int(timestamp_text)
    if abs(now_s - timestamp) > tolerance_s:
        raise SignatureMismatch("webhook timestamp outside the tolerated window")
    expected = sign(secret, msg_id, timestamp, body)
    received = headers.get("webhook-signature", "").split()
    if not any(hmac.compare_digest(expected, r) for r in received):
        raise SignatureMismatch("no webhook signature matches")
