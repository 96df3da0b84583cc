"""Simulator tests that need real sockets: async tests run on a fresh loop each."""

from tests.unit.simulator.conftest import pytest_pyfunc_call, settings
from tests.webhook_receiver import receiver

__all__ = ["pytest_pyfunc_call", "receiver", "settings"]
