"""Jobs written straight into Postgres, each with its first attempt, for tests of
what the API reads back (dashboard, job views, fuzzing) without running a worker."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from shared.db.models import Attempt, Job, Tenant


def add_job_with_attempt(
    engine: Engine, slug: str, *, attempt: dict[str, Any], **job_columns: Any
) -> UUID:
    """Commit a job of tenant `slug` and its attempt 1; the job's id. The attempt
    is on the job's model and starts now unless `attempt` says otherwise."""
    with Session(engine) as session, session.begin():
        tenant_id = session.scalars(select(Tenant.id).where(Tenant.slug == slug)).one()
        job = Job(
            tenant_id=tenant_id,
            request={"messages": [{"role": "user", "content": "hi"}]},
            **job_columns,
        )
        session.add(job)
        session.flush()
        defaults = {"number": 1, "model": job.model, "started_at": datetime.now(UTC)}
        session.add(Attempt(job_id=job.id, **{**defaults, **attempt}))
        return job.id
