"""The policy protocol, and how policies say whether they allow ``simulated`` explicitly."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from accord.attest.claims import Claims

__all__ = ["Policy", "Rule", "apply_policy"]


@runtime_checkable
class Policy(Protocol):
    """Anything with ``verify(claims) -> None`` that raises VerificationError to refuse."""

    def verify(self, claims: Claims) -> None:
        """Accept ``claims`` by returning, or refuse them by raising VerificationError."""
        ...


class Rule:
    """Base of Accord's own policies, which can say whether they allow ``simulated`` explicitly.

    Only :class:`~accord.attest.policy.BackendIn` (directly, or inside an accepting branch
    of :class:`~accord.attest.combinators.AllOf` / ``AnyOf``) answers yes.
    """

    def verify(self, claims: Claims) -> None:
        """Accept ``claims`` by returning, or refuse them by raising VerificationError."""
        raise NotImplementedError

    def _evaluate(self, claims: Claims) -> bool:
        self.verify(claims)
        return False


def apply_policy(policy: Policy, claims: Claims) -> bool:
    """Apply ``policy`` to ``claims`` and report whether it explicitly allowed ``simulated``.

    Parameters
    ----------
    policy
        The policy to apply.
    claims
        Authenticated claims.

    Returns
    -------
    bool
        True when a branch that accepted the claims contains a :class:`BackendIn` listing
        ``"simulated"``. Policies that do not derive from :class:`Rule` never count as
        explicit, so simulated evidence is refused unless Accord's own ``BackendIn`` allows it.

    Raises
    ------
    VerificationError
        If the policy refuses the claims.
    """
    if isinstance(policy, Rule):
        return policy._evaluate(claims)
    policy.verify(claims)
    return False
