"""Free text that would display otherwise than it is signed is refused, naming the character.

A bidirectional override in an agreement's name can make ``accord agreement show`` print
"approvals: all" where the signed bytes say something else; zero-width characters, C1
controls and Unicode line separators hide or break text the same way. The parser refuses
them with the line and the code point, and messages that quote file text escape them.
"""

from __future__ import annotations

import dataclasses

import pytest
from agreement_helpers import BASE, line_of, parse, refused, replace_once

from accord.agreement.display import describe_character, escape_unsafe, find_unsafe_character
from accord.errors import UsageError

NAME = 'name = "Mushroom study"'
DESCRIPTION = 'description = "Train a classifier on the joint mushroom data."'
CONTACT = 'contact = "ops@alice.example"'

REFUSED = {
    "\u202e": "U+202E RIGHT-TO-LEFT OVERRIDE",
    "\u202a": "U+202A LEFT-TO-RIGHT EMBEDDING",
    "\u2066": "U+2066 LEFT-TO-RIGHT ISOLATE",
    "\u2069": "U+2069 POP DIRECTIONAL ISOLATE",
    "\u200b": "U+200B ZERO WIDTH SPACE",
    "\u200d": "U+200D ZERO WIDTH JOINER",
    "\ufeff": "U+FEFF ZERO WIDTH NO-BREAK SPACE",
    "\u00ad": "U+00AD SOFT HYPHEN",
    "\U000e0041": "U+E0041 TAG LATIN CAPITAL LETTER A",
    "\u0085": "U+0085 (a control character)",
    "\u009b": "U+009B (a control character)",
    "\x1b": "U+001B (a control character)",
    "\x7f": "U+007F (a control character)",
    "\r": "U+000D (a control character)",
    "\u2028": "U+2028 LINE SEPARATOR",
    "\u2029": "U+2029 PARAGRAPH SEPARATOR",
}


def toml_escape(char: str) -> str:
    return f"\\u{ord(char):04X}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08X}"


@pytest.mark.parametrize("char", sorted(REFUSED), ids=[f"U+{ord(c):04X}" for c in sorted(REFUSED)])
@pytest.mark.parametrize(
    ("original", "key", "line", "table"),
    [
        (NAME, "name", 4, "[agreement]"),
        (DESCRIPTION, "description", 6, "[agreement]"),
        (CONTACT, "contact", 12, "[[parties]] entry 1"),
    ],
)
def test_invisible_and_control_characters_in_free_text_are_refused(
    char: str, original: str, key: str, line: int, table: str
) -> None:
    escaped = f'{key} = "ok{toml_escape(char)}then"'
    error = refused(
        replace_once(BASE, original, escaped),
        line,
        f"'{key}' in {table} contains {REFUSED[char]} (character 3)",
        "display otherwise than it is signed",
    )
    assert char not in str(error)


def test_the_reviewers_spoofed_name_is_refused_at_its_first_override() -> None:
    evil = "study\u202e\u2066 approvals: all\u2069\u200b\u0085\u2028line2"
    text = replace_once(BASE, NAME, f'name = "{"".join(map(toml_escape, evil))}"')
    refused(text, 4, "contains U+202E RIGHT-TO-LEFT OVERRIDE (character 6)")


def test_raw_characters_in_the_file_are_refused_like_escapes() -> None:
    text = replace_once(BASE, NAME, 'name = "Mushroom\u2066 study"')
    refused(text, 4, "contains U+2066 LEFT-TO-RIGHT ISOLATE (character 9)")


def test_a_lone_surrogate_given_as_python_text_is_refused() -> None:
    text = replace_once(BASE, NAME, 'name = "Mushroom\ud800"')
    refused(text, 4, "contains U+D800 (a lone surrogate)")


def test_tabs_and_description_newlines_are_still_text() -> None:
    text = replace_once(BASE, NAME, 'name = "Mushroom\\tstudy"')
    text = replace_once(text, DESCRIPTION, 'description = """Line one.\n\tLine two."""')
    agreement = parse(text)
    assert agreement.name == "Mushroom\tstudy"
    assert agreement.description == "Line one.\n\tLine two."


def test_newlines_are_refused_outside_the_description() -> None:
    refused(replace_once(BASE, CONTACT, 'contact = "ops\\nroot"'), 12, "must be one line")


def test_ordinary_non_ascii_text_is_accepted() -> None:
    text = replace_once(BASE, NAME, 'name = "Étude des champignons — 蘑菇 🍄"')
    assert parse(text).name == "Étude des champignons — 蘑菇 🍄"


def test_a_signature_entry_that_is_not_a_party_name_is_refused_and_escaped() -> None:
    text = BASE + '"mallory\\u202e" = "' + "A" * 86 + '=="\n'
    error = refused(text, BASE.count("\n") + 1, "[signatures] holds an entry for 'mallory")
    assert "\u202e" not in error.message
    assert "mallory\\u202e" in error.message


def test_messages_quoting_file_text_escape_what_they_quote() -> None:
    error = refused('"x\\u202eyz" = 1\n' + BASE, 1, "unknown key 'x\\u202eyz' in the top level")
    assert "\u202e" not in error.message
    error = refused(f'"{"k" * 5000}" = 1\n' + BASE, 1, "unknown key 'kkkk", "(5000 characters)")
    assert len(error.message) < 300


def test_long_quoted_values_are_cut_in_messages() -> None:
    text = replace_once(BASE, 'backends = ["sgx-dcap"]', f'backends = ["{"x" * 5000}"]')
    line = line_of(text, "backends = [")
    error = refused(text, line, "unknown attestation backend 'xxxx", "... (5000 characters)")
    assert len(error.message) < 300


@pytest.mark.parametrize("field", ["name", "description"])
def test_agreements_built_in_code_refuse_the_same_characters(field: str) -> None:
    with pytest.raises(UsageError) as caught:
        dataclasses.replace(parse(BASE), **{field: "a\u202eb"})
    assert f"the {field} of agreement.toml contains U+202E RIGHT-TO-LEFT OVERRIDE" in (
        caught.value.message
    )


def test_escape_unsafe_makes_every_unsafe_character_visible() -> None:
    assert escape_unsafe("plain text, ünïcode") == "plain text, ünïcode"
    assert escape_unsafe("a\u202eb\x85c\U000e0041\n") == "a\\u202eb\\x85c\\U000e0041\\x0a"
    for char in REFUSED:
        assert find_unsafe_character(escape_unsafe(f"x{char}y")) is None


def test_describe_character_names_the_code_point() -> None:
    assert describe_character("\u2069") == "U+2069 POP DIRECTIONAL ISOLATE"
    assert describe_character("\x00") == "U+0000 (a control character)"
    assert find_unsafe_character("a\tb\nc", allowed="\t\n") is None
    assert find_unsafe_character("a\tb\nc", allowed="\t") == 3
