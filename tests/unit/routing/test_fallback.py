import pytest

from shared.routing.fallback import is_fixable_by_another_model


@pytest.mark.parametrize(
    "code",
    [
        "upstream_rate_limited",
        "upstream_unavailable",
        "upstream_timeout",
        "upstream_bad_response",
        "upstream_model_not_found",
        "upstream_context_length",
    ],
)
def test_model_side_failures_are_fixable(code):
    assert is_fixable_by_another_model(code, 400)


@pytest.mark.parametrize(
    "code",
    [
        "upstream_unauthorized",
        "upstream_payment_required",
        "upstream_bad_request",
        "upstream_forbidden",
    ],
)
def test_account_and_request_failures_are_not(code):
    assert not is_fixable_by_another_model(code, 503)


@pytest.mark.parametrize(
    ("status", "fixable"),
    [
        (429, True),
        (500, True),
        (502, True),
        (408, True),
        (404, True),
        (400, False),
        (401, False),
        (402, False),
        (403, False),
        (422, False),
    ],
)
def test_unknown_codes_fall_back_to_the_http_status(status, fixable):
    assert is_fixable_by_another_model("something_new", status) is fixable


def test_no_code_and_no_status_is_a_connection_error():
    assert is_fixable_by_another_model(None, None)


def test_codes_match_the_worker_error_classes():
    from workers.openrouter import errors

    codes = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.UpstreamError)
    }
    from shared.routing.fallback import FIXABLE_CODES, UNFIXABLE_CODES

    generic = {"upstream_error", "upstream_rejected"}
    assert codes - generic == FIXABLE_CODES | UNFIXABLE_CODES
