"""An independent Standard Webhooks verifier, written from the specification
(https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md)
so that tests check our signer against the spec, not against itself."""

import base64
import hashlib
import hmac
from collections.abc import Mapping

TOLERANCE_S = 5 * 60


def expected_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> bytes:
    # The key is the base64-decoded part after the `whsec_` prefix.
    key = base64.b64decode(secret.split("_", 1)[1])
    content = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return hmac.new(key, content, hashlib.sha256).digest()


def is_valid(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now_s: float,
    tolerance_s: float = TOLERANCE_S,
) -> bool:
    """True when one `v1` signature matches and the timestamp is recent enough."""
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered["webhook-id"]
    timestamp = lowered["webhook-timestamp"]
    if abs(now_s - int(timestamp)) > tolerance_s:
        return False
    wanted = expected_signature(secret, msg_id, timestamp, body)
    for versioned in lowered["webhook-signature"].split(" "):
        version, _, encoded = versioned.partition(",")
        if version == "v1" and hmac.compare_digest(base64.b64decode(encoded), wanted):
            return True
    return False
