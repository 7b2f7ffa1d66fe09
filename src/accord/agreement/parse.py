"""Reading an agreement file: TOML in, a normalised :class:`Agreement` out, or a clear error.

Every refusal is a :class:`~accord.errors.ConfigurationError` whose message starts with the
file and the line of the problem, e.g.
``agreement.toml line 23: the approval rule for 'train' names unknown party 'carol'``.
The schema and every check are documented in docs/agreements.md.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import tomllib
from pathlib import Path
from typing import Final

from accord.agreement._parse_policies import parse_approvals, parse_enclave, parse_outputs
from accord.agreement._reader import Reader, Table, type_name
from accord.agreement.canonical import AGREEMENT_FORMAT
from accord.agreement.display import escape_unsafe
from accord.agreement.locate import KeyPath, SourceLocator
from accord.agreement.model import Agreement, Party, created_problem
from accord.crypto.keys import VerifyKey
from accord.errors import AccordError, ConfigurationError
from accord.party import PARTY_NAME_PATTERN

__all__ = ["MAX_AGREEMENT_BYTES", "load_agreement", "parse_agreement", "read_agreement_text"]

MAX_AGREEMENT_BYTES: Final = 256 * 1024
"""The largest agreement file read, in bytes of UTF-8 (a real one is a few KiB)."""
SIGNATURE_BYTES: Final = 64
_TOP_LEVEL: Final = ("agreement", "parties", "enclave", "approvals", "outputs", "signatures")
_PARTY_KEYS: Final = ("name", "signing_key", "tls_certificate_fingerprint", "contact")
_FINGERPRINT: Final = re.compile(r"[0-9a-f]{64}")
_TOML_POSITION: Final = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TOML_END: Final = re.compile(r"\s*\(at end of document\)$")
_FRACTION: Final = re.compile(r"[0-9]{2}:[0-9]{2}:[0-9]{2}\.([0-9]+)")
_MAX_FRACTION_DIGITS: Final = 6


def read_agreement_text(path: Path) -> str:
    """Return the text of the agreement file at ``path``.

    Raises
    ------
    ConfigurationError
        If the file cannot be read, is larger than :data:`MAX_AGREEMENT_BYTES` or is not
        UTF-8.
    """
    path = Path(path)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_AGREEMENT_BYTES + 1)
    except OSError as exc:
        raise ConfigurationError(
            escape_unsafe(f"cannot read agreement {path}: {exc.strerror}"),
            hint="Check the path; `accord agreement init` creates a new agreement.",
        ) from None
    if len(data) > MAX_AGREEMENT_BYTES:
        raise _too_large(str(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(
            escape_unsafe(f"{path}: not UTF-8 text (byte {exc.start})")
        ) from None


def load_agreement(path: Path) -> Agreement:
    """Read and check the agreement file at ``path``.

    Parameters
    ----------
    path
        The TOML file; messages name it as given.

    Returns
    -------
    Agreement
        The normalised agreement (signatures not yet verified).

    Raises
    ------
    ConfigurationError
        If the file cannot be read, is not UTF-8 TOML, or is malformed or contradictory.
    """
    return parse_agreement(read_agreement_text(path), source=str(path))


def parse_agreement(text: str, *, source: str) -> Agreement:
    """Parse and check agreement TOML.

    Parameters
    ----------
    text
        The TOML text.
    source
        The name to use in messages (usually the file name).

    Returns
    -------
    Agreement
        The normalised agreement (signatures not yet verified).

    Raises
    ------
    ConfigurationError
        Naming the source, the line and the problem; also for text larger than
        :data:`MAX_AGREEMENT_BYTES`, with a dotted key of more than
        :data:`~accord.agreement.locate.MAX_KEY_PARTS` parts, or with arrays and inline
        tables nested more than :data:`~accord.agreement.locate.MAX_NESTING` deep.
    """
    if len(text) > MAX_AGREEMENT_BYTES or len(_utf8(text)) > MAX_AGREEMENT_BYTES:
        raise _too_large(source)
    locator = SourceLocator(text)  # linear; measures what would make tomllib costly
    if locator.limit_exceeded is not None:
        raise ConfigurationError(
            escape_unsafe(
                f"{source} line {locator.limit_exceeded.line}: {locator.limit_exceeded.problem}"
            ),
            hint="Write the agreement as docs/agreements.md shows: tables of plain keys.",
        )
    document = _load_toml(text, source)
    reader = Reader(source, locator)
    reader.check_keys(document, (), allowed=_TOP_LEVEL)
    if "agreement" not in document:
        reader.fail((), "the required table [agreement] is missing (name, format, created)")
    header = reader.table(document, ("agreement",))
    reader.check_keys(
        header,
        ("agreement",),
        allowed=("format", "name", "created", "description"),
        required=("format", "name", "created"),
    )
    if header["format"] != AGREEMENT_FORMAT:
        reader.fail(
            ("agreement", "format"),
            f"format is {header['format']!r}; this version of Accord reads {AGREEMENT_FORMAT!r}",
            hint="Upgrade Accord, or write the agreement in the format this version reads.",
        )
    parties = _parse_parties(reader, document)
    names = [party.name for party in parties]
    name = reader.text(header, ("agreement", "name"), required=True)
    assert name is not None
    return Agreement(
        name=name,
        description=reader.text(header, ("agreement", "description"), multiline=True),
        created=_created(reader, header),
        parties=tuple(parties),
        enclave=parse_enclave(reader, document),
        approvals=parse_approvals(reader, document, names),
        outputs=parse_outputs(reader, document, names),
        unverified_signatures=_parse_signatures(reader, document),
        source=source,
    )


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _too_large(source: str) -> ConfigurationError:
    return ConfigurationError(
        escape_unsafe(
            f"{source}: the agreement is larger than the limit of {MAX_AGREEMENT_BYTES} bytes "
            f"({MAX_AGREEMENT_BYTES // 1024} KiB)"
        ),
        hint="An agreement is a few KiB of TOML; check that this is the right file.",
    )


def _load_toml(text: str, source: str) -> Table:
    try:
        return tomllib.loads(text)
    except RecursionError:  # pragma: no cover - the nesting limit is checked before
        raise ConfigurationError(
            escape_unsafe(f"{source}: not valid TOML: nested too deeply to read"),
            hint="Write the agreement as docs/agreements.md shows: tables of plain keys.",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _TOML_POSITION.search(message)
        if position:
            problem = message[: position.start()]
            where = f"{source} line {position[1]}"
            problem += f" (column {position[2]})"
        else:
            problem = _TOML_END.sub("", message)
            where = f"{source} line {text.count(chr(10)) + 1}"
        raise ConfigurationError(
            escape_unsafe(f"{where}: not valid TOML: {problem}"),
            hint="Fix the TOML syntax at that place (strings need quotes, tables [brackets]).",
        ) from None


def _created(reader: Reader, header: Table) -> dt.datetime:
    path: KeyPath = ("agreement", "created")
    value = header["created"]
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        shown = "a date-time without a time zone" if isinstance(value, dt.datetime) else None
        reader.fail(
            path,
            "'created' in [agreement] must be a date-time with a time zone, e.g. "
            "created = 2025-06-01T12:00:00Z (without quotes), not "
            f"{shown or type_name(value)}",
        )
    problem = created_problem(value)
    if problem is not None:
        reader.fail(path, f"'created' in [agreement] is {_iso(value)}: {problem}")
    written = reader.locator.value_text(path)
    if written is None:  # pragma: no cover - the locator finds every key tomllib accepts
        reader.fail(path, "'created' in [agreement] could not be found in the file's text")
    fraction = _FRACTION.search(written)
    if fraction is not None and len(fraction[1]) > _MAX_FRACTION_DIGITS:
        reader.fail(
            path,
            f"'created' in [agreement] has more than {_MAX_FRACTION_DIGITS} digits of "
            "fractional seconds; Accord keeps microseconds and would drop the rest silently",
            hint="Write the time to the second, e.g. created = 2025-06-01T12:00:00Z.",
        )
    return value


def _iso(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _parse_parties(reader: Reader, document: Table) -> list[Party]:
    entries = document.get("parties", [])
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        reader.fail(("parties",), "parties must be written as [[parties]] tables")
    parties: list[Party] = []
    seen: dict[tuple[str, str], tuple[str, int]] = {}
    for index, entry in enumerate(entries):
        party = _parse_party(reader, entry, ("parties", index))
        for key, value in (
            ("name", party.name),
            ("signing_key", party.verify_key.fingerprint),
            ("tls_certificate_fingerprint", party.tls_certificate_fingerprint),
        ):
            path: KeyPath = ("parties", index, key)
            if (key, value) in seen:
                other, line = seen[key, value]
                what = "name" if key == "name" else f"{key} as party {other!r}"
                reader.fail(
                    path,
                    f"party {party.name!r} has the same {what} (line {line}); "
                    "every party needs its own name, signing key and TLS certificate",
                )
            seen[key, value] = (party.name, reader.line(path))
        parties.append(party)
    return parties


def _parse_party(reader: Reader, entry: Table, path: KeyPath) -> Party:
    reader.check_keys(entry, path, allowed=_PARTY_KEYS, required=_PARTY_KEYS[:3])
    name = reader.text(entry, (*path, "name"), required=True)
    assert name is not None
    if PARTY_NAME_PATTERN.fullmatch(name) is None:
        reader.fail(
            (*path, "name"),
            f"{name!r} is not a valid party name: use a lower-case letter, then up to 62 "
            "lower-case letters, digits, '_' or '-'",
        )
    key_text = reader.text(entry, (*path, "signing_key"), required=True)
    assert key_text is not None
    try:
        verify_key = VerifyKey(base64.b64decode(key_text, validate=True))
    except (binascii.Error, ValueError, AccordError):
        reader.fail(
            (*path, "signing_key"),
            f"the signing_key of party {name!r} is not a base64 Ed25519 public key (32 bytes)",
            hint="Copy signing_key.public_key from the party's card.json, or use "
            "`accord agreement add-party`.",
        )
    fingerprint = reader.text(entry, (*path, "tls_certificate_fingerprint"), required=True)
    assert fingerprint is not None
    if not _FINGERPRINT.fullmatch(fingerprint.lower()):
        reader.fail(
            (*path, "tls_certificate_fingerprint"),
            f"the tls_certificate_fingerprint of party {name!r} must be 64 hexadecimal digits "
            "(SHA-256 of the certificate's DER encoding)",
        )
    return Party(
        name=name,
        verify_key=verify_key,
        tls_certificate_fingerprint=fingerprint.lower(),
        contact=reader.text(entry, (*path, "contact")),
    )


def _parse_signatures(reader: Reader, document: Table) -> dict[str, bytes]:
    table = reader.table(document, ("signatures",))
    signatures: dict[str, bytes] = {}
    for name, value in table.items():
        path: KeyPath = ("signatures", name)
        if PARTY_NAME_PATTERN.fullmatch(name) is None:
            reader.fail(
                path,
                f"[signatures] holds an entry for {name!r}, which is not a valid party name",
                hint="Remove the line; `accord agreement sign` writes one entry per party.",
            )
        if not isinstance(value, str):
            reader.wrong_type(path, value, "a base64 signature")
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != SIGNATURE_BYTES:
            reader.fail(
                path,
                f"the signature of {name!r} is not a base64 Ed25519 signature "
                f"({SIGNATURE_BYTES} bytes)",
                hint=f"Remove the line and ask {name} to sign again with `accord agreement sign`.",
            )
        signatures[name] = raw
    return signatures
