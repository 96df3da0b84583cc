"""One redaction for logs, stored upstream text and served text: shapes, configured
secrets in any form, excerpts and JSON."""

import pytest
from pydantic import BaseModel

from shared.redaction import RedactedJson, RedactedText, Redactor, redact

# A configured key of no known shape: only its configured value can find it.
KEY = "or-live-0123456789abcdefghijklmnopqrstuv"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic ***"),
        ('{"authorization": "Token abc123456"}', '{"authorization": "Token ***"}'),
        ("x-api-key: 0123456789abcdef", "x-api-key: ***"),
        ("api_key=0123456789abcdef&x=1", "api_key=***&x=1"),
        ("GET /?auth=Bearer%20tok3n", "GET /?auth=Bearer%20***"),
        ("openai said sk-proj-AbCdEfGhIjKlMnOpQrSt", "openai said sk-***"),
        ("(Bearer abc.def)", "(Bearer ***)"),
        (
            "risk-assessment-of-the-quarterly-plan",
            "risk-assessment-of-the-quarterly-plan",
        ),
    ],
)
def test_redact_masks_header_values_and_provider_key_shapes(
    text: str, masked: str
) -> None:
    assert redact(text) == masked


def test_a_configured_secret_is_masked_whole_and_cut_short() -> None:
    redactor = Redactor([KEY])

    assert redactor.redact(f"key={KEY}.") == "key=***."
    assert redactor.redact(f"key {KEY[:20]}... rejected") == "key ***... rejected"


def test_a_configured_secret_cut_before_its_label_length_stays() -> None:
    # OpenRouter shows a key's first 12 characters as its label: no secret there.
    assert Redactor([KEY]).redact(f"label {KEY[:11]}...") == f"label {KEY[:11]}..."


def test_a_configured_secret_is_masked_url_and_json_encoded() -> None:
    secret = "clé/secrète+0123456789"
    redactor = Redactor([secret])

    assert redactor.redact("?k=cl%C3%A9%2Fsecr%C3%A8te%2B0123456789&x") == "?k=***&x"
    assert redactor.redact(r'{"k": "cl\u00e9/secr\u00e8te+0123456789"}') == (
        '{"k": "***"}'
    )


def test_excerpt_is_redacted_before_it_is_cut_and_fits_one_line() -> None:
    text = "Authorization:\n  Bearer " + KEY + "\n" + "x" * 500

    excerpt = Redactor([KEY]).excerpt(text, max_chars=40)

    assert excerpt.startswith("Authorization: Bearer ***")
    assert len(excerpt) == 40
    assert excerpt.endswith("…")


def test_excerpt_shows_no_start_of_a_secret_that_straddles_the_cut() -> None:
    excerpt = Redactor([KEY]).excerpt("x" * 30 + " " + KEY, max_chars=40)

    assert excerpt == "x" * 30 + " ***"


def test_excerpt_keeps_short_text_whole() -> None:
    assert Redactor().excerpt("  Bad\n Gateway ", max_chars=40) == "Bad Gateway"


def test_redact_json_masks_every_string_and_keeps_the_rest() -> None:
    value = {
        "data": {"error": {"message": f"Bearer {KEY}", "code": 401}},
        "list": [f"token {KEY[:14]}", 2.5, None, True],
    }

    assert Redactor([KEY]).redact_json(value) == {
        "data": {"error": {"message": "Bearer ***", "code": 401}},
        "list": ["token ***", 2.5, None, True],
    }


def test_redacted_fields_mask_stored_text_on_the_way_out() -> None:
    class View(BaseModel):
        message: RedactedText
        payload: RedactedJson

    view = View(
        message="Invalid credentials: Bearer sk-or-v1-leaked",
        payload={"error": {"message": "Bearer sk-or-v1-leaked"}},
    )

    assert view.message == "Invalid credentials: Bearer ***"
    assert view.payload == {"error": {"message": "Bearer ***"}}
