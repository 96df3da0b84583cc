"""check_json reads raw bytes: tokens inside strings never count."""

import pytest

from broker_api.json_guard import (
    MAX_INTEGER_DIGITS,
    check_json,
    json_only_operations,
)
from shared.errors import InvalidJson, JsonTooDeep, NotUtf8, NumberOutOfRange


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": "NaN Infinity [[[[ {{{{"}',
        b'{"a": "\\\\u0000"}',  # an escaped backslash, then the text u0000
        b'{"a": "\\ud83d\\ude00"}',  # a surrogate pair is one character
        b'{"a": [[1]], "b": -1e308}',
        b'{"a": "1e400", "1e999": 1.7976931348623157e308, "b": 1e-400}',
        b"[" + b"9" * MAX_INTEGER_DIGITS + b", 0." + b"9" * 5000 + b"]",
        b"[1.5e3, -2E-7, 12.5e+1, 0e99999]",
        b"",
    ],
)
def test_safe_bodies_pass(body: bytes) -> None:
    check_json(body)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"a": NaN}', InvalidJson),
        (b'{"a": [1, -Infinity]}', InvalidJson),
        (b'{"a": "x\\u0000"}', InvalidJson),
        (b'{"a": "\\ud800"}', InvalidJson),
        (b'{"a": "\xc3\x28"}', NotUtf8),
        (b"[" * 65 + b"]" * 65, JsonTooDeep),
        (b'{"a": 1e400}', NumberOutOfRange),
        (b'{"a": ["x", -1.5E+309]}', NumberOutOfRange),
        (b"[" + b"9" * 309 + b".5]", NumberOutOfRange),
        (b"[" + b"1" * (MAX_INTEGER_DIGITS + 1) + b"]", NumberOutOfRange),
        (b"1e400", NumberOutOfRange),
    ],
)
def test_unsafe_bodies_raise(body: bytes, error: type[InvalidJson]) -> None:
    with pytest.raises(error):
        check_json(body)


def test_depth_limit_is_inclusive() -> None:
    check_json(b"[" * 64 + b"]" * 64)


def test_json_only_operations_skip_multi_type_bodies() -> None:
    schema = {
        "paths": {
            "/v1/jobs/{job_id}": {
                "post": {"requestBody": {"content": {"application/json": {}}}}
            },
            "/v1/batches": {
                "post": {
                    "requestBody": {
                        "content": {"application/json": {}, "application/jsonl": {}}
                    }
                }
            },
        }
    }
    [(method, pattern)] = json_only_operations(schema)
    assert method == "POST"
    assert pattern.fullmatch("/v1/jobs/abc")
    assert not pattern.fullmatch("/v1/jobs/abc/def")


def test_an_out_of_range_number_is_named_shortly() -> None:
    with pytest.raises(NumberOutOfRange) as raised:
        check_json(b"[" + b"7" * 5000 + b"]")
    assert raised.value.details == {"number": "7" * 20 + "…"}
    assert "5000 digits" in raised.value.message
