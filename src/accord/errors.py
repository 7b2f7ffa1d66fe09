"""The one error tree of Accord.

Every failure that Accord reports on purpose is an :class:`AccordError`. The command line
catches it, prints :meth:`AccordError.diagnostics` (what failed, why, what to do) and exits
with a non-zero status; anything else reaching the user is a bug.

::

    AccordError                  the root: catch this to handle every Accord failure
    ├── UsageError               bad input from the user: arguments, files, formats
    │   └── ConfigurationError   a configuration or agreement file that cannot be used
    ├── IntegrityError           data that fails authentication: tampered, truncated,
    │                            reordered, spliced or swapped sealed files
    ├── KeyMaterialError         missing, wrong or locked key material (wrong party's key,
    │                            bad passphrase, unreadable key file)
    ├── VerificationError        a signature, certificate or attestation that does not verify
    ├── ApprovalError            a command without the approvals its rule requires
    └── TransportError           a peer that cannot be reached, refuses TLS, or times out

Messages never contain secret values (keys, passphrases, plaintext records); they may
contain public identifiers such as key ids, file ids, paths and chunk indices.
"""

from __future__ import annotations

__all__ = [
    "AccordError",
    "ApprovalError",
    "ConfigurationError",
    "IntegrityError",
    "KeyMaterialError",
    "TransportError",
    "UsageError",
    "VerificationError",
]


class AccordError(Exception):
    """Base class of every error Accord raises on purpose.

    Parameters
    ----------
    message
        What failed and why, in one or two sentences.
    hint
        What the user can do about it. Each subclass has a sensible default.
    """

    default_hint = "See the message above; run the command with --help for usage."

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def diagnostics(self) -> str:
        """Return the one-paragraph explanation the command line prints.

        Returns
        -------
        str
            The message followed by the hint.
        """
        return f"{self.message}\n{self.hint}"


class UsageError(AccordError):
    """Bad input from the user: a missing file, a wrong option, a malformed record."""

    default_hint = "Check the command's arguments and input files (run it with --help)."


class ConfigurationError(UsageError):
    """A configuration or agreement file that is malformed or contradictory."""

    default_hint = "Fix the file at the place named above and try again."


class IntegrityError(AccordError):
    """Data failed authentication: it was altered, truncated, reordered or swapped.

    No plaintext from a file that fails integrity checks is ever returned or left on disk.
    """

    default_hint = (
        "The file is damaged or was tampered with; fetch a fresh copy from its owner. "
        "Nothing was written."
    )


class KeyMaterialError(AccordError):
    """Key material is missing, wrong for the data, locked, or unreadable."""

    default_hint = "Use the party directory whose key the data was sealed with."


class VerificationError(AccordError):
    """A signature, certificate or attestation report does not verify."""

    default_hint = "Do not trust this peer or document until the difference is explained."


class ApprovalError(AccordError):
    """A command lacks the approvals its operation's rule requires."""

    default_hint = "Collect the missing approvals, or propose the command again."


class TransportError(AccordError):
    """A peer could not be reached, refused the connection or TLS, or timed out."""

    default_hint = "Check that the peer is running and reachable, then retry."
