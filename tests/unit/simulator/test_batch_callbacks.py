"""The callback signature (its delivery: tests/integration/simulator)."""

import hashlib
import hmac
import json

from simulator.batches.callbacks import signature_header


def _documented_check(raw: bytes, header: str, secret: str, now: int) -> bool:
    """The verification OpenRouter documents for its webhooks, written out again."""
    pairs = dict(
        part.strip().split("=", 1) for part in header.split(",") if "=" in part
    )
    stamp, signature = pairs.get("t"), pairs.get("v1")
    if not stamp or not signature or abs(now - int(stamp)) > 300:
        return False
    mac = hmac.new(secret.encode(), stamp.encode() + b"," + raw, hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), signature)


def test_signature_follows_the_documented_scheme() -> None:
    raw = json.dumps({"type": "batch.completed", "data": {"id": "batch-1"}}).encode()
    header = signature_header("whsec-test", 1_800_000_000, raw)
    assert header.startswith("t=1800000000,v1=")
    assert _documented_check(raw, header, "whsec-test", 1_800_000_100)
    assert not _documented_check(raw + b" ", header, "whsec-test", 1_800_000_100)
    assert not _documented_check(raw, header, "other", 1_800_000_100)
