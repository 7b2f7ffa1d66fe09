"""The source locator: line numbers of keys, tables and array elements in valid TOML."""

from __future__ import annotations

import tomllib

import tomlkit
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.agreement.locate import SourceLocator

TRICKY = '''\
# [not] a = "header"
title = "x # not a comment"            # 2
text = """
[fake.header]
key = "inside a string" \\"""
"""
literal = \'\'\'
[[also.fake]]
\'\'\'
quotes = """ends with two quotes"" """
"quoted.key" = 1                      # 11
dotted . key = 2                      # 12

[table]                                # 14
list = [                               # 15
  "a", # comment with ] and [
  [1, 2],                              # 17
  { inline = "}" },                    # 18
]
inline = { a = 1, "b.c" = { d = 2 } }  # 20

[[parties]]                            # 22
name = "alice"
[[parties]]                            # 24

name = "bob"                           # 26
[parties.extra]                        # 27
note = 'x'                             # 28

[table.sub]                            # 30
when = 1979-05-27 07:32:00Z            # 31
after = true                           # 32
'''


def test_tricky_document_is_valid_toml() -> None:
    tomllib.loads(TRICKY)


def test_keys_are_found_on_their_lines() -> None:
    locate = SourceLocator(TRICKY)
    expected = {
        ("title",): 2,
        ("text",): 3,
        ("literal",): 7,
        ("quotes",): 10,
        ("quoted.key",): 11,
        ("dotted",): 12,
        ("dotted", "key"): 12,
        ("table",): 14,
        ("table", "list"): 15,
        ("table", "list", 0): 16,
        ("table", "list", 1): 17,
        ("table", "list", 1, 1): 17,
        ("table", "list", 2, "inline"): 18,
        ("table", "inline", "b.c", "d"): 20,
        ("parties",): 22,
        ("parties", 0): 22,
        ("parties", 0, "name"): 23,
        ("parties", 1): 24,
        ("parties", 1, "name"): 26,
        ("parties", 1, "extra"): 27,
        ("parties", 1, "extra", "note"): 28,
        ("table", "sub"): 30,
        ("table", "sub", "when"): 31,
        ("table", "sub", "after"): 32,
    }
    assert {path: locate.line_of(path) for path in expected} == expected


def test_strings_do_not_open_tables() -> None:
    locate = SourceLocator(TRICKY)
    assert not locate.has(("fake",))
    assert not locate.has(("also",))
    assert [header.line for header in locate.headers] == [14, 22, 24, 27, 30]
    assert [header.is_array for header in locate.headers] == [False, True, True, False, False]


def test_absent_paths_fall_back_to_the_nearest_ancestor() -> None:
    locate = SourceLocator(TRICKY)
    assert locate.line_of(("parties", 1, "signing_key")) == 24
    assert locate.line_of(("table", "missing", "deeper")) == 14
    assert locate.line_of(("nowhere",)) == 1


def test_windows_line_endings_count_the_same() -> None:
    text = TRICKY.replace("\n", "\r\n")
    tomllib.loads(text)
    assert SourceLocator(text).line_of(("table", "sub", "after")) == 32


def test_invalid_input_does_not_hang() -> None:
    for text in ('a = "unterminated', "[[x", "a = [1, 2", "= 3", 'a = """x'):
        SourceLocator(text).line_of(("a",))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab =.,\"'#[]{}\n\\\t1", max_size=40))
def test_any_text_is_scanned_without_hanging_or_crashing(text: str) -> None:
    locate = SourceLocator(text)
    assert locate.line_of(("a",)) >= 1


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True),
            st.one_of(st.integers(), st.text(max_size=10), st.lists(st.booleans(), max_size=3)),
            st.integers(min_value=0, max_value=2),
        ),
        min_size=1,
        max_size=8,
        unique_by=lambda item: item[0],
    )
)
def test_keys_of_generated_documents_are_located(
    entries: list[tuple[str, object, int]],
) -> None:
    lines: list[str] = []
    expected: dict[tuple[str, ...], int] = {}
    for key, value, blank_lines in entries:
        lines += ["# comment [x]"] + [""] * blank_lines
        lines.append(f"{key} = {tomlkit.item(value).as_string()}")
        expected[(key,)] = len(lines)
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)
    locate = SourceLocator(text)
    assert {path: locate.line_of(path) for path in expected} == expected
