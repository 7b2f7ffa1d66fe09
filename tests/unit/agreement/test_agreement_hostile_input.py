"""Agreement files built to crash or exhaust the parser, and creation times it cannot keep.

Each is refused with a :class:`ConfigurationError` naming the file, the line where it can, and
the limit, never with a RecursionError or OverflowError, and quickly: the checks run before
:mod:`tomllib`, whose time is quadratic in the parts of a dotted key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from agreement_helpers import BASE, SOURCE, parse, refused, replace_once

from accord.agreement import load_agreement
from accord.agreement.canonical import canonical_form
from accord.agreement.locate import MAX_KEY_PARTS, MAX_NESTING, SourceLocator
from accord.agreement.parse import MAX_AGREEMENT_BYTES
from accord.errors import ConfigurationError, UsageError

CREATED = "created = 2025-06-01T12:00:00Z"
TOO_LARGE = (
    f"{SOURCE}: the agreement is larger than the limit of {MAX_AGREEMENT_BYTES} bytes (256 KiB)"
)


def dotted(parts: int) -> str:
    return ".".join(["a"] * parts)


# -- size ----------------------------------------------------------------------------------


def test_text_over_the_size_limit_is_refused() -> None:
    text = BASE + "#" * (MAX_AGREEMENT_BYTES - len(BASE) + 1)
    with pytest.raises(ConfigurationError) as caught:
        parse(text)
    assert caught.value.message == TOO_LARGE


def test_the_limit_counts_utf8_bytes_not_characters() -> None:
    text = BASE + "#" + "\u00e9" * ((MAX_AGREEMENT_BYTES - len(BASE)) // 2 + 1)
    assert len(text) <= MAX_AGREEMENT_BYTES
    with pytest.raises(ConfigurationError, match="larger than the limit"):
        parse(text)


def test_a_file_at_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "agreement.toml"
    path.write_text(BASE + "#" * (MAX_AGREEMENT_BYTES - len(BASE.encode()) - 1) + "\n")
    assert path.stat().st_size == MAX_AGREEMENT_BYTES
    assert load_agreement(path) == parse(BASE)


def test_a_larger_file_is_refused_without_being_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "agreement.toml"
    path.write_text(BASE + "#" * (8 * MAX_AGREEMENT_BYTES) + "\n")
    with pytest.raises(ConfigurationError) as caught:
        load_agreement(path)
    assert caught.value.message == TOO_LARGE.replace(SOURCE, str(path))


# -- dotted keys and nesting -----------------------------------------------------------------


@pytest.mark.timeout(30)  # a hang guard only: without the limit this takes tens of seconds
def test_the_reviewers_80_kb_dotted_key_is_refused_before_tomllib() -> None:
    text = "a" + ".a" * 40000 + " = 1\n"
    refused(text, 1, f"a dotted key or table name has more than {MAX_KEY_PARTS} parts")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (BASE + f"\n{dotted(MAX_KEY_PARTS + 1)} = 1\n", BASE.count("\n") + 2),
        (f"[{dotted(MAX_KEY_PARTS + 1)}]\n", 1),
        (f"[[{dotted(MAX_KEY_PARTS + 1)}]]\n", 1),
        (f"x = {{ {dotted(MAX_KEY_PARTS + 1)} = 1 }}\n", 1),
        (f'"a".a . "a" . a{".a" * (MAX_KEY_PARTS - 3)}\n', 1),  # no "=": not TOML either
    ],
    ids=["key", "table", "array-of-tables", "inline-table", "quoted-and-spaced"],
)
def test_keys_of_more_parts_than_the_limit_are_refused(text: str, line: int) -> None:
    refused(text, line, f"more than {MAX_KEY_PARTS} parts")


def test_keys_at_the_limit_reach_the_schema_checks() -> None:
    refused(f"{dotted(MAX_KEY_PARTS)} = 1\n", 1, "unknown key 'a' in the top level")


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "value",
    [
        "[" * 1000 + "]" * 1000,
        "[" * 100000 + "]" * 100000,
        "{b=" * 1000 + "1" + "}" * 1000,
        "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1),
        "[{a=" * 9 + "1" + "}]" * 9,
    ],
    ids=["arrays-1000", "arrays-100000", "inline-tables-1000", "limit-plus-one", "mixed"],
)
def test_values_nested_deeper_than_the_limit_are_refused(value: str) -> None:
    text = f"# a comment\na = {value}\n"
    refused(text, 2, f"arrays and inline tables are nested more than {MAX_NESTING} deep")


def test_nesting_at_the_limit_reaches_the_schema_checks() -> None:
    value = "[" * MAX_NESTING + "]" * MAX_NESTING
    refused(f"a = {value}\n", 1, "unknown key 'a' in the top level")


def test_limits_are_not_fooled_by_strings_and_comments() -> None:
    deep = "[" * 100
    text = replace_once(
        BASE,
        'description = "Train a classifier on the joint mushroom data."',
        f"description = '{deep} {dotted(100)}' # {deep} {dotted(100)}",
    )
    assert parse(text).description == f"{deep} {dotted(100)}"


def test_the_locator_records_the_limit_and_stops() -> None:
    locator = SourceLocator(f"x = 1\ny = 2\n{dotted(MAX_KEY_PARTS + 1)} = 3\nz = 4\n")
    assert locator.limit_exceeded is not None
    assert locator.limit_exceeded.line == 3
    assert locator.line_of(("y",)) == 2
    assert not locator.has(("z",))


# -- the creation time ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "created",
    [
        "0001-01-01T00:30:00+01:00",
        "9999-12-31T23:30:00-01:00",
        "1999-12-31T23:59:59Z",
        "2000-01-01T00:30:00+01:00",
    ],
)
def test_creation_times_outside_the_range_are_refused(created: str) -> None:
    text = replace_once(BASE, CREATED, f"created = {created}")
    refused(text, 5, "'created' in [agreement] is ", "must lie between 2000-01-01T00:00:00Z")


@pytest.mark.parametrize(
    ("created", "canonical"),
    [
        ("2000-01-01T00:00:00Z", "2000-01-01T00:00:00Z"),
        ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"),
        ("2025-06-01T12:00:00.123456+02:00", "2025-06-01T10:00:00.123456Z"),
        ("2025-06-01T12:00:00.5Z", "2025-06-01T12:00:00.500000Z"),
    ],
)
def test_creation_times_in_range_are_kept_to_the_microsecond(created: str, canonical: str) -> None:
    agreement = parse(replace_once(BASE, CREATED, f"created = {created}"))
    assert canonical_form(agreement)["agreement"]["created"] == canonical


@pytest.mark.parametrize("fraction", ["0000009", "1234567", "0" * 40])
def test_more_than_six_fractional_digits_are_refused(fraction: str) -> None:
    text = replace_once(BASE, CREATED, f"created = 2025-06-01T12:00:00.{fraction}Z # note")
    refused(text, 5, "more than 6 digits of fractional seconds")


def test_the_fraction_of_created_is_found_in_inline_tables_too() -> None:
    block = BASE[BASE.index("[agreement]") : BASE.index("\n\n") + 1]
    inline = (
        'agreement = { format = "accord-agreement/v1", name = "at 12:00:00.1234567", '
        "created = 2025-06-01T12:00:00.1234567Z }\n"
    )
    refused(replace_once(BASE, block, inline), 2, "more than 6 digits of fractional seconds")


def test_a_fraction_in_a_string_is_only_text() -> None:
    text = replace_once(BASE, 'name = "Mushroom study"', 'name = "at 12:00:00.1234567"')
    assert parse(text).name == "at 12:00:00.1234567"


def test_agreements_built_in_code_refuse_times_that_overflow() -> None:
    agreement = parse(BASE)
    year_one = dt.datetime(1, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    with pytest.raises(UsageError, match="must lie between 2000-01-01T00:00:00Z"):
        dataclasses.replace(agreement, created=year_one)


def test_the_locator_gives_the_written_text_of_scalars_only() -> None:
    locator = SourceLocator(
        'a = 1979-05-27T07:32:00.9999999Z  # note\nb = "x"\nc = [1, 2]\nd = { e = true }\n'
    )
    assert locator.value_text(("a",)) == "1979-05-27T07:32:00.9999999Z"
    assert locator.value_text(("c", 1)) == "2"
    assert locator.value_text(("d", "e")) == "true"
    assert locator.value_text(("b",)) is None
    assert locator.value_text(("c",)) is None
    assert locator.value_text(("missing",)) is None
