"""Policies on the platform of hardware evidence: Intel's collateral release, SEV-SNP TCB and VMPL.

Like every policy (:mod:`accord.attest.policy`), each has one ``verify(claims) -> None`` that
raises :class:`~accord.errors.VerificationError` naming what differs. They read the extras
that the backend verifiers put into the authenticated :class:`~accord.attest.claims.Claims`,
and refuse claims that lack them (fail closed), so a rule meant for one backend never
accepts evidence of another by accident.

- :class:`TcbEvaluationAtLeast` (``sgx-dcap``, ``tdx``): the collateral that judged the
  platform is at least a given release of Intel's TCB judgements. Both its TCB info and its
  QE identity carry a ``tcbEvaluationDataNumber``; older collateral stays validly signed
  until it expires, so without this rule a host can replay collateral from before an
  advisory and have an unpatched platform judged ``UpToDate``.
- :class:`SnpTcbAtLeast` (``sev-snp``): each component of the REPORTED_TCB (the TCB the
  report's VCEK was derived for) is at least a given security patch level.
- :class:`VmplIs` (``sev-snp``): the report was requested at the given VM privilege level.
  A guest running at VMPL 0 holds the VM's most privileged view; a report requested from a
  higher VMPL comes from less privileged code (e.g. a guest kernel under a paravisor) that
  the launch measurement alone does not vouch for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from accord.attest._policy_base import Rule
from accord.attest.claims import Claims
from accord.errors import UsageError, VerificationError

__all__ = [
    "MAX_VMPL",
    "SNP_TCB_COMPONENTS",
    "SnpTcbAtLeast",
    "SnpTcbMinimum",
    "TcbEvaluationAtLeast",
    "VmplIs",
]

SNP_TCB_COMPONENTS: Final = ("bootloader", "tee", "snp", "microcode")
"""The components of an SEV-SNP TCB version, in the order AMD lists them."""
MAX_VMPL: Final = 3
"""The highest (least privileged) VM privilege level of SEV-SNP."""
_MAX_SPL: Final = 255
_MAX_EVALUATION_NUMBER: Final = 2**32 - 1
_EVALUATION_EXTRAS: Final = (
    ("TCB info", "tcb_evaluation_data_number"),
    ("QE identity", "qe_identity_tcb_evaluation_data_number"),
)


def _small_int(value: object, what: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise UsageError(f"{what} must be an integer from 0 to {high}, got {value!r}")
    return value


def _claimed_int(claims: Claims, key: str) -> int | None:
    text = claims.extras.get(key)
    if text is None or not text.isascii() or not text.isdigit():
        return None
    return int(text)


@dataclass(frozen=True)
class TcbEvaluationAtLeast(Rule):
    """Accept only evidence judged by collateral of at least release ``minimum`` (SGX, TDX).

    Both ``tcbEvaluationDataNumber`` values the DCAP verifiers report (of the TCB info and of
    the QE identity, extras ``tcb_evaluation_data_number`` and
    ``qe_identity_tcb_evaluation_data_number``) must be at least ``minimum``; claims without
    them (another backend) are refused.

    Parameters
    ----------
    minimum
        The lowest accepted TCB evaluation data number, e.g. the one Intel published with
        the latest TCB recovery the parties require.
    """

    minimum: int

    def __post_init__(self) -> None:
        _small_int(self.minimum, "a minimum TCB evaluation data number", _MAX_EVALUATION_NUMBER)

    def verify(self, claims: Claims) -> None:
        """Refuse claims judged by older collateral, or that carry no evaluation number."""
        for what, key in _EVALUATION_EXTRAS:
            number = _claimed_int(claims, key)
            if number is None:
                raise VerificationError(
                    f"{claims.backend} evidence carries no {what} TCB evaluation data number, "
                    f"but the policy requires at least {self.minimum}",
                    hint="Only sgx-dcap and tdx evidence is judged by Intel's collateral.",
                )
            if number < self.minimum:
                raise VerificationError(
                    f"the collateral's {what} has TCB evaluation data number {number}, below "
                    f"the minimum {self.minimum} the policy requires: it predates the TCB "
                    "judgements the parties require (old collateral replayed by the host?)",
                    hint=(
                        "Verify with current collateral from Intel PCS or your PCCS; if Intel "
                        "has not published that number yet, the agreement asks too much."
                    ),
                )


@dataclass(frozen=True)
class SnpTcbMinimum:
    """The lowest accepted security patch levels of an SEV-SNP TCB; None leaves one unchecked.

    Parameters
    ----------
    bootloader, tee, snp, microcode
        The minimum level (0 to 255) of the PSP boot loader, the PSP operating system, the
        SNP firmware and the CPU microcode, or None.

    Raises
    ------
    UsageError
        If a level is out of range, or none is given.
    """

    bootloader: int | None = None
    tee: int | None = None
    snp: int | None = None
    microcode: int | None = None

    def __post_init__(self) -> None:
        for name, value in self.items():
            _small_int(value, f"the minimum {name} level", _MAX_SPL)
        if not self.items():
            raise UsageError(
                "an SEV-SNP TCB minimum needs at least one of bootloader, tee, snp, microcode"
            )

    def items(self) -> tuple[tuple[str, int], ...]:
        """Return ``(component, minimum)`` for each component that is checked, in AMD's order."""
        pairs = ((name, getattr(self, name)) for name in SNP_TCB_COMPONENTS)
        return tuple((name, value) for name, value in pairs if value is not None)

    def describe(self) -> str:
        """Return ``"snp >= 23, microcode >= 84"`` for messages."""
        return ", ".join(f"{name} >= {value}" for name, value in self.items())


