"""The claim finds the jobs it names by primary key, however many jobs are queued
and however stale the table's statistics (a batch was just bulk-loaded)."""

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from tests.factories import make_job_body
from workers.jobs import transitions

pytestmark = pytest.mark.timeout(30)


def test_the_claim_reads_the_named_jobs_by_primary_key_after_a_bulk_load(
    engine: Engine, tenant: dict[str, Any]
) -> None:
    with engine.connect() as connection:
        # A jobs table of this test's own (it hides the shared one on this
        # connection), so its statistics are those of a fresh install whatever
        # earlier tests left behind: analyzed empty, then a batch loaded. The
        # connection is discarded at the end, and the table with it.
        try:
            connection.execute(
                text("CREATE TEMPORARY TABLE jobs (LIKE public.jobs INCLUDING ALL)")
            )
            connection.execute(text("ANALYZE jobs"))
            connection.execute(
                text(
                    "INSERT INTO jobs (id, tenant_id, status, request)"
                    " SELECT gen_random_uuid(), :tenant, 'queued',"
                    " CAST(:request AS jsonb) FROM generate_series(1, 5000)"
                ),
                {"tenant": tenant["id"], "request": json.dumps(make_job_body())},
            )
            primary_key, others = _indexes(connection)
            plan = _generic_claim_plan(connection)
        finally:
            connection.invalidate()

    assert primary_key in plan, plan
    assert not [index for index in others if index in plan], plan


def _indexes(connection: Connection) -> tuple[str, list[str]]:
    """The temporary table's primary key index and its other indexes."""
    rows = connection.execute(
        text(
            "SELECT c.relname, i.indisprimary FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = 'pg_temp.jobs'::regclass"
        )
    ).all()
    assert len(rows) == 6, rows  # the shared table's indexes, all copied
    (primary_key,) = [name for name, primary in rows if primary]
    return primary_key, [name for name, primary in rows if not primary]


def _generic_claim_plan(connection: Connection) -> str:
    # What a prepared statement runs after its fifth execution: a generic plan.
    connection.execute(text("SET plan_cache_mode = force_generic_plan"))
    claim = transitions._CLAIM.replace("%(job_ids)s", "$1").replace("%(lease_s)s", "$2")
    connection.exec_driver_sql(f"PREPARE claim (uuid[], float8) AS {claim}")
    # EXPLAIN takes no bound parameters: the id is ours, written inline.
    plan = connection.exec_driver_sql(
        f"EXPLAIN EXECUTE claim(ARRAY['{uuid.uuid4()}'::uuid], 60)"
    ).scalars()
    return "\n".join(plan)
