"""What a worker checks against the database before it starts taking jobs."""

import pytest

from shared.errors import SettingsError
from workers.entrypoints import check_default_model
from workers.settings import WorkerSettings


def test_a_default_model_missing_from_the_catalog_stops_the_worker(
    worker_settings: WorkerSettings, listed_model: str
) -> None:
    typo = listed_model.replace("steady", "stedy")
    settings = worker_settings.model_copy(update={"openrouter_default_model": typo})
    with pytest.raises(SettingsError) as caught:
        check_default_model(settings)
    assert caught.value.message == (
        f"invalid OPENROUTER_DEFAULT_MODEL={typo!r}: not in the model catalog "
        f"(did you mean {listed_model!r}?)"
    )


def test_a_listed_default_model_starts_the_worker(
    worker_settings: WorkerSettings, listed_model: str
) -> None:
    settings = worker_settings.model_copy(
        update={"openrouter_default_model": f"openrouter/{listed_model}"}
    )
    check_default_model(settings)
