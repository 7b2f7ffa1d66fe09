"""Relaying an approved command to the enclave nodes and collecting their results.

When a proposal becomes ``executing`` the relay, in a background thread and within one
deadline (``execute_timeout_seconds``):

1. finds, for each session id of the command, the node that has that session now (a
   session of a node that restarted is gone: the proposal fails and says so);
2. pushes the blobs the arguments name to each of those nodes (``HasBlob``, then a
   streamed ``PutBlob`` if missing);
3. marks the proposal *dispatched* and calls ``Execute`` on every node in parallel with the
   command and every approval collected;
4. records each node's receipt and outputs, or its error, and makes the proposal
   ``executed`` if every node's receipt verifies with its attested session key and says
   ``executed``, ``failed`` otherwise, naming the failed nodes and their reasons.

A node that dies mid-command fails the proposal when the deadline passes at the latest.
The orchestrator reads receipts only to report the outcome; parties verify receipts with
the session keys they attested themselves and open outputs with their own data keys.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent import futures
from typing import Final

from accord.enclave.commands import Command
from accord.enclave.receipts import verify_receipt
from accord.errors import AccordError
from accord.orchestrator.blobs import BlobStore, referenced_blobs
from accord.orchestrator.nodes import DEFAULT_NODE_CALL_TIMEOUT, NodeLink, NodeRegistry
from accord.orchestrator.proposals import ProposalBook
from accord.orchestrator.records import NodeResultRecord, OutputRecord, ProposalRecord
from accord.transport import ServerBusyError, call
from accord.v1 import common_pb2, node_pb2

__all__ = ["Relay"]

_MIN_CALL_SECONDS: Final = 0.05
_STATUS_AFTER_SECONDS: Final = 2.0
_OTHER_NODES_SECONDS: Final = 2.0
_BUSY_RETRY_SECONDS: Final = 0.25
_log = logging.getLogger("accord.orchestrator")


class Relay:
    """Runs executing proposals on the nodes.

    Parameters
    ----------
    book
        The proposals (read, then finished with the nodes' results).
    registry
        The nodes and their attested links.
    blobs
        Where the blobs that commands name are stored.
    execute_timeout
        Seconds from the start of a relay until every node must have answered.
    """

    def __init__(
        self,
        book: ProposalBook,
        registry: NodeRegistry,
        blobs: BlobStore,
        *,
        execute_timeout: float,
    ) -> None:
        self._book = book
        self._registry = registry
        self._blobs = blobs
        self._timeout = execute_timeout
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._closed = False

    def dispatch(self, proposal_id: str) -> None:
        """Relay the proposal in a background thread (returns at once)."""
        with self._lock:
            if self._closed:
                return
            thread = threading.Thread(
                target=self._run, args=(proposal_id,), name=f"accord-relay-{proposal_id[:8]}"
            )
            thread.daemon = True
            self._threads.add(thread)
        thread.start()

    def _run(self, proposal_id: str) -> None:
        try:
            self.relay(proposal_id)
        except Exception:
            if self._closed:  # the database closed under a relay that outlived the shutdown
                _log.warning(
                    "relay of proposal %s cut short by shutdown; the next start resumes or "
                    "fails it",
                    proposal_id,
                )
                return
            # A bug: keep the proposal from hanging in "executing".
            _log.exception("relaying proposal %s failed unexpectedly", proposal_id)
            self._book.finish(
                proposal_id, [], error="the orchestrator failed while relaying; see its log"
            )
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def close(self, timeout: float = 10.0) -> None:
        """Start no more relays and wait up to ``timeout`` seconds for running ones."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def relay(self, proposal_id: str) -> ProposalRecord:
        """Relay an executing proposal now and return it, final.

        Returns
        -------
        ProposalRecord
            The proposal; unchanged if it was not executing.
        """
        record = self._book.get(proposal_id)
        if record.state != "executing":
            return record
        deadline = time.monotonic() + self._timeout
        try:
            command = Command.from_bytes(record.command)
            blob_ids = referenced_blobs(command.arguments)
            for blob_id in blob_ids:
                self._blobs.path(blob_id)
            self._refresh_for(command, deadline)
            links = self._registry.resolve_sessions(command.session_ids)
        except AccordError as error:
            return self._book.finish(proposal_id, [], error=error.message)
        targets = sorted(links.values(), key=lambda link: link.node_id)
        with futures.ThreadPoolExecutor(
            max_workers=len(targets), thread_name_prefix="accord-relay-node"
        ) as pool:
            pushed = list(pool.map(lambda link: self._push(link, blob_ids, deadline), targets))
            failed = [result for result in pushed if result is not None]
            if failed:
                return self._finish(proposal_id, failed, targets)
            self._book.mark_dispatched(proposal_id)
            approvals = [
                common_pb2.Approval(party=a.party, signature=a.signature) for a in record.approvals
            ]
            request = node_pb2.ExecuteRequest(command=record.command, approvals=approvals)
            results = list(
                pool.map(lambda link: self._execute(link, request, proposal_id, deadline), targets)
            )
        for result in results:
            if not result.error:
                self._registry.mark_used(result.node_id)
        # Refresh first, so whoever learns the result also sees the nodes' next sequence.
        self._registry.refresh_many(
            [link.node_id for link in targets],
            timeout=max(self._remaining(deadline), _STATUS_AFTER_SECONDS),
        )
        return self._finish(proposal_id, results, targets)

    def _refresh_for(self, command: Command, deadline: float) -> None:
        """Refresh the nodes last seen with the command's sessions, then briefly the rest.

        A node that does not answer and runs none of the command's sessions delays the
        command by at most :data:`_OTHER_NODES_SECONDS`.
        """
        timeout = min(self._remaining(deadline), DEFAULT_NODE_CALL_TIMEOUT)
        wanted = set(command.session_ids)
        records = self._registry.nodes()
        named = [record.node_id for record in records if record.session_id in wanted]
        self._registry.refresh_many(named, timeout=timeout)
        others = [record.node_id for record in records if record.node_id not in named]
        quick = min(self._remaining(deadline), _OTHER_NODES_SECONDS)
        self._registry.refresh_many(
            others, timeout=timeout, answer_within=quick, skip_if_busy=False
        )

    def _finish(
        self,
        proposal_id: str,
        results: Sequence[NodeResultRecord],
        targets: Sequence[NodeLink],
    ) -> ProposalRecord:
        peers = {link.node_id: link.peer for link in targets}
        errors = [_naming(peers[r.node_id], r.error) for r in results if r.error]
        error = ""
        if errors:
            error = f"{len(errors)} of {len(targets)} node(s) failed: " + "; ".join(errors)
        return self._book.finish(proposal_id, list(results), error=error)

    @staticmethod
    def _remaining(deadline: float) -> float:
        return max(deadline - time.monotonic(), _MIN_CALL_SECONDS)

    def _push(
        self, link: NodeLink, blob_ids: Sequence[str], deadline: float
    ) -> NodeResultRecord | None:
        """Send the node every blob it lacks; return a failed result, or None if all went."""
        for blob_id in blob_ids:
            try:
                info = self._blobs.info(blob_id)
                present = call(
                    link.stub.HasBlob,
                    common_pb2.BlobRef(blob_id=blob_id, size=info.size),
                    peer=link.peer,
                    timeout=self._remaining(deadline),
                )
                if present.present:
                    continue
                _log.info("pushing blob %s to %s", blob_id, link.peer)
                self._put(link, blob_id, deadline)
            except AccordError as error:
                return NodeResultRecord(
                    node_id=link.node_id,
                    session_id=link.session_id,
                    error=f"could not receive blob {blob_id[:16]}..: {error.message}",
                )
        return None

    def _put(self, link: NodeLink, blob_id: str, deadline: float) -> None:
        """Upload one blob; while the node serves its most uploads at once, try again."""
        while True:
            try:
                call(
                    link.stub.PutBlob,
                    self._chunks(blob_id),
                    peer=link.peer,
                    timeout=self._remaining(deadline),
                )
            except ServerBusyError:
                if self._remaining(deadline) <= _BUSY_RETRY_SECONDS * 2:
                    raise
                time.sleep(_BUSY_RETRY_SECONDS)
            else:
                return

    def _chunks(self, blob_id: str) -> Iterator[common_pb2.BlobChunk]:
        first = True
        for data in self._blobs.read(blob_id):
            yield common_pb2.BlobChunk(blob_id=blob_id if first else "", data=data)
            first = False
        if first:  # an empty blob still names itself
            yield common_pb2.BlobChunk(blob_id=blob_id, data=b"")

    def _execute(
        self,
        link: NodeLink,
        request: node_pb2.ExecuteRequest,
        command_digest: str,
        deadline: float,
    ) -> NodeResultRecord:
        try:
            response = call(
                link.stub.Execute, request, peer=link.peer, timeout=self._remaining(deadline)
            )
        except AccordError as error:
            _log.info("%s refused or failed the command: %s", link.peer, error.message)
            return NodeResultRecord(link.node_id, link.session_id, error=error.message)
        outputs = tuple(
            OutputRecord(o.recipient, o.name, bytes(o.sealed), o.digest) for o in response.outputs
        )
        receipt = bytes(response.receipt)
        return NodeResultRecord(
            node_id=link.node_id,
            session_id=link.session_id,
            receipt=receipt,
            outputs=outputs,
            error=_receipt_problem(receipt, link, command_digest),
        )


def _naming(peer: str, error: str) -> str:
    """Return ``error`` so that it starts with ``peer`` (transport errors already do)."""
    return error if error.startswith(peer) else f"{peer}: {error}"


def _receipt_problem(data: bytes, link: NodeLink, command_digest: str) -> str:
    """Return why the node's receipt does not show success, or ``""`` if it does."""
    try:
        receipt = verify_receipt(data, session=link.session_keys)
    except AccordError as error:
        return f"its receipt does not verify: {error.message}"
    if receipt.command_digest != command_digest:
        return f"its receipt is for command {receipt.command_digest[:16]}.., not this one"
    if receipt.status != "executed":
        reason = receipt.error or "no reason given"
        return f"the command {receipt.status} in the enclave: {reason}"
    return ""
