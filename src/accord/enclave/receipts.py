"""Receipts: a node's signed statement of what became of one command.

Wire form (UTF-8, RFC 8785 canonical JSON)::

    {"receipt": {"format": "accord-receipt/v1",
                 "session_id": <32 hex>, "command_digest": <64 hex>,
                 "audit_index": <int >= 0>, "audit_hash": <64 hex>,
                 "status": "executed" | "failed", "error": <text> | null,
                 "outputs": [{"recipient": <party>, "name": <text>, "digest": <64 hex>}, ...]},
     "signature": <base64 of Ed25519, context "receipt", over the 32 raw bytes of
                   SHA-256(canonical JSON of "receipt")>}

The signing key is the session's, whose public half is in the attestation evidence, so a party
checks a receipt with :func:`verify_receipt` and the session keys it verified itself.
``outputs`` lists every sealed output by the SHA-256 of its sealed bytes (sorted by recipient,
then name); :meth:`Receipt.check_output` ties a received output to the receipt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from accord._internal.canonical import canonical_json
from accord.attest._fields import load_json_object, require_keys
from accord.attest.binding import SessionPublicKeys
from accord.crypto.keys import SigningKey, VerifyKey
from accord.enclave._wire import check_hex, decode_signature, encode_b64
from accord.errors import AccordError, IntegrityError, UsageError, VerificationError

__all__ = [
    "EXECUTED",
    "FAILED",
    "MAX_ERROR_CHARS",
    "MAX_RECEIPT_BYTES",
    "RECEIPT_FORMAT",
    "RECEIPT_SIGNATURE_CONTEXT",
    "STATUSES",
    "OutputDigest",
    "Receipt",
    "sign_receipt",
    "verify_receipt",
]

RECEIPT_FORMAT: Final = "accord-receipt/v1"
RECEIPT_SIGNATURE_CONTEXT: Final = "receipt"
EXECUTED: Final = "executed"
FAILED: Final = "failed"
STATUSES: Final = (EXECUTED, FAILED)
MAX_RECEIPT_BYTES: Final = 1024 * 1024
MAX_ERROR_CHARS: Final = 2000
"""Errors recorded in receipts and audit entries are cut to this many characters."""
MAX_OUTPUTS: Final = 4096
MAX_OUTPUT_NAME_CHARS: Final = 128

_FIELDS: Final = frozenset(
    {
        "format",
        "session_id",
        "command_digest",
        "audit_index",
        "audit_hash",
        "status",
        "error",
        "outputs",
    }
)
_OUTPUT_FIELDS: Final = frozenset({"recipient", "name", "digest"})


@dataclass(frozen=True, order=True)
class OutputDigest:
    """One output as receipts and audit entries record it: who, what, and its digest.

    Parameters
    ----------
    recipient
        The party the output is sealed for.
    name
        The output's name (e.g. ``"echo"``, ``"model"``), 1 to 128 printable characters.
    digest
        SHA-256 (lowercase hex) of the sealed bytes.
    """

    recipient: str
    name: str
    digest: str

    def __post_init__(self) -> None:
        check_output_fields(self.recipient, self.name, self.digest, "output", UsageError)

    def to_object(self) -> dict[str, str]:
        """Return the JSON object form."""
        return {"recipient": self.recipient, "name": self.name, "digest": self.digest}


@dataclass(frozen=True)
class Receipt:
    """A node's statement that a command ended, with the audit entry that records it.

    Parameters
    ----------
    session_id
        The node session that ran the command.
    command_digest
        The command's digest.
    audit_index, audit_hash
        The index and hash of the audit entry recording the command.
    status
        ``"executed"`` or ``"failed"``.
    error
        Why the command failed (``None`` when executed).
    outputs
        The sealed outputs by digest (none when failed), sorted.
    """

    session_id: str
    command_digest: str
    audit_index: int
    audit_hash: str
    status: str
    error: str | None
    outputs: tuple[OutputDigest, ...]

    def __post_init__(self) -> None:
        _check_receipt(self, UsageError)
        object.__setattr__(self, "outputs", tuple(sorted(self.outputs)))

    def to_object(self) -> dict[str, Any]:
        """Return the JSON object form (the part that is signed)."""
        return {
            "format": RECEIPT_FORMAT,
            "session_id": self.session_id,
            "command_digest": self.command_digest,
            "audit_index": self.audit_index,
            "audit_hash": self.audit_hash,
            "status": self.status,
            "error": self.error,
            "outputs": [output.to_object() for output in self.outputs],
        }

    def check_output(self, recipient: str, name: str, sealed: bytes) -> None:
        """Check that ``sealed`` is the output the receipt lists for ``recipient`` and ``name``.

        Raises
        ------
        IntegrityError
            If the receipt lists no such output, or its digest differs from the bytes'.
        """
        digest = hashlib.sha256(sealed).hexdigest()
        for output in self.outputs:
            if output.recipient == recipient and output.name == name:
                if output.digest != digest:
                    raise IntegrityError(
                        f"output {name!r} for {recipient} has digest {digest[:16]}.., but the "
                        f"node's receipt says {output.digest[:16]}..: it was altered after the "
                        "enclave produced it",
                        hint="Fetch the output again from the node; do not use these bytes.",
                    )
                return
        raise IntegrityError(
            f"the receipt for command {self.command_digest[:16]}.. lists no output {name!r} "
            f"for {recipient}"
        )


def sign_receipt(receipt: Receipt, signing_key: SigningKey) -> bytes:
    """Return the signed wire form of ``receipt``, signed with the session's key.

    Parameters
    ----------
    receipt
        The receipt.
    signing_key
        The enclave session's signing key.

    Returns
    -------
    bytes
        Canonical JSON ``{"receipt": {...}, "signature": b64}``.
    """
    body = receipt.to_object()
    signature = signing_key.sign(
        hashlib.sha256(canonical_json(body)).digest(), context=RECEIPT_SIGNATURE_CONTEXT
    )
    return canonical_json({"receipt": body, "signature": encode_b64(signature)})


def verify_receipt(data: bytes, *, session: SessionPublicKeys) -> Receipt:
    """Check a signed receipt with the session keys that the caller verified by attestation.

    Parameters
    ----------
    data
        The signed receipt as received.
    session
        The attested session keys of the node that sent it.

    Returns
    -------
    Receipt
        The receipt, signed by that session and naming it.

    Raises
    ------
    VerificationError
        If the receipt is malformed, names another session, or its signature does not verify
        with the session's attested signing key.
    """
    error = VerificationError
    wrapper = load_json_object(data, "receipt", max_len=MAX_RECEIPT_BYTES, error=error)
    require_keys(wrapper, frozenset({"receipt", "signature"}), "signed receipt", error=error)
    body = wrapper["receipt"]
    if not isinstance(body, dict):
        raise error("signed receipt field 'receipt' must be an object")
    require_keys(body, _FIELDS, "receipt", error=error)
    if body["format"] != RECEIPT_FORMAT:
        raise error(f"receipt has format {str(body['format'])[:40]!r}, expected {RECEIPT_FORMAT!r}")
    outputs = body["outputs"]
    if not isinstance(outputs, list) or len(outputs) > MAX_OUTPUTS:
        raise error(f"receipt field 'outputs' must be a list of at most {MAX_OUTPUTS} outputs")
    parsed = parse_outputs(outputs, "receipt", error)
    try:
        receipt = Receipt(
            session_id=body["session_id"],
            command_digest=body["command_digest"],
            audit_index=body["audit_index"],
            audit_hash=body["audit_hash"],
            status=body["status"],
            error=body["error"],
            outputs=parsed,
        )
    except UsageError as exc:
        raise VerificationError(exc.message) from None
    if canonical_json(receipt.to_object()) != canonical_json(body):
        raise error("receipt outputs must be sorted by recipient and name, without duplicates")
    if receipt.session_id != session.session_id:
        raise error(
            f"receipt is from session {receipt.session_id}; the attested session is "
            f"{session.session_id}"
        )
    signature = decode_signature(wrapper["signature"], "receipt signature", error)
    try:
        VerifyKey(session.signing_public_key).verify(
            signature,
            hashlib.sha256(canonical_json(body)).digest(),
            context=RECEIPT_SIGNATURE_CONTEXT,
        )
    except VerificationError:
        raise VerificationError(
            f"receipt for command {receipt.command_digest[:16]}.. is not signed by session "
            f"{session.session_id}'s attested key",
            hint="Do not trust this result; attest the node again and re-run the command.",
        ) from None
    return receipt


def check_output_fields(
    recipient: object, name: object, digest: object, what: str, error: type[AccordError]
) -> None:
    """Check one output's fields (a party name, a printable name, a SHA-256 hex digest).

    Raises
    ------
    AccordError
        Of class ``error``, naming ``what`` and the field.
    """
    if not isinstance(recipient, str) or not 0 < len(recipient) <= 256:
        raise error(f"{what} field 'recipient' must be a party name")
    if (
        not isinstance(name, str)
        or not 0 < len(name) <= MAX_OUTPUT_NAME_CHARS
        or not name.isprintable()
    ):
        raise error(f"{what} field 'name' must be 1 to {MAX_OUTPUT_NAME_CHARS} printable chars")
    check_hex(digest, f"{what} field 'digest'", 32, error)


def parse_outputs(
    values: Iterable[object], what: str, error: type[AccordError]
) -> tuple[OutputDigest, ...]:
    """Parse a JSON list of ``{"recipient", "name", "digest"}`` objects strictly.

    Raises
    ------
    AccordError
        Of class ``error``, naming ``what`` and the problem.
    """
    result = []
    for value in values:
        if not isinstance(value, dict):
            raise error(f"{what} outputs must be objects")
        require_keys(value, _OUTPUT_FIELDS, f"{what} output", error=error)
        check_output_fields(value["recipient"], value["name"], value["digest"], what, error)
        result.append(OutputDigest(value["recipient"], value["name"], value["digest"]))
    if len(set(result)) != len(result):
        raise error(f"{what} lists the same output twice")
    return tuple(result)


def _check_receipt(receipt: Receipt, error: type[AccordError]) -> None:
    check_hex(receipt.session_id, "receipt field 'session_id'", 16, error)
    check_hex(receipt.command_digest, "receipt field 'command_digest'", 32, error)
    check_hex(receipt.audit_hash, "receipt field 'audit_hash'", 32, error)
    index = receipt.audit_index
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 2**53:
        raise error("receipt field 'audit_index' must be an integer from 0 to 2**53-1")
    check_status(receipt.status, receipt.error, receipt.outputs, "receipt", error)


def check_status(
    status: object,
    error_text: object,
    outputs: tuple[OutputDigest, ...],
    what: str,
    error: type[AccordError],
) -> None:
    """Check that status, error and outputs agree: executed has no error, failed no outputs.

    Raises
    ------
    AccordError
        Of class ``error``, naming ``what``.
    """
    if status not in STATUSES:
        raise error(f"{what} field 'status' must be 'executed' or 'failed'")
    if status == EXECUTED and error_text is not None:
        raise error(f"{what} says executed but carries an error")
    if status == FAILED:
        if not isinstance(error_text, str) or not 0 < len(error_text) <= MAX_ERROR_CHARS:
            raise error(f"{what} says failed but carries no error text (1 to 2000 characters)")
        if outputs:
            raise error(f"{what} says failed but lists outputs")
    if not isinstance(outputs, tuple) or not all(isinstance(o, OutputDigest) for o in outputs):
        raise error(f"{what} field 'outputs' must hold OutputDigest values")
