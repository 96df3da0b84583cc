"""check_json reads raw bytes: tokens inside strings never count."""

import pytest

from broker_api.json_guard import check_json, json_only_operations
from shared.errors import InvalidJson, JsonTooDeep, NotUtf8


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": "NaN Infinity [[[[ {{{{"}',
        b'{"a": "\\\\u0000"}',  # an escaped backslash, then the text u0000
        b'{"a": "\\ud83d\\ude00"}',  # a surrogate pair is one character
        b'{"a": [[1]], "b": -1e308}',
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
