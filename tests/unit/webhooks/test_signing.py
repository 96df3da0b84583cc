import base64
import json
import uuid

import pytest

from shared.errors import InvalidRequest
from shared.webhooks.errors import SignatureMismatch
from shared.webhooks.signing import (
    generate_secret,
    message_id,
    sign,
    signed_headers,
    verify,
)
from tests import standard_webhooks

NOW = 1_700_000_000
BODY = json.dumps({"type": "job.succeeded", "data": {"id": "x"}}).encode()


def test_secret_is_whsec_and_base64_of_32_bytes() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert generate_secret() != secret


def test_signature_matches_the_spec_test_vector() -> None:
    # The example of the Standard Webhooks reference libraries.
    signature = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_headers_verify_with_the_independent_verifier() -> None:
    secret = generate_secret()
    headers = signed_headers([secret], "msg_1", NOW, BODY)
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == str(NOW)
    assert headers["webhook-signature"].startswith("v1,")
    assert standard_webhooks.is_valid(secret, headers, BODY, now_s=NOW)


def test_rotation_sends_both_signatures_and_either_secret_verifies() -> None:
    old, new = generate_secret(), generate_secret()
    headers = signed_headers([new, old], "msg_1", NOW, BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert standard_webhooks.is_valid(old, headers, BODY, now_s=NOW)
    assert standard_webhooks.is_valid(new, headers, BODY, now_s=NOW)
    assert not standard_webhooks.is_valid(generate_secret(), headers, BODY, now_s=NOW)


def test_tampered_body_fails_verification() -> None:
    secret = generate_secret()
    headers = signed_headers([secret], "msg_1", NOW, BODY)
    tampered = BODY.replace(b'"x"', b'"y"')
    assert not standard_webhooks.is_valid(secret, headers, tampered, now_s=NOW)
    with pytest.raises(SignatureMismatch):
        verify(secret, headers, tampered, now_s=NOW)


def test_tampered_id_or_timestamp_fails_verification() -> None:
    secret = generate_secret()
    headers = signed_headers([secret], "msg_1", NOW, BODY)
    for name, value in (("webhook-id", "msg_2"), ("webhook-timestamp", str(NOW + 1))):
        changed = {**headers, name: value}
        assert not standard_webhooks.is_valid(secret, changed, BODY, now_s=NOW)


@pytest.mark.parametrize("skew_s", [-301, 301])
def test_timestamp_outside_tolerance_is_refused(skew_s: int) -> None:
    secret = generate_secret()
    headers = signed_headers([secret], "msg_1", NOW, BODY)
    assert not standard_webhooks.is_valid(secret, headers, BODY, now_s=NOW + skew_s)
    with pytest.raises(SignatureMismatch, match="timestamp"):
        verify(secret, headers, BODY, now_s=NOW + skew_s)


@pytest.mark.parametrize("skew_s", [-299, 0, 299])
def test_timestamp_within_tolerance_is_accepted(skew_s: int) -> None:
    secret = generate_secret()
    headers = signed_headers([secret], "msg_1", NOW, BODY)
    assert standard_webhooks.is_valid(secret, headers, BODY, now_s=NOW + skew_s)
    verify(secret, headers, BODY, now_s=NOW + skew_s)


def test_verify_accepts_a_rotated_pair_with_either_secret() -> None:
    old, new = generate_secret(), generate_secret()
    headers = signed_headers([new, old], "msg_1", NOW, BODY)
    verify(old, headers, BODY, now_s=NOW)
    verify(new, headers, BODY, now_s=NOW)


def test_verify_refuses_missing_headers() -> None:
    with pytest.raises(SignatureMismatch):
        verify(generate_secret(), {}, BODY, now_s=NOW)


def test_message_id_is_stable_for_a_delivery() -> None:
    delivery_id = uuid.uuid4()
    assert (
        message_id(delivery_id) == message_id(delivery_id) == f"msg_{delivery_id.hex}"
    )


def test_signing_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        signed_headers([], "msg_1", NOW, BODY)


def test_errors_never_contain_the_secret() -> None:
    secret = "whsec_not*base64*" + "s3cr3t"
    with pytest.raises(InvalidRequest) as caught:
        sign(secret, "msg_1", NOW, BODY)
    assert "s3cr3t" not in str(caught.value)
