from accord.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AttestRequest(_message.Message):
    __slots__ = ("nonce",)
    NONCE_FIELD_NUMBER: _ClassVar[int]
    nonce: bytes
    def __init__(self, nonce: _Optional[bytes] = ...) -> None: ...

class AttestResponse(_message.Message):
    __slots__ = ("bundle",)
    BUNDLE_FIELD_NUMBER: _ClassVar[int]
    bundle: bytes
    def __init__(self, bundle: _Optional[bytes] = ...) -> None: ...

class ProvisionKeyRequest(_message.Message):
    __slots__ = ("key_release",)
    KEY_RELEASE_FIELD_NUMBER: _ClassVar[int]
    key_release: bytes
    def __init__(self, key_release: _Optional[bytes] = ...) -> None: ...

class ProvisionKeyResponse(_message.Message):
    __slots__ = ("key_id", "session_id")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    session_id: str
    def __init__(self, key_id: _Optional[str] = ..., session_id: _Optional[str] = ...) -> None: ...

class HasBlobResponse(_message.Message):
    __slots__ = ("present",)
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    present: bool
    def __init__(self, present: _Optional[bool] = ...) -> None: ...

class ExecuteRequest(_message.Message):
    __slots__ = ("command", "approvals")
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    command: bytes
    approvals: _containers.RepeatedCompositeFieldContainer[_common_pb2.Approval]
    def __init__(self, command: _Optional[bytes] = ..., approvals: _Optional[_Iterable[_Union[_common_pb2.Approval, _Mapping]]] = ...) -> None: ...

class ExecuteResponse(_message.Message):
    __slots__ = ("receipt", "outputs")
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    receipt: bytes
    outputs: _containers.RepeatedCompositeFieldContainer[_common_pb2.Output]
    def __init__(self, receipt: _Optional[bytes] = ..., outputs: _Optional[_Iterable[_Union[_common_pb2.Output, _Mapping]]] = ...) -> None: ...

class AuditLogRequest(_message.Message):
    __slots__ = ("from_index",)
    FROM_INDEX_FIELD_NUMBER: _ClassVar[int]
    from_index: int
    def __init__(self, from_index: _Optional[int] = ...) -> None: ...

class AuditLogResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, entries: _Optional[_Iterable[bytes]] = ...) -> None: ...

class NodeStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NodeStatus(_message.Message):
    __slots__ = ("session_id", "agreement_digest", "next_sequence", "key_ids", "backend")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    NEXT_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    agreement_digest: str
    next_sequence: int
    key_ids: _containers.RepeatedScalarFieldContainer[str]
    backend: str
    def __init__(self, session_id: _Optional[str] = ..., agreement_digest: _Optional[str] = ..., next_sequence: _Optional[int] = ..., key_ids: _Optional[_Iterable[str]] = ..., backend: _Optional[str] = ...) -> None: ...

class FederationRequest(_message.Message):
    __slots__ = ("command_digest",)
    COMMAND_DIGEST_FIELD_NUMBER: _ClassVar[int]
    command_digest: str
    def __init__(self, command_digest: _Optional[str] = ...) -> None: ...

class FederationResponse(_message.Message):
    __slots__ = ("offer", "state", "error")
    OFFER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    offer: bytes
    state: str
    error: str
    def __init__(self, offer: _Optional[bytes] = ..., state: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class ProgressRequest(_message.Message):
    __slots__ = ("model", "start_round")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    START_ROUND_FIELD_NUMBER: _ClassVar[int]
    model: str
    start_round: int
    def __init__(self, model: _Optional[str] = ..., start_round: _Optional[int] = ...) -> None: ...

class ProgressResponse(_message.Message):
    __slots__ = ("rounds",)
    ROUNDS_FIELD_NUMBER: _ClassVar[int]
    rounds: bytes
    def __init__(self, rounds: _Optional[bytes] = ...) -> None: ...
