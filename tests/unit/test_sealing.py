import pytest

from shared.sealing import SecretBox, Unreadable, fernet_keys, generate_secret_key
from shared.upstream_keys import is_openrouter_key, key_hint, key_label

KEY = "sk-or-v1-" + "0e6f" * 15 + "1c96"
PASSPHRASE = "a passphrase of thirty-two characters or more"


def test_a_sealed_key_opens_and_does_not_hold_the_key_in_clear() -> None:
    box = SecretBox(generate_secret_key())
    sealed = box.seal(KEY)
    assert KEY not in sealed
    assert KEY[9:] not in sealed
    assert box.open(sealed) == KEY


def test_the_first_key_seals_and_every_key_opens() -> None:
    old, new = generate_secret_key(), PASSPHRASE
    sealed_with_old = SecretBox(old).seal(KEY)
    rotated = SecretBox(f"{new},{old}")
    assert rotated.open(sealed_with_old) == KEY
    resealed = rotated.reseal(sealed_with_old)
    assert SecretBox(new).open(resealed) == KEY  # the old key can now be dropped
    with pytest.raises(Unreadable):
        SecretBox(old).open(resealed)


def test_a_key_not_in_the_setting_cannot_open() -> None:
    sealed = SecretBox(generate_secret_key()).seal(KEY)
    with pytest.raises(Unreadable) as caught:
        SecretBox(generate_secret_key()).open(sealed)
    assert KEY not in str(caught.value)


def test_a_short_passphrase_is_refused_by_position_never_echoed() -> None:
    with pytest.raises(ValueError, match="key 2 is neither") as caught:
        fernet_keys(f"{PASSPHRASE},short-secret")
    assert "short-secret" not in str(caught.value)


def test_a_passphrase_is_stretched_the_same_way_every_time() -> None:
    assert SecretBox(PASSPHRASE).open(SecretBox(PASSPHRASE).seal(KEY)) == KEY


@pytest.mark.parametrize(
    ("value", "shaped"),
    [
        (KEY, True),
        ("sk-or-v1-simulator-0123456789abcdef", True),
        ("hqk_acme_change_me_to_something_long", False),
        ("sk-or-v1-", False),
        ("sk-or-v1-0123456789abcdef\n", False),
        ("Bearer " + KEY, False),
    ],
)
def test_the_shape_of_an_openrouter_key(value: str, shaped: bool) -> None:
    assert is_openrouter_key(value) is shaped


def test_a_key_is_shown_by_hint_and_known_by_label_only() -> None:
    assert key_hint(KEY) == "sk-or-v1-...1c96"
    label = key_label(KEY)
    assert len(label) == 12
    assert label not in KEY
    assert key_label(KEY) == label  # tenants sharing a key share its label
    assert key_label(KEY[:-1] + "7") != label
