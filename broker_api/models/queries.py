"""SQL for the model catalog (`models` table). Query functions never commit."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.models import CatalogModel
from shared.endpoints import EMBEDDINGS_MODALITY


async def listed_models(session: AsyncSession) -> Sequence[CatalogModel]:
    result = await session.scalars(
        select(CatalogModel).where(CatalogModel.is_listed).order_by(CatalogModel.id)
    )
    return result.all()


async def find_listed_model(
    session: AsyncSession, model_id: str
) -> CatalogModel | None:
    return await session.scalar(
        select(CatalogModel).where(CatalogModel.id == model_id, CatalogModel.is_listed)
    )


async def listed_model_ids(session: AsyncSession) -> set[str]:
    """Ids routing may use: what `validate_route` checks a submission against."""
    result = await session.scalars(
        select(CatalogModel.id).where(CatalogModel.is_listed)
    )
    return set(result.all())


async def listed_embedding_model_ids(session: AsyncSession) -> set[str]:
    """The listed models served at `/embeddings` (OpenRouter's output modality)."""
    result = await session.scalars(
        select(CatalogModel.id).where(
            CatalogModel.is_listed,
            CatalogModel.output_modalities.contains([EMBEDDINGS_MODALITY]),
        )
    )
    return set(result.all())
