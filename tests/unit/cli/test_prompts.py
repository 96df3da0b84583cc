import json
from typing import Any

import pytest

from helixq.prompts import batch_lines, read_batch_lines
from shared.errors import InvalidRequest
from shared.schemas import BatchLine


def _convert(*lines: object, model: str | None = None) -> list[dict[str, Any]]:
    text = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    return [json.loads(line) for line in batch_lines(text, model=model)]


def test_a_prompt_line_becomes_a_batch_line_the_api_accepts() -> None:
    (line,) = _convert({"prompt": "Hello", "temperature": 0.2}, model="openai/x")
    assert line == {
        "custom_id": "line-1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {
            "temperature": 0.2,
            "messages": [{"role": "user", "content": "Hello"}],
            "model": "openai/x",
        },
    }
    BatchLine.model_validate(line)


def test_messages_lines_keep_their_custom_id_and_model() -> None:
    messages = [{"role": "user", "content": "hi"}]
    first, second = _convert(
        {"messages": messages, "custom_id": "mine", "model": "a/b"},
        {"messages": messages},
        model="c/d",
    )
    assert (first["custom_id"], first["body"]["model"]) == ("mine", "a/b")
    assert (second["custom_id"], second["body"]["model"]) == ("line-2", "c/d")
    assert "custom_id" not in first["body"]


def test_openai_batch_lines_pass_through_and_blank_lines_are_skipped() -> None:
    line = {
        "custom_id": "r1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"messages": [{"role": "user", "content": "hi"}]},
    }
    assert _convert("", line, "   ") == [line]


def test_custom_ids_follow_the_file_line_numbers() -> None:
    ids = [line["custom_id"] for line in _convert({"prompt": "a"}, "", {"prompt": "b"})]
    assert ids == ["line-1", "line-3"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 1: not JSON"),
        ("[1, 2]", "line 1: expected a JSON object"),
        ('{"text": "hi"}', "line 1: expected `messages`, `prompt`"),
        ('{"prompt": ""}', "line 1: prompt must be a non-empty string"),
        ('{"custom_id": "x", "body": "hi"}', "line 1: body must be a JSON object"),
    ],
)
def test_bad_lines_name_their_line_number(line: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        batch_lines([line], model=None)


def test_missing_and_empty_files_are_usage_errors(tmp_path) -> None:
    with pytest.raises(InvalidRequest, match="cannot read"):
        read_batch_lines(str(tmp_path / "nope.jsonl"), model=None)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(InvalidRequest, match="holds no requests"):
        read_batch_lines(str(empty), model=None)
