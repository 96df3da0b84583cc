"""The app `helixq api` serves is built in each uvicorn process, logging included."""

import gc

import pytest

from broker_api import app as app_module


class Recorder:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *_args: object) -> None:
        self.calls += 1


def test_each_served_process_configures_its_own_logging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # uvicorn's worker processes start afresh: without this, their lines would
    # bypass the format and the redaction filter.
    configure = Recorder()
    monkeypatch.setattr(app_module, "configure_logging", configure)
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/helixq")
    app_module.create_served_app()
    assert configure.calls == 1


def test_a_served_process_freezes_what_start_up_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A full collection walking every module and schema stalled the requests in
    # flight; frozen, start-up's objects are left out of collections.
    monkeypatch.setattr(app_module, "configure_logging", Recorder())
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/helixq")
    gc.unfreeze()
    try:
        app_module.create_served_app()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
