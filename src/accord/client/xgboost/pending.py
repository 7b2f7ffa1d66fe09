"""A proposed command that other parties still have to approve: :class:`Pending`.

Every call of the XGBoost facade is a command that the agreement's approval rule must be
met for before any enclave runs it. With ``wait=False`` a facade call returns a
:class:`Pending` at once; the other parties inspect and approve the proposal on their own
machines (``accord pending``, then ``accord approve ID``; or ``client.show(id)`` and
``client.approve(id)`` in the SDK), and :meth:`Pending.wait` then returns the call's value.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from accord.errors import UsageError

if TYPE_CHECKING:
    from accord.client.results import Result
    from accord.client.sdk import Client
    from accord.client.xgboost.progress import ProgressFollower

__all__ = ["Pending"]

T = TypeVar("T")


class Pending(Generic[T]):
    """A facade call proposed as a command, waiting for approvals and execution.

    Made by the facade's methods when called with ``wait=False``.

    Attributes
    ----------
    proposal_id
        The command's digest: what the other parties approve (``accord approve ID``).
    operation
        The operation proposed (``"train"``, ``"predict"``, ...).
    """

    def __init__(
        self,
        client: Client,
        proposal_id: str,
        operation: str,
        finish: Callable[[Result], T],
        *,
        deadline: float,
        follow: ProgressFollower | None = None,
        poll_interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.proposal_id = proposal_id
        self.operation = operation
        self._client = client
        self._finish = finish
        self._deadline = deadline
        self._follow = follow
        self._poll_interval = poll_interval
        self._clock = clock
        self._sleep = sleep
        self._value: tuple[T] | None = None

    def show(self) -> str:
        """Return the full proposal as the other parties see it before they sign."""
        return self._client.show(self.proposal_id)

    def wait(self, timeout: float | None = None) -> T:
        """Wait until the command ran on every node and return the call's value.

        Parameters
        ----------
        timeout
            Seconds to wait; by default until the proposal's approval deadline plus the
            facade's ``run_timeout``.

        Returns
        -------
        T
            What the facade call returns with ``wait=True``.

        Raises
        ------
        ApprovalError
            If a party rejected the proposal (naming it and its reason), or it expired
            before the agreement's rule was met (naming who did not approve).
        CommandFailedError
            If an enclave refused or failed the command (each node's reason attached).
        TransportError
            If it is still not final after ``timeout`` seconds; call :meth:`wait` again.
        """
        if self._value is not None:
            return self._value[0]
        seconds = self._deadline - self._clock() if timeout is None else timeout
        if seconds <= 0:
            seconds = 1.0  # one last look: the proposal may have become final meanwhile
        if self._follow is None:
            result = self._client.wait(self.proposal_id, timeout=seconds)
        else:
            try:
                result = self._wait_polling(self._follow, seconds)
            finally:
                self._follow.close()
        value = self._finish(result)
        self._value = (value,)
        return value

    def _wait_polling(self, follow: ProgressFollower, seconds: float) -> Result:
        """Wait, polling ``follow`` about every ``poll_interval`` (progress reports)."""
        deadline = self._clock() + seconds
        while True:
            follow.poll()
            final = self._client.proposal(self.proposal_id).is_final
            remaining = deadline - self._clock()
            if final or remaining <= self._poll_interval:
                result = self._client.wait(self.proposal_id, timeout=max(remaining, 1.0))
                follow.poll()  # the last rounds
                return result
            self._sleep(self._poll_interval)

    def __repr__(self) -> str:
        state = "done" if self._value is not None else "waiting"
        return f"Pending({self.operation!r}, proposal_id={self.proposal_id[:16]!r}.., {state})"


def require_positive(value: float, what: str) -> float:
    """Return ``value`` if it is a positive number of seconds.

    Raises
    ------
    UsageError
        Otherwise, naming ``what``.
    """
    if not value > 0:
        raise UsageError(f"{what} must be a positive number of seconds, not {value}")
    return value
