"""`GET /v1/limits`: the calling tenant's limits, quotas and usage."""

from fastapi import APIRouter, Request

from broker_api.deps import CallerDep, SessionDep, SettingsDep
from broker_api.limits.service import LimitsView, limits_view

router = APIRouter(prefix="/v1/limits", tags=["limits"])


@router.get("")
async def get_limits(
    request: Request, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> LimitsView:
    """What this tenant may do (quotas, its own and shared rate limits) and how
    much of it is in use (this month's spend, queued and running jobs)."""
    return await limits_view(
        session,
        request.app.state.redis,
        caller,
        shared_limits=settings.helixq_provider_limits,
    )
