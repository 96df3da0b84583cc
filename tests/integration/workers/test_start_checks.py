"""What a worker checks against the database before it starts taking jobs
(`helixq worker` runs the same check)."""

import pytest

from shared.configured_models import check_environment_models_at_start
from shared.errors import SettingsError
from workers.runtime.settings import WorkerSettings


def test_a_default_model_missing_from_the_catalog_stops_the_worker(
    worker_settings: WorkerSettings, listed_model: str
) -> None:
    typo = listed_model.replace("steady", "stedy")
    settings = worker_settings.model_copy(update={"openrouter_default_model": typo})
    with pytest.raises(SettingsError) as caught:
        _check_at_start(settings)
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
    _check_at_start(settings)


def test_an_unreadable_catalog_refuses_nothing(
    worker_settings: WorkerSettings, caplog: pytest.LogCaptureFixture
) -> None:
    settings = worker_settings.model_copy(
        update={
            "database_url": "postgresql://nobody@127.0.0.1:1/none",
            "openrouter_default_model": "nosuch/model",
        }
    )
    _check_at_start(settings)
    assert "configured models not checked" in caplog.text


def _check_at_start(settings: WorkerSettings) -> None:
    check_environment_models_at_start(
        settings, default_model=settings.openrouter_default_model
    )
