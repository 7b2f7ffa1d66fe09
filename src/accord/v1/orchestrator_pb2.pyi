from accord.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NodeInfo(_message.Message):
    __slots__ = ("node_id", "address", "session_id", "state", "next_sequence", "tls_certificate")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    NEXT_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TLS_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    address: str
    session_id: str
    state: str
    next_sequence: int
    tls_certificate: bytes
    def __init__(self, node_id: _Optional[str] = ..., address: _Optional[str] = ..., session_id: _Optional[str] = ..., state: _Optional[str] = ..., next_sequence: _Optional[int] = ..., tls_certificate: _Optional[bytes] = ...) -> None: ...

class ListNodesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListNodesResponse(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[NodeInfo]
    def __init__(self, nodes: _Optional[_Iterable[_Union[NodeInfo, _Mapping]]] = ...) -> None: ...

class RegisterNodeRequest(_message.Message):
    __slots__ = ("node_id", "address")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    address: str
    def __init__(self, node_id: _Optional[str] = ..., address: _Optional[str] = ...) -> None: ...

class ProposeRequest(_message.Message):
    __slots__ = ("command", "approval")
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    command: bytes
    approval: _common_pb2.Approval
    def __init__(self, command: _Optional[bytes] = ..., approval: _Optional[_Union[_common_pb2.Approval, _Mapping]] = ...) -> None: ...

class ApproveRequest(_message.Message):
    __slots__ = ("proposal_id", "approval")
    PROPOSAL_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    proposal_id: str
    approval: _common_pb2.Approval
    def __init__(self, proposal_id: _Optional[str] = ..., approval: _Optional[_Union[_common_pb2.Approval, _Mapping]] = ...) -> None: ...

class RejectRequest(_message.Message):
    __slots__ = ("proposal_id", "party", "reason", "signature")
    PROPOSAL_ID_FIELD_NUMBER: _ClassVar[int]
    PARTY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    proposal_id: str
    party: str
    reason: str
    signature: bytes
    def __init__(self, proposal_id: _Optional[str] = ..., party: _Optional[str] = ..., reason: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class Rejection(_message.Message):
    __slots__ = ("party", "reason")
    PARTY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    party: str
    reason: str
    def __init__(self, party: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class NodeResult(_message.Message):
    __slots__ = ("node_id", "session_id", "receipt", "outputs", "error")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    session_id: str
    receipt: bytes
    outputs: _containers.RepeatedCompositeFieldContainer[_common_pb2.Output]
    error: str
    def __init__(self, node_id: _Optional[str] = ..., session_id: _Optional[str] = ..., receipt: _Optional[bytes] = ..., outputs: _Optional[_Iterable[_Union[_common_pb2.Output, _Mapping]]] = ..., error: _Optional[str] = ...) -> None: ...

class ProposalView(_message.Message):
    __slots__ = ("proposal_id", "command", "approvals", "state", "error", "results", "rejections")
    PROPOSAL_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    proposal_id: str
    command: bytes
    approvals: _containers.RepeatedCompositeFieldContainer[_common_pb2.Approval]
    state: str
    error: str
    results: _containers.RepeatedCompositeFieldContainer[NodeResult]
    rejections: _containers.RepeatedCompositeFieldContainer[Rejection]
    def __init__(self, proposal_id: _Optional[str] = ..., command: _Optional[bytes] = ..., approvals: _Optional[_Iterable[_Union[_common_pb2.Approval, _Mapping]]] = ..., state: _Optional[str] = ..., error: _Optional[str] = ..., results: _Optional[_Iterable[_Union[NodeResult, _Mapping]]] = ..., rejections: _Optional[_Iterable[_Union[Rejection, _Mapping]]] = ...) -> None: ...

class GetProposalRequest(_message.Message):
    __slots__ = ("proposal_id",)
    PROPOSAL_ID_FIELD_NUMBER: _ClassVar[int]
    proposal_id: str
    def __init__(self, proposal_id: _Optional[str] = ...) -> None: ...

class ListProposalsRequest(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: str
    def __init__(self, state: _Optional[str] = ...) -> None: ...

class ListProposalsResponse(_message.Message):
    __slots__ = ("proposals",)
    PROPOSALS_FIELD_NUMBER: _ClassVar[int]
    proposals: _containers.RepeatedCompositeFieldContainer[ProposalView]
    def __init__(self, proposals: _Optional[_Iterable[_Union[ProposalView, _Mapping]]] = ...) -> None: ...

class WaitProposalRequest(_message.Message):
    __slots__ = ("proposal_id", "timeout_ms")
    PROPOSAL_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    proposal_id: str
    timeout_ms: int
    def __init__(self, proposal_id: _Optional[str] = ..., timeout_ms: _Optional[int] = ...) -> None: ...
