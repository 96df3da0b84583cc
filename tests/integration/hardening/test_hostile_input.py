"""Bodies JSON or Postgres cannot carry answer a 4xx with a clear code, never a 500."""

import json

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from shared.db.models import Batch, Job, Tenant
from tests.factories import make_job_body
from tests.integration.api.conftest import TenantCredentials

pytestmark = pytest.mark.anyio

OK_MESSAGE = b'{"messages":[{"role":"user","content":"x"}]'
JSON_ROUTES = ("/v1/jobs", "/v1/chat/completions")


def _body(extra: bytes) -> bytes:
    return OK_MESSAGE + extra + b"}"


def _batch(body: bytes) -> bytes:
    return b'{"requests":[{"custom_id":"a","body":' + body + b"}]}"


REFUSED = {
    "nan": (_body(b',"temperature":NaN'), "invalid_json"),
    "infinity_nested": (_body(b',"provider":{"a":[-Infinity]}'), "invalid_json"),
    "nul_escape": (
        b'{"messages":[{"role":"user","content":"a\\u0000"}]}',
        "invalid_json",
    ),
    "lone_surrogate": (
        b'{"messages":[{"role":"user","content":"a\\ud800b"}]}',
        "invalid_json",
    ),
    "deep": (_body(b',"provider":' + b"[" * 5000 + b"]" * 5000), "json_too_deep"),
    "not_utf8": (
        b'{"messages":[{"role":"user","content":"\xff\xfe"}]}',
        "invalid_utf8",
    ),
    "overflowing_extra": (_body(b',"foo":1e400'), "number_out_of_range"),
    "overflowing_in_message": (
        b'{"messages":[{"role":"user","content":"x","weight":-1.5E+999}]}',
        "number_out_of_range",
    ),
    "overflowing_without_exponent": (
        _body(b',"foo":' + b"9" * 400 + b".0"),
        "number_out_of_range",
    ),
    "overlong_integer": (_body(b',"foo":' + b"1" * 5000), "number_out_of_range"),
}


def _rows_of(engine: Engine, slug: str) -> tuple[int, int]:
    """The tenant's jobs and batches."""
    with Session(engine) as session:
        tenant_id = session.scalars(select(Tenant.id).where(Tenant.slug == slug)).one()
        jobs = session.scalar(select(func.count()).where(Job.tenant_id == tenant_id))
        batches = session.scalar(
            select(func.count()).where(Batch.tenant_id == tenant_id)
        )
    return int(jobs or 0), int(batches or 0)


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_unsafe_json_is_422_with_a_code_on_every_json_route(
    api, tenant: TenantCredentials, engine: Engine, case: str
) -> None:
    body, code = REFUSED[case]
    headers = {**tenant.headers, "content-type": "application/json"}
    for path, content in [(p, body) for p in JSON_ROUTES] + [
        ("/v1/batches", _batch(body))
    ]:
        response = await api.post(path, content=content, headers=headers)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["code"] == code, path
    assert _rows_of(engine, tenant.slug) == (0, 0)


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_unsafe_json_lines_are_refused_in_a_jsonl_batch(
    api, tenant: TenantCredentials, engine: Engine, case: str
) -> None:
    body, code = REFUSED[case]
    headers = {**tenant.headers, "content-type": "application/jsonl"}
    line = b'{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":'
    response = await api.post(
        "/v1/batches", content=line + body + b"}\n", headers=headers
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["error"]["details"]["errors"]
    assert (error["line"], error["code"]) == (1, code)
    assert _rows_of(engine, tenant.slug) == (0, 0)


async def test_look_alikes_inside_strings_are_accepted(
    api, tenant: TenantCredentials
) -> None:
    content = 'NaN Infinity \\u0000 \\" [[[[ \U0001f600 \\ud83d\\ude00'
    response = await api.post(
        "/v1/jobs",
        content=json.dumps(
            make_job_body(messages=[{"role": "user", "content": content}])
        ).encode(),
        headers={**tenant.headers, "content-type": "application/json"},
    )
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", ""]
)
async def test_json_routes_refuse_other_content_types_with_415(
    api, tenant: TenantCredentials, content_type: str
) -> None:
    headers = {**tenant.headers, "content-type": content_type}
    for path in JSON_ROUTES:
        response = await api.post(path, content=_body(b""), headers=headers)
        assert response.status_code == 415, (path, response.text)
        assert response.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"max_tokens": 10**23}, "body.max_tokens"),
        ({"max_tokens": 0}, "body.max_tokens"),
        ({"messages": [{"role": "user", "content": "x"}] * 2001}, "body.messages"),
        ({"custom_id": "x" * 201}, "body.custom_id"),
        ({"model": "m" * 201}, "body.model"),
        ({"seed": 10**30}, "body.seed"),
    ],
)
async def test_out_of_range_fields_are_422_with_the_field_named(
    api, tenant: TenantCredentials, extra: dict[str, object], field: str
) -> None:
    response = await api.post(
        "/v1/jobs", json={**make_job_body(), **extra}, headers=tenant.headers
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in [f["field"] for f in error["details"]["fields"]]
