"""Parsing of the policy tables of an agreement: ``[enclave]``, ``[approvals]``, ``[outputs]``."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Final

from accord.agreement._reader import Reader, Table, quoted, table_name, type_name
from accord.agreement.locate import KeyPath
from accord.agreement.model import (
    DCAP_BACKENDS,
    RTMR_COUNT,
    BackendPolicy,
    EnclavePolicy,
    OutputPolicy,
)
from accord.agreement.rules import OPERATIONS, ApprovalPolicy, ApprovalRule
from accord.attest.claims import BACKENDS, SIMULATED
from accord.attest.hardware_policy import MAX_VMPL, SNP_TCB_COMPONENTS, SnpTcbMinimum
from accord.attest.tcb import (
    ADVISORY_ID_PATTERN,
    DEFAULT_MIN_TCB_STATUS,
    MINIMUM_CHOICES,
    REVOKED,
)

__all__ = ["parse_approvals", "parse_enclave", "parse_outputs"]

MEASUREMENT_HEX_DIGITS: Final = {"simulated": 64, "sgx-dcap": 64, "tdx": 96, "sev-snp": 96}
"""Length in hex digits of a measurement per backend (SHA-256, MRENCLAVE, MRTD, SNP)."""

DEFAULT_MAX_EVIDENCE_AGE: Final = 300
MAX_EVIDENCE_AGE_LIMIT: Final = 86400
_HEX: Final = re.compile(r"[0-9a-f]+")
_SIGNER_HEX_DIGITS: Final = range(32, 129, 2)
_BACKEND_KEYS: Final = ("measurements", "signer", "allow_debug", "min_security_version")
_DCAP_KEYS: Final = ("min_tcb_status", "allowed_advisories", "min_tcb_evaluation_data_number")
_TDX_KEYS: Final = ("rtmrs",)
_SNP_KEYS: Final = ("min_tcb", "vmpl")
_APPLIES_TO: Final = {
    **dict.fromkeys(_DCAP_KEYS, DCAP_BACKENDS),
    **dict.fromkeys(_TDX_KEYS, frozenset({"tdx"})),
    **dict.fromkeys(_SNP_KEYS, frozenset({"sev-snp"})),
}
_MAX_EVALUATION_NUMBER: Final = 2**32 - 1
_MAX_SPL: Final = 255
_RTMR_NAMES: Final = tuple(f"rtmr{index}" for index in range(RTMR_COUNT))
_RTMR_HEX_DIGITS: Final = 96
_MAX_SECURITY_VERSION: Final = 2**53 - 1


def _hex(reader: Reader, path: KeyPath, value: str, what: str, lengths: Collection[int]) -> str:
    lowered = value.lower()
    if not _HEX.fullmatch(lowered) or len(lowered) not in lengths:
        low, high = min(lengths), max(lengths)
        expected = f"{low}" if low == high else f"an even number ({low} to {high}) of"
        shown = value if len(value) <= 24 else value[:24] + "..."
        reader.fail(
            path,
            f"{what} {shown!r} must be {expected} hexadecimal digits "
            f"(it has {len(value)} characters)",
        )
    return lowered


def _backend(reader: Reader, enclave: Table, backend: str) -> BackendPolicy:
    path: KeyPath = ("enclave", backend)
    if backend not in enclave:
        reader.fail(
            ("enclave", "backends"),
            f"backend '{backend}' is accepted, but there is no [enclave.{backend}] table "
            "with its measurements",
            hint=f"Add an [enclave.{backend}] table with measurements = [...] "
            "(see docs/agreements.md).",
        )
    table = reader.table(enclave, path)
    reader.check_keys(
        table, path, allowed=(*_BACKEND_KEYS, *_APPLIES_TO), required=("measurements",)
    )
    for key, applies in _APPLIES_TO.items():
        if key in table and backend not in applies:
            reader.fail(
                (*path, key),
                f"'{key}' in [enclave.{backend}] applies only to "
                f"{' and '.join(sorted(applies))} evidence; remove it",
            )
    digits = MEASUREMENT_HEX_DIGITS[backend]
    measurements: set[str] = set()
    for element_path, value in reader.strings(
        table["measurements"], (*path, "measurements"), "hexadecimal measurements"
    ):
        measurement = _hex(reader, element_path, value, "measurement", (digits,))
        if measurement in measurements:
            reader.fail(element_path, f"[enclave.{backend}] lists measurement {value} twice")
        measurements.add(measurement)
    if not measurements:
        reader.fail(
            (*path, "measurements"),
            f"[enclave.{backend}] accepts no measurement: list at least one, or remove "
            f"'{backend}' from backends",
            hint="Hardware measurements come with the enclave release; `accord measure` "
            "prints the simulated one.",
        )
    signer = reader.text(table, (*path, "signer"))
    if signer is not None:
        signer = _hex(reader, (*path, "signer"), signer, "signer", _SIGNER_HEX_DIGITS)
    return BackendPolicy(
        backend=backend,
        measurements=frozenset(measurements),
        signer=signer,
        allow_debug=reader.boolean(table, (*path, "allow_debug"), default=False),
        min_security_version=reader.integer(
            table, (*path, "min_security_version"), default=0, low=0, high=_MAX_SECURITY_VERSION
        ),
        min_tcb_status=_min_tcb_status(reader, table, path) if backend in DCAP_BACKENDS else None,
        allowed_advisories=_advisories(reader, table, path),
        rtmrs=_rtmrs(reader, table, path),
        min_tcb_evaluation_data_number=_optional_integer(
            reader, table, (*path, "min_tcb_evaluation_data_number"), _MAX_EVALUATION_NUMBER
        ),
        min_tcb=_min_snp_tcb(reader, table, path),
        vmpl=_optional_integer(reader, table, (*path, "vmpl"), MAX_VMPL),
    )


def _optional_integer(reader: Reader, table: Table, path: KeyPath, high: int) -> int | None:
    if str(path[-1]) not in table:
        return None
    return reader.integer(table, path, default=0, low=0, high=high)


def _min_snp_tcb(reader: Reader, table: Table, path: KeyPath) -> SnpTcbMinimum | None:
    key_path = (*path, "min_tcb")
    if "min_tcb" not in table:
        return None
    value = table["min_tcb"]
    if not isinstance(value, dict):
        reader.wrong_type(
            key_path, value, "a table {bootloader = n, tee = n, snp = n, microcode = n}"
        )
    reader.check_keys(value, key_path, allowed=SNP_TCB_COMPONENTS)
    if not value:
        reader.fail(
            key_path,
            "min_tcb is empty: give the minimum of at least one of "
            f"{', '.join(SNP_TCB_COMPONENTS)}, or remove the key",
        )
    levels = {
        name: reader.integer(value, (*key_path, name), default=0, low=0, high=_MAX_SPL)
        for name in SNP_TCB_COMPONENTS
        if name in value
    }
    return SnpTcbMinimum(**levels)


def _min_tcb_status(reader: Reader, table: Table, path: KeyPath) -> str:
    key_path = (*path, "min_tcb_status")
    value = reader.text(table, key_path)
    if value is None:
        return DEFAULT_MIN_TCB_STATUS
    if value == REVOKED:
        reader.fail(
            key_path, "min_tcb_status cannot be 'Revoked': revoked platforms are never accepted"
        )
    if value not in MINIMUM_CHOICES:
        reader.fail(
            key_path,
            f"unknown TCB status {quoted(value)}; from best to worst: {', '.join(MINIMUM_CHOICES)}",
        )
    return value


def _advisories(reader: Reader, table: Table, path: KeyPath) -> frozenset[str]:
    key_path = (*path, "allowed_advisories")
    if "allowed_advisories" not in table:
        return frozenset()
    found = set()
    for element_path, value in reader.strings(
        table["allowed_advisories"], key_path, "advisory ids"
    ):
        if len(value) > 64 or ADVISORY_ID_PATTERN.fullmatch(value) is None:
            reader.fail(
                element_path,
                f"{quoted(value)} is not an advisory id; write it as Intel publishes it, "
                'upper case, e.g. "INTEL-SA-00615"',
            )
        found.add(value)
    return frozenset(found)


def _rtmrs(reader: Reader, table: Table, path: KeyPath) -> tuple[tuple[str | None, ...], ...]:
    key_path = (*path, "rtmrs")
    if "rtmrs" not in table:
        return ()
    value = table["rtmrs"]
    if not isinstance(value, list):
        reader.wrong_type(key_path, value, "an array of tables {rtmr0 = hex, ...}")
    if not value:
        reader.fail(key_path, "rtmrs is empty: list accepted RTMR values, or remove the key")
    entries: list[tuple[str | None, ...]] = []
    for index, entry in enumerate(value):
        entry_path = (*key_path, index)
        if not isinstance(entry, dict):
            reader.wrong_type(entry_path, entry, "a table {rtmr0 = hex, ...}")
        reader.check_keys(entry, entry_path, allowed=_RTMR_NAMES)
        if not entry:
            reader.fail(entry_path, "an rtmrs entry must give at least one of rtmr0..rtmr3")
        values: list[str | None] = []
        for name in _RTMR_NAMES:
            text = reader.text(entry, (*entry_path, name))
            values.append(
                None
                if text is None
                else _hex(reader, (*entry_path, name), text, name, (_RTMR_HEX_DIGITS,))
            )
        if tuple(values) in entries:
            reader.fail(entry_path, f"rtmrs lists the same entry twice (entry {index + 1})")
        entries.append(tuple(values))
    return tuple(entries)


def parse_enclave(reader: Reader, document: Table) -> EnclavePolicy:
    """Parse ``[enclave]``: the accepted backends and their measurements.

    Raises
    ------
    ConfigurationError
        If the table is missing or malformed, or contradicts itself (see docs/agreements.md).
    """
    if "enclave" not in document:
        reader.fail((), "the required table [enclave] is missing: say which enclaves you accept")
    enclave = reader.table(document, ("enclave",))
    reader.check_keys(
        enclave,
        ("enclave",),
        allowed=("backends", "max_evidence_age_seconds", *BACKENDS),
        required=("backends",),
    )
    listed = [
        (path, name)
        for path, name in reader.strings(
            enclave["backends"], ("enclave", "backends"), "backend names"
        )
    ]
    for path, name in listed:
        if name not in BACKENDS:
            reader.fail(
                path, f"unknown attestation backend {quoted(name)}; known: {', '.join(BACKENDS)}"
            )
    names = [name for _, name in listed]
    if not names:
        reader.fail(("enclave", "backends"), "backends is empty: no enclave could ever be accepted")
    if SIMULATED in names and len(names) > 1:
        reader.fail(
            ("enclave", "backends"),
            f"'{SIMULATED}' cannot be combined with hardware backends: an agreement that "
            "accepts simulated evidence gives no protection against the host, whatever else "
            "it accepts",
            hint="Use one agreement with only 'simulated' for development and another "
            "without it for production.",
        )
    for name in BACKENDS:
        if name in enclave and name not in names:
            reader.fail(
                ("enclave", name),
                f"[enclave.{name}] sets a policy for '{name}', but backends does not list it; "
                "add it to backends or remove the table",
            )
    return EnclavePolicy(
        backends={name: _backend(reader, enclave, name) for name in names},
        max_evidence_age_seconds=reader.integer(
            enclave,
            ("enclave", "max_evidence_age_seconds"),
            default=DEFAULT_MAX_EVIDENCE_AGE,
            low=1,
            high=MAX_EVIDENCE_AGE_LIMIT,
        ),
    )


def _party_names(
    reader: Reader, value: object, path: KeyPath, parties: Collection[str], what: str
) -> frozenset[str]:
    names = set()
    for element_path, name in reader.strings(value, path, "party names"):
        if name not in parties:
            reader.fail(
                element_path,
                f"{what} names unknown party {quoted(name)}; the parties are "
                f"{', '.join(sorted(parties)) or 'none yet'}",
            )
        names.add(name)
    return frozenset(names)


_RULE_FORMS: Final = '"all", {all_of = [names]} or {k_of_n = k, among = [names]}'


def _rule(reader: Reader, value: object, path: KeyPath, parties: Collection[str]) -> ApprovalRule:
    what = f"the approval rule for '{path[-1]}'"
    if value == "all":
        return ApprovalRule.unanimous(parties)
    if not isinstance(value, dict):
        shown = quoted(value) if isinstance(value, str) else type_name(value)
        reader.fail(path, f"{what} must be {_RULE_FORMS}, not {shown}")
    if "all_of" in value:
        reader.check_keys(value, path, allowed=("all_of",))
        among = _party_names(reader, value["all_of"], (*path, "all_of"), parties, what)
        if not among:
            reader.fail((*path, "all_of"), f"{what} has an empty all_of list: name at least one")
        return ApprovalRule(len(among), among)
    reader.check_keys(value, path, allowed=("k_of_n", "among"), required=("k_of_n",))
    if "among" in value:
        among = _party_names(reader, value["among"], (*path, "among"), parties, what)
    else:
        among = frozenset(parties)
    k = value["k_of_n"]
    if isinstance(k, bool) or not isinstance(k, int):
        reader.wrong_type((*path, "k_of_n"), k, "an integer")
    if not 1 <= k <= len(among):
        reader.fail(
            (*path, "k_of_n"),
            f"{what} needs {k} of {len(among)} parties ({', '.join(sorted(among)) or 'none'}); "
            f"k must be between 1 and {len(among)}",
        )
    return ApprovalRule(k, among)


def parse_approvals(reader: Reader, document: Table, parties: Collection[str]) -> ApprovalPolicy:
    """Parse ``[approvals]``: ``default`` and one rule per named operation.

    Raises
    ------
    ConfigurationError
        If a rule is malformed, names an unknown party or operation, or asks for more
        approvals than it counts.
    """
    approvals = reader.table(document, ("approvals",))
    reader.check_keys(approvals, ("approvals",), allowed=("default", *OPERATIONS))
    rules = {
        key: _rule(reader, value, ("approvals", key), parties) for key, value in approvals.items()
    }
    default = rules.pop("default", ApprovalRule.unanimous(parties))
    return ApprovalPolicy(default=default, operations=rules)


def _recipients(
    reader: Reader, outputs: Table, key: str, parties: Collection[str], default: object
) -> frozenset[str]:
    value = outputs.get(key, default)
    path: KeyPath = ("outputs", key)
    if value == "all":
        return frozenset(parties)
    if isinstance(value, str):
        reader.fail(path, f"'{key}' in [outputs] must be \"all\" or a list of party names")
    return _party_names(reader, value, path, parties, f"'{key}' in [outputs]")


def _predictions(
    reader: Reader, outputs: Table, parties: Collection[str]
) -> Mapping[str, frozenset[str]]:
    value = outputs.get("predictions", "owner")
    path: KeyPath = ("outputs", "predictions")
    if value == "owner":
        return {owner: frozenset({owner}) for owner in parties}
    if value == "all":
        return {owner: frozenset(parties) for owner in parties}
    if not isinstance(value, dict):
        reader.fail(
            path,
            '\'predictions\' in [outputs] must be "owner", "all" or a table '
            "{data owner = [recipients]}",
        )
    recipients = {owner: frozenset({owner}) for owner in parties}
    for owner, to in value.items():
        if owner not in parties:
            reader.fail(
                (*path, owner),
                f"{table_name(path)} names unknown data owner {quoted(owner)}; the parties are "
                f"{', '.join(sorted(parties)) or 'none yet'}",
            )
        what = f"the recipients of predictions on {owner}'s data"
        recipients[owner] = _party_names(reader, to, (*path, owner), parties, what)
    return recipients


def parse_outputs(reader: Reader, document: Table, parties: Collection[str]) -> OutputPolicy:
    """Parse ``[outputs]``: who receives models, metrics, importances and predictions.

    Raises
    ------
    ConfigurationError
        If a recipient is not a party or a value has the wrong form.
    """
    outputs = reader.table(document, ("outputs",))
    reader.check_keys(
        outputs,
        ("outputs",),
        allowed=("models", "metrics", "feature_importance", "predictions"),
    )
    return OutputPolicy(
        models=_recipients(reader, outputs, "models", parties, default=[]),
        metrics=_recipients(reader, outputs, "metrics", parties, default="all"),
        feature_importance=_recipients(
            reader, outputs, "feature_importance", parties, default="all"
        ),
        predictions=_predictions(reader, outputs, parties),
    )
