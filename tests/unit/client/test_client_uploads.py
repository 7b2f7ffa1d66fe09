"""Only sealed files are uploaded, streamed in protocol-sized chunks, acknowledged exactly."""

import hashlib

import pytest
from client_helpers import FAST

from accord.client.session import require_party
from accord.client.uploads import UPLOAD_CHUNK_BYTES, blob_chunks, upload_sealed_file
from accord.crypto.sealed import seal_bytes
from accord.errors import KeyMaterialError, UsageError, VerificationError
from accord.party import PartyIdentity
from accord.v1 import common_pb2


@pytest.fixture
def sealed(tmp_path, world):
    path = tmp_path / "big.sealed"
    data = bytes(range(256)) * (UPLOAD_CHUNK_BYTES // 256 * 2 + 3)
    path.write_bytes(seal_bytes(data, world["parties"]["alice"].data_key))
    return path


def test_a_sealed_file_is_streamed_whole_and_named_in_the_first_chunk(sealed):
    received = []

    def send(chunks, timeout):
        received.extend(chunks)
        data = b"".join(c.data for c in received)
        return common_pb2.BlobRef(blob_id=hashlib.sha256(data).hexdigest(), size=len(data))

    blob_id = upload_sealed_file(send, sealed, timeout=5)
    assert blob_id == hashlib.sha256(sealed.read_bytes()).hexdigest()
    assert received[0].blob_id == blob_id and all(not c.blob_id for c in received[1:])
    assert all(len(c.data) <= UPLOAD_CHUNK_BYTES for c in received)
    assert len(received) == 3


def test_an_acknowledgement_of_other_bytes_is_refused(sealed):
    def send(chunks, timeout):
        list(chunks)
        return common_pb2.BlobRef(blob_id="00" * 32, size=1)

    with pytest.raises(VerificationError, match="acknowledged blob 0000000000000000"):
        upload_sealed_file(send, sealed, timeout=5)


def test_plaintext_never_leaves(tmp_path):
    plain = tmp_path / "secret.csv"
    plain.write_text("name,salary\nalice,1\n")

    def send(chunks, timeout):
        raise AssertionError("nothing may be sent")

    with pytest.raises(UsageError, match=r"secret.csv is not an Accord sealed file"):
        upload_sealed_file(send, plain, timeout=5)


def test_an_empty_file_is_one_empty_chunk(tmp_path):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert [c.data for c in blob_chunks(empty, "ab" * 32)] == [b""]


def test_only_the_listed_party_identity_may_connect(world, tmp_path):
    from accord.agreement import load_signed_agreement

    agreement = load_signed_agreement(world["agreement_path"])
    require_party(world["parties"]["alice"], agreement)
    with pytest.raises(KeyMaterialError, match="'mallory' is not a party"):
        require_party(world["parties"]["mallory"], agreement)
    impostor = PartyIdentity.create("alice", tmp_path / "alice", passphrase=None, argon2=FAST)
    with pytest.raises(KeyMaterialError, match=r"signing key .* is not the key the agreement"):
        require_party(impostor, agreement)
