"""Catalog use cases for tenants: list the models, read one."""

from sqlalchemy.ext.asyncio import AsyncSession

from broker_api.models import queries
from broker_api.models.views import ModelList, ModelView, model_view
from shared.errors import NotFound
from shared.model_ids import upstream_model_id


async def list_models(session: AsyncSession) -> ModelList:
    async with session.begin():
        rows = await queries.listed_models(session)
        return ModelList(data=[model_view(row) for row in rows])


async def read_model(session: AsyncSession, model_id: str) -> ModelView:
    """One listed model; raises NotFound for an unknown or unlisted id."""
    async with session.begin():
        row = await queries.find_listed_model(session, upstream_model_id(model_id))
        if row is None:
            raise NotFound(f"model {model_id!r} not found", details={"model": model_id})
        return model_view(row)
