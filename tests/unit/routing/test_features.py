import pytest

from shared.routing.classifier import RequestClass, classify
from shared.routing.features import estimate_prompt_tokens, extract_features


def test_prompt_tokens_are_chars_over_four_plus_message_overhead():
    messages = [
        {"role": "user", "content": "x" * 40},
        {"role": "system", "content": "y"},
    ]
    assert estimate_prompt_tokens(messages) == 11 + 8


def test_content_parts_count_their_text_only():
    messages = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "abcd"}, {"type": "image_url"}],
        }
    ]
    assert estimate_prompt_tokens(messages) == 1 + 4


def test_context_tokens_include_the_output_limit():
    features = extract_features(
        {"messages": [{"role": "user", "content": "abcd"}], "max_tokens": 100}
    )
    assert features.context_tokens == 5 + 100


def test_max_completion_tokens_wins_over_max_tokens():
    features = extract_features(
        {"messages": [], "max_tokens": 10, "max_completion_tokens": 20}
    )
    assert features.max_output_tokens == 20


def test_text_response_format_is_not_structured_output():
    assert not extract_features(
        {"messages": [], "response_format": {"type": "text"}}
    ).has_response_format
    assert extract_features(
        {"messages": [], "response_format": {"type": "json_object"}}
    ).has_response_format


def _classify(request):
    return classify(extract_features(request)).request_class


def _say(text: str, **fields):
    return {"messages": [{"role": "user", "content": text}], **fields}


@pytest.mark.parametrize(
    ("request_body", "expected"),
    [
        (_say("hi there, how are you?"), RequestClass.CHAT),
        (_say("fix this:\n```py\nprint(1)\n```"), RequestClass.CODE),
        (_say("why does def load(path): fail?"), RequestClass.CODE),
        (_say("Prove that the square root of 2 is irrational"), RequestClass.REASONING),
        (_say("hello", reasoning={"effort": "high"}), RequestClass.REASONING),
        (
            _say("weather?", tools=[{"type": "function", "function": {"name": "w"}}]),
            RequestClass.STRUCTURED,
        ),
        (
            _say("list three", response_format={"type": "json_object"}),
            RequestClass.STRUCTURED,
        ),
        (_say("summarise " + "word " * 20_000), RequestClass.LONG_CONTEXT),
        (_say("short", max_tokens=20_000), RequestClass.LONG_CONTEXT),
    ],
)
def test_classifier_assigns_each_class(request_body, expected):
    assert _classify(request_body) == expected


def test_long_context_wins_over_code_and_tools():
    body = _say("```py\n" + "x = 1\n" * 20_000 + "```", tools=[{"type": "function"}])
    assert _classify(body) == RequestClass.LONG_CONTEXT


def test_structured_wins_over_code():
    body = _say("```py\nprint(1)\n```", response_format={"type": "json_schema"})
    assert _classify(body) == RequestClass.STRUCTURED


def test_code_wins_over_reasoning_words():
    assert (
        _classify(_say("explain why `import os` fails step by step\n```\n```"))
        == RequestClass.CODE
    )


def test_classification_names_its_rule():
    assert "tools" in classify(extract_features(_say("x", tools=[{}]))).reason