@dataclass(frozen=True)
class SnpTcbAtLeast(Rule):
    """Accept SEV-SNP evidence whose REPORTED_TCB meets ``minimum`` in every listed component.

    The SEV-SNP verifier reports the levels as the extras ``reported_tcb_bootloader``,
    ``reported_tcb_tee``, ``reported_tcb_snp`` and ``reported_tcb_microcode``; claims
    without them are refused.

    Parameters
    ----------
    minimum
        The lowest accepted levels.
    """

    minimum: SnpTcbMinimum

    def __post_init__(self) -> None:
        if not isinstance(self.minimum, SnpTcbMinimum):
            raise UsageError("SnpTcbAtLeast needs an SnpTcbMinimum, e.g. SnpTcbMinimum(snp=23)")

    def verify(self, claims: Claims) -> None:
        """Refuse claims with a component below its minimum, or without a reported TCB."""
        for name, minimum in self.minimum.items():
            level = _claimed_int(claims, f"reported_tcb_{name}")
            if level is None:
                raise VerificationError(
                    f"{claims.backend} evidence carries no SEV-SNP reported TCB, but the "
                    f"policy requires {self.minimum.describe()}"
                )
            if level < minimum:
                raise VerificationError(
                    f"the SEV-SNP platform's reported TCB has {name} level {level}, below the "
                    f"minimum {minimum} the policy requires ({self.minimum.describe()})",
                    hint=(
                        "Ask the operator to update the platform's SEV firmware or microcode "
                        "(and commit the new TCB), then collect fresh evidence."
                    ),
                )


@dataclass(frozen=True)
class VmplIs(Rule):
    """Accept only SEV-SNP reports requested at VM privilege level ``vmpl`` (0 to 3).

    Parameters
    ----------
    vmpl
        The required VMPL; 0, the most privileged, unless the enclave runs under a
        paravisor or SVSM that owns VMPL 0.
    """

    vmpl: int

    def __post_init__(self) -> None:
        _small_int(self.vmpl, "the required VMPL", MAX_VMPL)

    def verify(self, claims: Claims) -> None:
        """Refuse claims from another VMPL, or that carry none (the extra ``vmpl``)."""
        vmpl = _claimed_int(claims, "vmpl")
        if vmpl is None:
            raise VerificationError(
                f"{claims.backend} evidence carries no SEV-SNP VMPL, but the policy requires "
                f"VMPL {self.vmpl}"
            )
        if vmpl != self.vmpl:
            raise VerificationError(
                f"the SEV-SNP report was requested at VMPL {vmpl}, but the policy requires "
                f"VMPL {self.vmpl}: code at another privilege level of the VM asked for it",
                hint=(
                    "Collect the report from the enclave's own privilege level; if it runs "
                    "at another VMPL by design, say so with vmpl = N in the agreement."
                ),
            )
