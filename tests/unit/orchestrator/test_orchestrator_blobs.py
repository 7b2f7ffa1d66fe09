"""The orchestrator's blob store: content addressed, streamed, checked, nothing half-written."""

import os

import pytest
from orchestrator_helpers import blob_id_of

from accord.errors import IntegrityError, UsageError
from accord.orchestrator.blobs import CHUNK_BYTES, BlobStore, referenced_blobs


def chunks_of(data, size=1000):
    return (data[i : i + size] for i in range(0, len(data), size))


def leftovers(store):
    return [p for p in store.root.rglob("*") if p.is_file()]


def test_a_blob_is_stored_under_its_hash_and_streamed_back_in_mebibyte_chunks(tmp_path):
    store = BlobStore(tmp_path / "blobs", max_bytes=10 * CHUNK_BYTES)
    data = os.urandom(2 * CHUNK_BYTES + 17)
    blob_id = blob_id_of(data)
    info = store.write(blob_id, chunks_of(data, 65536))
    assert (info.blob_id, info.size) == (blob_id, len(data))
    assert store.has(blob_id)
    assert store.path(blob_id) == tmp_path / "blobs" / blob_id[:2] / blob_id
    chunks = list(store.read(blob_id))
    assert [len(c) for c in chunks] == [CHUNK_BYTES, CHUNK_BYTES, 17]
    assert b"".join(chunks) == data
    assert store.info(blob_id).size == len(data)


def test_bytes_that_do_not_hash_to_the_claimed_id_are_not_stored(tmp_path):
    store = BlobStore(tmp_path / "blobs", max_bytes=1 << 20)
    claimed = blob_id_of(b"the real file")
    with pytest.raises(IntegrityError, match="not to the blob id") as caught:
        store.write(claimed, [b"a swapped file"])
    assert "nothing was stored" in caught.value.message
    assert not store.has(claimed)
    assert leftovers(store) == []


def test_a_blob_over_the_size_limit_is_refused_without_a_trace(tmp_path):
    store = BlobStore(tmp_path / "blobs", max_bytes=100)
    data = b"x" * 101
    with pytest.raises(UsageError, match="larger than this orchestrator's limit of 100 bytes"):
        store.write(blob_id_of(data), chunks_of(data, 10))
    assert leftovers(store) == []


def test_an_upload_that_breaks_off_leaves_nothing(tmp_path):
    store = BlobStore(tmp_path / "blobs", max_bytes=1 << 20)

    def broken():
        yield b"first part"
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        store.write(blob_id_of(b"first part and more"), broken())
    assert leftovers(store) == []


def test_malformed_or_unknown_ids_are_refused(tmp_path):
    store = BlobStore(tmp_path / "blobs", max_bytes=100)
    with pytest.raises(UsageError, match="not a SHA-256 digest"):
        store.write("../../etc/passwd", [b""])
    with pytest.raises(UsageError, match="not a SHA-256 digest"):
        store.has("AB" * 32)
    with pytest.raises(UsageError, match="is not stored at the orchestrator"):
        store.read("ab" * 32)


def test_the_empty_blob_is_a_blob(tmp_path):
    store = BlobStore(tmp_path / "blobs", max_bytes=100)
    blob_id = blob_id_of(b"")
    assert store.write(blob_id, []).size == 0
    assert list(store.read(blob_id)) == []


def test_blob_ids_are_found_under_keys_ending_in_blob_or_blobs():
    one, two, three = (blob_id_of(bytes([n])) for n in range(3))
    arguments = {
        "data_blob": one,
        "inputs": [{"blobs": [two, one]}, {"label": "y"}],
        "nested": {"model_blob": three},
        "message": one[:10],
    }
    assert referenced_blobs(arguments) == [one, two, three]
    assert referenced_blobs({"message": "hello"}) == []


@pytest.mark.parametrize(
    "arguments", [{"blob": "not-a-hash"}, {"data_blobs": "ab" * 32}, {"blobs": [1]}]
)
def test_malformed_blob_references_are_refused(arguments):
    with pytest.raises(UsageError):
        referenced_blobs(arguments)
