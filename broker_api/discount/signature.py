"""The signature OpenRouter's webhooks carry: `X-OpenRouter-Signature: t=<unix>,
v1=<hex>`, where v1 is HMAC-SHA256 keyed with the workspace's secret of
`<t>,<raw body>`. OpenRouter documents it for its video webhooks; its batch
webhooks are expected to follow it, so a callback is only ever a hint to poll."""

import hashlib
import hmac

from shared.errors import CallbackSignatureInvalid

TOLERANCE_S = 300


def check_signature(raw: bytes, header: str | None, secret: str, *, now: int) -> None:
    """Raise CallbackSignatureInvalid unless `header` signs `raw` within 300 s."""
    if not header:
        raise CallbackSignatureInvalid("no X-OpenRouter-Signature header")
    parts = dict(p.strip().split("=", 1) for p in header.split(",") if "=" in p)
    stamp, signature = parts.get("t", ""), parts.get("v1", "")
    if not stamp.isdigit() or not signature:
        raise CallbackSignatureInvalid("the header needs t=<unix> and v1=<hex>")
    if abs(now - int(stamp)) > TOLERANCE_S:
        raise CallbackSignatureInvalid(f"t is more than {TOLERANCE_S} s away")
    expected = hmac.new(
        secret.encode(), stamp.encode() + b"," + raw, hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise CallbackSignatureInvalid("v1 does not match the body")
