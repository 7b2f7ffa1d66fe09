"""Editing an agreement file while keeping the human's layout, comments and formatting.

:class:`AgreementDocument` pairs the file's text with the agreement parsed from it. Every
edit returns a new document whose text is parsed and checked again, so an edit can never
produce a file that does not load. :meth:`AgreementDocument.save` writes atomically.

Adding a party changes the signed content, so it removes every signature; adding a
signature does not change the content (``[signatures]`` is outside the canonical form).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import tomlkit
import tomlkit.items

from accord._internal.files import write_atomically
from accord.agreement.locate import SourceLocator
from accord.agreement.model import Agreement, Party
from accord.agreement.parse import parse_agreement, read_agreement_text
from accord.errors import ConfigurationError
from accord.party import PartyCard

__all__ = ["AgreementDocument", "party_from_card"]


def party_from_card(card: PartyCard, *, contact: str | None = None) -> Party:
    """Return the agreement entry for the party that ``card`` describes.

    Parameters
    ----------
    card
        A checked party card (its self-signature verified when it was loaded).
    contact
        Optional contact text to record with the party.

    Returns
    -------
    Party
        The party's name, signing key and TLS certificate fingerprint.
    """
    return Party(
        name=card.name,
        verify_key=card.verify_key,
        tls_certificate_fingerprint=card.tls_certificate_fingerprint,
        contact=contact,
    )


def _newline_of(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _toml_string(value: str) -> str:
    return tomlkit.string(value).as_string()


def _party_block(party: Party, newline: str) -> str:
    lines = [
        "[[parties]]",
        f"name = {_toml_string(party.name)}",
        f"signing_key = {_toml_string(party.verify_key.to_base64())}",
        f"tls_certificate_fingerprint = {_toml_string(party.tls_certificate_fingerprint)}",
    ]
    if party.contact is not None:
        lines.append(f"contact = {_toml_string(party.contact)}")
    return newline.join(lines) + newline


@dataclass(frozen=True)
class AgreementDocument:
    """An agreement file's text and the agreement it holds.

    Parameters
    ----------
    text
        The TOML text.
    agreement
        The agreement parsed from ``text``; use :meth:`parse` or :meth:`load` to make both.
    """

    text: str
    agreement: Agreement

    @classmethod
    def parse(cls, text: str, *, source: str) -> AgreementDocument:
        """Parse ``text`` (see :func:`accord.agreement.parse.parse_agreement`)."""
        return cls(text, parse_agreement(text, source=source))

    @classmethod
    def load(cls, path: Path) -> AgreementDocument:
        """Read and parse the agreement file at ``path``."""
        return cls.parse(read_agreement_text(path), source=str(path))

    @property
    def source(self) -> str:
        """The name used in messages."""
        return self.agreement.source

    def _reparse(self, text: str, edit: str) -> AgreementDocument:
        try:
            return AgreementDocument.parse(text, source=self.source)
        except ConfigurationError as exc:  # pragma: no cover - an edit must keep the file valid
            raise ConfigurationError(
                f"{self.source}: {edit} would make the file invalid: {exc.message}",
                hint="Edit the file by hand; nothing was changed.",
            ) from None

    def with_party(self, party: Party) -> AgreementDocument:
        """Return the document with ``party`` appended and every signature removed.

        Raises
        ------
        ConfigurationError
            If the agreement already lists the party's name, signing key or TLS certificate,
            or writes its parties in a form other than ``[[parties]]`` tables.
        """
        for listed in self.agreement.parties:
            for what, new, old in (
                ("name", party.name, listed.name),
                ("signing key", party.verify_key.fingerprint, listed.signing_key_fingerprint),
                (
                    "TLS certificate",
                    party.tls_certificate_fingerprint,
                    listed.tls_certificate_fingerprint,
                ),
            ):
                if new == old:
                    raise ConfigurationError(
                        f"{self.source} already lists party {listed.name!r} with the same "
                        f"{what}; a party can be added only once",
                        hint="Nothing was changed.",
                    )
        text = self._insert_party_block(self.without_signatures().text, party)
        updated = self._reparse(text, f"adding party {party.name!r}")
        expected = sorted((*self.agreement.parties, party), key=lambda entry: entry.name)
        if list(updated.agreement.parties) != expected:  # pragma: no cover - an invariant
            raise ConfigurationError(
                f"{self.source}: the party {party.name!r} could not be added automatically; "
                "add its [[parties]] table by hand",
                hint="Nothing was changed.",
            )
        return updated

    @staticmethod
    def _insert_party_block(text: str, party: Party) -> str:
        newline = _newline_of(text)
        locator = SourceLocator(text)
        headers = sorted(locator.headers, key=lambda header: header.line)
        party_headers = [h for h in headers if h.path[0] == "parties" and h.is_array]
        if locator.has(("parties",)) and not party_headers:
            raise ConfigurationError(
                "the parties are written as an inline array; write them as [[parties]] "
                "tables to add a party automatically",
                hint="Nothing was changed.",
            )
        after = party_headers[-1].line if party_headers else locator.line_of(("agreement",))
        following = [h.line for h in headers if h.line > after and h.path[0] != "agreement"]
        lines = text.splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += newline
        position = following[0] - 1 if following else len(lines)
        while (  # comments directly above a header belong to it
            position > 0
            and position in locator.comment_lines
            and lines[position - 1].lstrip().startswith("#")
        ):
            position -= 1
        block = _party_block(party, newline) + newline
        if position > 0 and lines[position - 1].strip():
            block = newline + block
        return "".join([*lines[:position], block, *lines[position:]])

    def without_signatures(self) -> AgreementDocument:
        """Return the document with every entry of ``[signatures]`` removed (comments kept)."""
        document = tomlkit.parse(self.text)
        table = document.get("signatures")
        if not isinstance(table, tomlkit.items.Table | tomlkit.items.InlineTable):
            return self
        for name in list(table.keys()):
            del table[name]
        return self._reparse(document.as_string(), "removing the signatures")

    def with_signature(self, party: str, signature: bytes) -> AgreementDocument:
        """Return the document with ``signature`` stored as ``[signatures] party``.

        The signature is not checked here; :func:`accord.agreement.verify_signatures` does.
        """
        newline = _newline_of(self.text)
        text = self.text
        if "signatures" not in tomlkit.parse(text):
            if text and not text.endswith("\n"):
                text += newline
            text += f"{newline}[signatures]{newline}"
        document = tomlkit.parse(text)
        value = tomlkit.string(base64.b64encode(signature).decode())
        value.trivia.trail = newline
        table = document["signatures"]
        assert isinstance(table, tomlkit.items.Table | tomlkit.items.InlineTable)
        table[party] = value
        updated = self._reparse(document.as_string(), f"storing the signature of {party!r}")
        if updated.agreement.digest != self.agreement.digest:  # pragma: no cover - invariant
            raise ConfigurationError(
                f"{self.source}: storing a signature would change the signed content",
                hint="Edit the file by hand; nothing was changed.",
            )
        return updated

    def save(self, path: Path, *, overwrite: bool = True) -> None:
        """Write the text to ``path`` atomically (complete file or untouched).

        Raises
        ------
        UsageError
            If ``overwrite`` is false and ``path`` exists, or its folder does not exist.
        """
        write_atomically(Path(path), self.text.encode("utf-8"), mode=0o644, overwrite=overwrite)
