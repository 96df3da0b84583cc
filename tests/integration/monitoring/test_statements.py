"""Statements (GET /v1/usage/export, the admin's per tenant) and the
reconciliation report (GET /admin/reconciliation)."""

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import text

from tests.integration.monitoring.conftest import ADMIN_HEADERS

pytestmark = pytest.mark.anyio

NOW = datetime.now(UTC)
MONTH = NOW.strftime("%Y-%m")
MID_MONTH = NOW.replace(day=min(NOW.day, 15), hour=12)


def _month_bounds() -> tuple[str, str]:
    first = NOW.replace(day=1).date()
    following = (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else first.replace(month=first.month + 1)
    )
    last = following.toordinal() - 1
    return first.isoformat(), datetime.fromordinal(last).date().isoformat()


async def test_a_statement_lists_every_attempt_and_matches_usage(
    api, tenant, other_tenant, add_attempt
) -> None:
    costs = ("0.000000000001", "0.1", "0.2", "0.000123456789")
    for cost in costs:
        add_attempt(tenant.slug, started_at=MID_MONTH, cost_usd=Decimal(cost))
    add_attempt(other_tenant.slug, started_at=MID_MONTH, cost_usd=Decimal("7"))

    answer = await api.get(
        "/v1/usage/export", params={"month": MONTH}, headers=tenant.headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == len(costs) == int(answer.headers["x-helixq-attempts"])
    assert sorted(row["cost_usd"] for row in rows) == sorted(costs)
    total = sum(Decimal(row["cost_usd"]) for row in rows)
    first, last = _month_bounds()
    usage = (
        await api.get(
            "/v1/usage",
            params={"from": first, "to": last, "group_by": ""},
            headers=tenant.headers,
        )
    ).json()
    assert total == Decimal(usage["totals"]["cost_usd"]) == Decimal("0.300123456790")
    assert Decimal(answer.headers["x-helixq-total-cost-usd"]) == total
    assert {row["model"] for row in rows} == {"openai/gpt-4o-mini"}
    assert set(rows[0]) >= {"cost_source", "cost_note", "generation_id", "is_byok"}


async def test_jsonl_by_accept_or_format_and_the_admins_copy(
    api, tenant, add_attempt
) -> None:
    add_attempt(tenant.slug, started_at=MID_MONTH, cost_usd=Decimal("0.25"))
    by_accept = await api.get(
        "/v1/usage/export",
        params={"month": MONTH},
        headers={**tenant.headers, "Accept": "application/x-ndjson"},
    )
    by_param = await api.get(
        f"/admin/tenants/{tenant.slug}/usage/export",
        params={"month": MONTH, "format": "jsonl"},
        headers=ADMIN_HEADERS,
    )
    for answer in (by_accept, by_param):
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/jsonl")
        (line,) = [json.loads(line) for line in answer.text.splitlines()]
        assert line["cost_usd"] == "0.25"
        assert line["prompt_tokens"] == 10
    assert by_accept.text == by_param.text


async def test_a_statement_refuses_bad_input_clearly(api, tenant) -> None:
    for params, field in (
        ({"month": "2026-13"}, "month"),
        ({"month": "December"}, "month"),
        ({"month": MONTH, "format": "xml"}, "format"),
    ):
        answer = await api.get(
            "/v1/usage/export", params=params, headers=tenant.headers
        )
        assert answer.status_code in (400, 422), answer.text
        assert field in answer.text
    unknown = await api.get(
        "/admin/tenants/no-such-tenant/usage/export",
        params={"month": MONTH},
        headers=ADMIN_HEADERS,
    )
    assert unknown.status_code == 404
    refused = await api.get(
        f"/admin/tenants/{tenant.slug}/usage/export",
        params={"month": MONTH},
        headers=tenant.headers,
    )
    assert refused.status_code in (401, 403)


async def test_the_reconciliation_report_shows_sources_and_differences(
    api, tenant, add_attempt, engine
) -> None:
    job_id = add_attempt(tenant.slug, started_at=NOW, cost_usd=Decimal("0.4"))
    day = NOW.date()
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE attempts SET cost_source = 'estimated',"
                " cost_note = 'no answer recorded' WHERE job_id = :job"
            ),
            {"job": job_id},
        )
        connection.execute(
            text(
                "INSERT INTO cost_differences (day, model, upstream_key,"
                " upstream_usd, ledger_usd, difference_usd, attributed_usd,"
                " attributed_attempts, ledger_requests) VALUES (:day,"
                " 'test/reconciled', 'default', 1.5, 1.0, 0.5, 0.25, 1, 2)"
            ),
            {"day": day},
        )
    try:
        report = await api.get("/admin/reconciliation", headers=ADMIN_HEADERS)
        assert report.status_code == 200, report.text
        body = report.json()
        (row,) = [d for d in body["differences"] if d["model"] == "test/reconciled"]
        assert row["difference_usd"] == "0.5"
        assert row["unattributed_usd"] == "0.25"
        sources = {s["cost_source"]: s for s in body["ledger"]}
        assert sources["estimated"]["attempts"] >= 1
        refused = await api.get("/admin/reconciliation", headers=tenant.headers)
        assert refused.status_code in (401, 403)
    finally:
        with engine.begin() as connection:
            connection.execute(
                text("DELETE FROM cost_differences WHERE model = 'test/reconciled'")
            )
