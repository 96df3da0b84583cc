"""HTTP for the model catalog: `GET /v1/models` (OpenAI list format)."""

from fastapi import APIRouter

from broker_api.deps import CallerDep, SessionDep
from broker_api.models import service
from broker_api.models.views import ModelList, ModelView

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("")
async def list_models(session: SessionDep, caller: CallerDep) -> ModelList:  # noqa: ARG001
    """Every listed model with its context length and exact per-token prices."""
    return await service.list_models(session)


@router.get("/{model_id:path}")
async def get_model(
    model_id: str,
    session: SessionDep,
    caller: CallerDep,  # noqa: ARG001  (authentication only)
) -> ModelView:
    """One listed model (ids contain a slash: `/v1/models/openai/gpt-4o-mini`)."""
    return await service.read_model(session, model_id)
