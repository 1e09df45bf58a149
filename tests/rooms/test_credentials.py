"""Join tokens and short codes: unguessable, parsed strictly, readable on the phone."""

import pytest

from fer.rooms import credentials


def test_a_join_token_carries_a_public_key_and_a_256_bit_secret():
    token = credentials.new_join_token()
    assert len(token.secret) >= 43  # token_urlsafe(32): 32 random bytes
    parsed = credentials.parse_join_token(str(token))
    assert parsed == token
    assert credentials.new_join_token() != token


@pytest.mark.parametrize(
    "text",
    ["", "no-separator", "a.b.c", ".secret", "key.", "key.sec ret", "key.<script>",
     "k." + "x" * 300],
)
def test_malformed_tokens_are_refused(text):
    assert credentials.parse_join_token(text) is None


def test_a_link_pasted_with_a_full_stop_or_an_invisible_character_still_parses():
    token = credentials.new_join_token()
    for pasted in (f"{token}.", f" {token}. ", f"{token}\u200b", f"\ufeff{token}",
                   f"{token.room_key}.\u200b{token.secret}"):
        assert credentials.parse_join_token(pasted) == token, repr(pasted)


def test_codes_avoid_look_alike_characters():
    for _ in range(200):
        code = credentials.new_short_code()
        assert len(code) == credentials.CODE_LENGTH
        assert not set(code) & set("01OIL")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("abcd-efgh", "ABCDEFGH"), (" ABCD EFGH ", "ABCDEFGH"), ("abcdefg", None),
     ("ABCD-EFG0", None), ("ABCDEFGHJ", None), ("", None),
     # As phones and messaging apps write them: an en dash, a non-breaking or zero-width
     # space, full-width letters.
     ("ABCD\u2013EFGH", "ABCDEFGH"), ("ABCD\u00a0EFGH", "ABCDEFGH"),
     ("ABCD\u200bEFGH", "ABCDEFGH"), ("\uff21\uff22\uff23\uff24-EFGH", "ABCDEFGH"),
     ("ABCD\u2014EFGH\u2010", "ABCDEFGH")],
)
def test_typed_codes_are_normalised(typed, expected):
    assert credentials.normalise_code(typed) == expected


def test_codes_are_shown_in_two_halves_and_digests_compare():
    assert credentials.format_code("ABCDEFGH") == "ABCD-EFGH"
    stored = credentials.digest("secret")
    assert credentials.same_digest(stored, "secret")
    assert not credentials.same_digest(stored, "Secret")
