"""Run `async def` tests with asyncio.run (pytest-asyncio is not a dependency)."""

import asyncio
import inspect

import pytest

from simulator.settings import SimulatorSettings


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Drive coroutine tests on a fresh event loop each."""
    test = pyfuncitem.obj
    if not inspect.iscoroutinefunction(test):
        return None
    names = inspect.signature(test).parameters
    asyncio.run(test(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True


@pytest.fixture
def settings() -> SimulatorSettings:
    """Settings with no latency and no env file, so tests are fast and hermetic."""
    return SimulatorSettings(_env_file=None, latency_ms=0, seed=7)
