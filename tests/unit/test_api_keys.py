import pytest

from shared.api_keys import generate_api_key, hash_api_key, issued_from, matches
from shared.errors import InvalidRequest
from shared.tenancy import slugify


def test_generated_keys_are_unique_and_stored_only_as_prefix_and_hash() -> None:
    first, second = generate_api_key(), generate_api_key()
    assert first.key != second.key
    assert first.key.startswith(first.prefix)
    assert first.prefix.startswith("hqk_")
    assert len(first.prefix) == 12
    assert first.key_hash == hash_api_key(first.key)
    assert first.key not in first.key_hash


def test_matches_accepts_the_key_and_refuses_any_other() -> None:
    issued = generate_api_key()
    assert matches(issued.key, issued.key_hash)
    assert not matches(issued.key + "x", issued.key_hash)


def test_short_operator_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 20"):
        issued_from("short")


@pytest.mark.parametrize(
    ("name", "slug"), [("Acme Corp", "acme-corp"), ("  B2B__Team! ", "b2b-team")]
)
def test_slugify_builds_queue_safe_names(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_slugify_refuses_a_name_without_letters() -> None:
    with pytest.raises(InvalidRequest, match="no letters"):
        slugify("!!!")
