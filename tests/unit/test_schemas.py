import pytest
from pydantic import ValidationError

from shared.schemas import JobCreate
from tests.factories import make_job_body


def test_completion_body_keeps_openrouter_fields_and_drops_ours() -> None:
    job = JobCreate.model_validate(
        make_job_body(
            provider={"order": ["openai"]},
            route={"strategy": "cost_optimized"},
            custom_id="row-1",
            metadata={"team": "a"},
            plugins=[{"id": "web"}],
        )
    )
    body = job.completion_body()
    assert body["provider"] == {"order": ["openai"]}
    assert body["plugins"] == [{"id": "web"}]  # unknown OpenRouter fields pass through
    assert not {"route", "custom_id", "metadata"} & body.keys()


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"messages": []}, "messages"),
        ({"temperature": 3}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"route": {"strategy": "cheapest"}}, "route"),
        ({"route": {"model_substitution": "sometimes"}}, "route"),
        ({"stream": "sometimes"}, "stream"),
        ({"route": {"first_token_timeout_s": 0}}, "route"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages"),
    ],
)
def test_invalid_bodies_name_the_field(override: dict, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        JobCreate.model_validate(make_job_body(**override))
    assert caught.value.errors()[0]["loc"][0] == field


def test_a_request_may_allow_model_substitution() -> None:
    job = JobCreate.model_validate(
        make_job_body(route={"model_substitution": "on_failure"})
    )
    assert job.route is not None
    assert job.route.model_dump(exclude_none=True) == {
        "model_substitution": "on_failure"
    }


def test_a_streamed_job_sends_stream_upstream_and_keeps_its_first_token_timeout():
    job = JobCreate.model_validate(
        make_job_body(stream=True, route={"first_token_timeout_s": 2.5})
    )
    assert job.completion_body()["stream"] is True
    assert job.route is not None
    assert job.route.first_token_timeout_s == 2.5
    assert "stream" not in JobCreate.model_validate(make_job_body()).completion_body()
