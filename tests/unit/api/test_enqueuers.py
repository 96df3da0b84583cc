"""The production enqueuer and the tests' one offer exactly the Enqueuer Protocol,
with the same signatures: a route cannot call a method that only the tests' fake
has (mypy holds CeleryEnqueuer to the Protocol where the app stores it)."""

import inspect

import pytest

from broker_api.enqueue import CeleryEnqueuer, Enqueuer
from tests.recording_enqueuer import RecordingEnqueuer


def _public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


@pytest.mark.parametrize("implementation", [CeleryEnqueuer, RecordingEnqueuer])
def test_enqueuer_offers_exactly_the_protocol(implementation: type) -> None:
    assert _public_methods(implementation) == _public_methods(Enqueuer)
