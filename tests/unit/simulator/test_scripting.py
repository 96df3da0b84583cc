"""Deterministic scripting: sim/* names, -then-ok per fingerprint, /_sim/script."""

import pytest

from simulator.scripts import Effect, ScriptBook, parse_behaviour
from simulator.settings import SimulatorSettings
from tests.unit.simulator.harness import chat, running


@pytest.mark.parametrize(
    ("name", "effect", "failure", "count"),
    [
        ("ok", Effect.SUCCEED, None, None),
        ("bad-json", Effect.BAD_JSON, None, None),
        ("error-200", Effect.BREAK, None, None),
        ("503", Effect.FAIL, "503", None),
        ("429-then-ok", Effect.FAIL, "429", 1),
        ("503x2-then-ok", Effect.FAIL, "503", 2),
        ("context-lengthx3-then-ok", Effect.FAIL, "context-length", 3),
        ("echo-401", Effect.ECHO, "401", None),
        ("echo-502", Effect.ECHO, "502", None),
        ("midstream-429", Effect.BREAK, None, None),
    ],
)
def test_behaviour_names_parse(
    name: str, effect: Effect, failure: str | None, count: int | None
) -> None:
    behaviour = parse_behaviour(name)
    assert behaviour is not None
    assert (behaviour.effect, behaviour.failure) == (effect, failure)
    assert behaviour.failures_before_ok == count


@pytest.mark.parametrize(
    ("name", "status"),
    [("midstream-error", 502), ("error-200", 502), ("midstream-429", 429)],
)
def test_midstream_behaviours_carry_the_status_of_their_error_event(
    name: str, status: int
) -> None:
    behaviour = parse_behaviour(name)
    assert behaviour is not None
    assert behaviour.midstream_status == status


@pytest.mark.parametrize(
    "name",
    [
        *("401", "200", "600", "teapot", "503x-then-ok"),
        *("midstream-200", "midstream-401", "midstream-600", "midstream-"),
    ],
)
def test_meaningless_behaviour_names_are_rejected(name: str) -> None:
    assert parse_behaviour(name) is None


def test_then_ok_counts_failures_per_fingerprint() -> None:
    book = ScriptBook()
    behaviour = parse_behaviour("500x2-then-ok")
    assert behaviour is not None
    first = [book.should_fail(behaviour, "job-1") for _ in range(3)]
    other = book.should_fail(behaviour, "job-2")
    assert first == [True, True, False]
    assert other is True


async def test_429_then_ok_fails_once_per_job_then_succeeds(
    settings: SimulatorSettings,
) -> None:
    job = {"X-Helixq-Job-Id": "job-42"}
    async with running(settings) as client:
        refused = await client.complete(chat("sim/429-then-ok"), headers=job)
        served = await client.complete(chat("sim/429-then-ok", "other"), headers=job)
        other_job = await client.complete(
            chat("sim/429-then-ok"), headers={"X-Helixq-Job-Id": "job-43"}
        )
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "1"
    assert served.status == 200
    assert other_job.status == 429


async def test_then_ok_without_job_id_uses_message_hash(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        first = await client.complete(chat("sim/429-then-ok", "same"))
        second = await client.complete(chat("sim/429-then-ok", "same"))
        different = await client.complete(chat("sim/429-then-ok", "changed"))
    assert [first.status, second.status, different.status] == [429, 200, 429]


async def test_503x2_then_ok_fails_twice_then_succeeds(
    settings: SimulatorSettings,
) -> None:
    job = {"X-Helixq-Job-Id": "job-7"}
    async with running(settings) as client:
        statuses = [
            (await client.complete(chat("sim/503x2-then-ok"), headers=job)).status
            for _ in range(3)
        ]
    assert statuses == [503, 503, 200]


async def test_behaviour_header_scripts_a_real_model(
    settings: SimulatorSettings,
) -> None:
    headers = {"X-Sim-Behaviour": "502", "X-Helixq-Job-Id": "job-1"}
    async with running(settings) as client:
        response = await client.complete(chat("openai/gpt-4o"), headers=headers)
        body = await response.json()
    assert response.status == 502
    assert body["error"]["metadata"]["provider_name"] == "OpenAI"


async def test_unknown_behaviour_header_is_a_400(settings: SimulatorSettings) -> None:
    async with running(settings) as client:
        response = await client.complete(
            chat("openai/gpt-4o"), headers={"X-Sim-Behaviour": "explode"}
        )
    assert response.status == 400


async def test_queued_script_is_consumed_in_order_then_normal(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        queued = await client.session.post(
            "/_sim/script",
            json={"model": "openai/gpt-4o", "responses": [429, 500, 200, "bad-json"]},
        )
        statuses = [
            (await client.complete(chat("openai/gpt-4o"))).status for _ in range(3)
        ]
        malformed = await client.complete(chat("openai/gpt-4o"))
        normal = await client.complete(chat("openai/gpt-4o"))
        assert (await queued.json())["queued"] == 4
        assert malformed.status == 200
        assert malformed.headers["X-Generation-Id"]
        await normal.json()
    assert statuses == [429, 500, 200]


async def test_script_with_bad_entry_is_rejected(settings: SimulatorSettings) -> None:
    async with running(settings) as client:
        response = await client.session.post(
            "/_sim/script", json={"model": "openai/gpt-4o", "responses": ["nope"]}
        )
    assert response.status == 400


async def test_random_faults_follow_the_seeded_rng(settings: SimulatorSettings) -> None:
    faulty = settings.model_copy(update={"failure_rate_500": 0.5, "seed": 3})

    async def statuses() -> list[int]:
        async with running(faulty) as client:
            return [
                (await client.complete(chat("openai/gpt-4o"))).status for _ in range(12)
            ]

    first, second = await statuses(), await statuses()
    assert first == second
    assert {200, 500} == set(first)
