"""A new agreement file: a commented template that is valid as soon as it is written.

The template lists no parties yet (``accord agreement add-party`` adds them), accepts the
backends and measurements it is given, needs every party's approval for every operation,
releases models to nobody, metrics to everyone and predictions to their data's owner.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import tomlkit

from accord.agreement.canonical import AGREEMENT_FORMAT, format_time
from accord.agreement.parse import parse_agreement
from accord.attest.claims import SIMULATED, check_backend
from accord.errors import UsageError

__all__ = ["render_template"]

_HEAD = """\
# An Accord agreement: the rules that every party signs (see docs/agreements.md).
#
#   1. Each party runs `accord party init NAME --dir DIR` and shares DIR/card.json.
#   2. Add every party:     accord agreement add-party {file} --card CARD.json
#   3. Each party reviews:  accord agreement show {file}
#      and signs:           accord agreement sign {file} --party DIR
#   4. Check:               accord agreement verify {file}
#
# Any change outside [signatures] changes the agreement's digest and voids every signature.

[agreement]
format = {format}
name = {name}
created = {created}
{description}
# Parties are added below by `accord agreement add-party`, one [[parties]] table each:
# name, signing_key (base64 Ed25519), tls_certificate_fingerprint (SHA-256 hex), contact.

[enclave]
# The attestation backends whose evidence the parties accept.
backends = {backends}
# Evidence older than this many seconds is refused.
max_evidence_age_seconds = 300
"""

_SIMULATED = """
# DEVELOPMENT ONLY: simulated evidence gives NO protection against the host.
[enclave.simulated]
# The measurement of the enclave code; `accord measure` prints it for an installed release.
measurements = {measurements}
"""

_HARDWARE = """
[enclave.{backend}]
# The accepted measurements of the enclave release (for {backend}: {what}).
measurements = {measurements}
# signer = "..."              # optional: the expected signer (e.g. SGX MRSIGNER)
# allow_debug = false         # debug enclaves let the host read their memory
# min_security_version = 0
{platform}"""

_DCAP_LINES = """\
# min_tcb_status = "ConfigurationAndSWHardeningNeeded"   # the worst accepted TCB status
# allowed_advisories = []     # Intel advisories accepted on the platform
# min_tcb_evaluation_data_number = 17   # refuse collateral older than this Intel release
"""

_PLATFORM = {
    "sgx-dcap": _DCAP_LINES,
    "tdx": _DCAP_LINES + '# rtmrs = [{ rtmr0 = "..." }]   # accepted RTMR values\n',
    "sev-snp": """\
# vmpl = 0                    # the VM privilege level the report must come from
# min_tcb = { bootloader = 10, tee = 0, snp = 23, microcode = 84 }   # reported TCB minimums
""",
}

_WHAT = {"sgx-dcap": "MRENCLAVE", "tdx": "MRTD", "sev-snp": "the launch measurement"}

_TAIL = """
[approvals]
# Who must approve (sign) a command before an enclave runs it. A rule is one of:
#   "all"                                        every party (the default)
#   { all_of = ["alice", "bob"] }                each of the named parties
#   { k_of_n = 2, among = ["alice", "bob", "carol"] }   any 2 of them (among: all parties)
# Operations: load, train, predict, evaluate, feature_importance, save_model,
# load_model, release_model, echo.
default = "all"
# train = { k_of_n = 2 }

[outputs]
# Parties that may receive a trained model in the clear (release_model).
models = []
# Parties that receive evaluation metrics and feature importance ("all" or a list).
metrics = "all"
feature_importance = "all"
# "owner": predictions on a party's data go to that party only. Or "all", or a table
# such as predictions = { alice = ["alice", "bob"] }.
predictions = "owner"

[signatures]
# Filled in by `accord agreement sign`; these lines are not part of the signed content.
"""


def _string(value: str) -> str:
    return tomlkit.string(value).as_string()


def _strings(values: Sequence[str]) -> str:
    return "[" + ", ".join(_string(value) for value in values) + "]"


def render_template(
    name: str,
    *,
    created: dt.datetime,
    measurements: Mapping[str, Sequence[str]],
    description: str | None = None,
    file_name: str = "agreement.toml",
) -> str:
    """Return the text of a new agreement.

    Parameters
    ----------
    name
        The collaboration's name.
    created
        The creation time (time-zone aware).
    measurements
        Per accepted backend, its accepted measurements (hex).
    description
        Optional description.
    file_name
        The file name to show in the instructions at the top.

    Returns
    -------
    str
        TOML text that :func:`accord.agreement.parse_agreement` accepts.

    Raises
    ------
    ConfigurationError
        If the values do not make a valid agreement (e.g. a malformed measurement).
    UsageError
        If no backend is given.
    """
    if not measurements:
        raise UsageError("an agreement must accept at least one attestation backend")
    for backend in measurements:
        check_backend(backend)
    backends = sorted(measurements)
    text = _HEAD.format(
        file=file_name,
        format=_string(AGREEMENT_FORMAT),
        name=_string(name),
        created=format_time(created),
        description=(
            f"description = {_string(description)}\n"
            if description
            else '# description = "What the collaboration is for."\n'
        ),
        backends=_strings(backends),
    )
    for backend in backends:
        listed = _strings([value.lower() for value in measurements[backend]])
        if backend == SIMULATED:
            text += _SIMULATED.format(measurements=listed)
        else:
            what = _WHAT.get(backend, "its measurement")
            text += _HARDWARE.format(
                backend=backend,
                what=what,
                measurements=listed,
                platform=_PLATFORM.get(backend, ""),
            )
    text += _TAIL
    parse_agreement(text, source=file_name)
    return text
