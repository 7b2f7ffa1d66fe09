from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class BlobChunk(_message.Message):
    __slots__ = ("blob_id", "data")
    BLOB_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    blob_id: str
    data: bytes
    def __init__(self, blob_id: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class BlobRef(_message.Message):
    __slots__ = ("blob_id", "size")
    BLOB_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    blob_id: str
    size: int
    def __init__(self, blob_id: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class Approval(_message.Message):
    __slots__ = ("party", "signature")
    PARTY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    party: str
    signature: bytes
    def __init__(self, party: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class Output(_message.Message):
    __slots__ = ("recipient", "name", "sealed", "digest")
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SEALED_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    recipient: str
    name: str
    sealed: bytes
    digest: str
    def __init__(self, recipient: _Optional[str] = ..., name: _Optional[str] = ..., sealed: _Optional[bytes] = ..., digest: _Optional[str] = ...) -> None: ...
