"""The claim finds the jobs it names by primary key, however many jobs are queued
and however stale the table's statistics (a batch was just bulk-loaded)."""

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.factories import make_job_body
from workers import jobs_store

pytestmark = pytest.mark.timeout(30)


def test_the_claim_reads_the_named_jobs_by_primary_key_after_a_bulk_load(
    engine: Engine, tenant: dict[str, Any]
) -> None:
    with engine.connect() as connection:
        connection.execute(text("ANALYZE jobs"))  # statistics from before the load
        connection.execute(
            text(
                "INSERT INTO jobs (id, tenant_id, status, request)"
                " SELECT gen_random_uuid(), :tenant, 'queued', CAST(:request AS jsonb)"
                " FROM generate_series(1, 5000)"
            ),
            {"tenant": tenant["id"], "request": json.dumps(make_job_body())},
        )
        connection.commit()
        # What a prepared statement runs after its fifth execution: a generic plan.
        connection.execute(text("SET plan_cache_mode = force_generic_plan"))
        claim = jobs_store._CLAIM.replace("%(job_ids)s", "$1").replace(
            "%(lease_s)s", "$2"
        )
        connection.exec_driver_sql(f"PREPARE claim (uuid[], float8) AS {claim}")
        # EXPLAIN takes no bound parameters: the id is ours, written inline.
        plan = connection.exec_driver_sql(
            f"EXPLAIN EXECUTE claim(ARRAY['{uuid.uuid4()}'::uuid], 60)"
        ).scalars()
        lines = "\n".join(plan)
        connection.rollback()

    assert "pk_jobs" in lines, lines
    assert "ix_jobs_unfinished" not in lines, lines
