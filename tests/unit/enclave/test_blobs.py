"""The node's content-addressed blob store: only whole blobs that hash to their id are kept."""

import hashlib
import stat

import pytest

from accord.enclave.blobs import BlobStore, StoredBlob, check_blob_id
from accord.errors import IntegrityError, UsageError

DATA = b"sealed ciphertext " * 1000


def blob_id(data):
    return hashlib.sha256(data).hexdigest()


def pieces(data, size=4096):
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.fixture
def store(tmp_path):
    return BlobStore(tmp_path / "blobs", max_blob_bytes=64 * 1024)


def files_in(store):
    return sorted(entry.name for entry in store.directory.iterdir())


def test_a_streamed_blob_is_stored_under_its_id(store):
    stored = store.put(blob_id(DATA), pieces(DATA))
    assert stored == StoredBlob(blob_id=blob_id(DATA), size=len(DATA))
    assert store.has(blob_id(DATA))
    assert store.path(blob_id(DATA)).read_bytes() == DATA
    assert store.size(blob_id(DATA)) == len(DATA)
    assert files_in(store) == [blob_id(DATA)]


def test_blob_files_and_folder_are_private(store):
    store.put(blob_id(DATA), [DATA])
    assert stat.S_IMODE(store.path(blob_id(DATA)).stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700


def test_storing_the_same_blob_again_keeps_one_copy(store):
    store.put(blob_id(DATA), [DATA])
    store.put(blob_id(DATA), pieces(DATA, 1000))
    assert files_in(store) == [blob_id(DATA)]
    assert store.path(blob_id(DATA)).read_bytes() == DATA


def test_bytes_that_do_not_hash_to_the_claimed_id_are_refused_and_leave_nothing(store):
    claimed = blob_id(DATA)
    tampered = DATA[:-1] + b"X"
    with pytest.raises(IntegrityError, match=f"claimed to be blob {claimed}") as caught:
        store.put(claimed, pieces(tampered))
    assert blob_id(tampered) in caught.value.message
    assert "nothing was stored" in caught.value.message
    assert not store.has(claimed)
    assert files_in(store) == []


def test_a_truncated_upload_is_refused(store):
    with pytest.raises(IntegrityError, match="hash to"):
        store.put(blob_id(DATA), pieces(DATA)[:-1])
    assert files_in(store) == []


def test_a_blob_over_the_size_limit_is_refused_and_leaves_nothing(store):
    big = b"x" * (64 * 1024 + 1)
    with pytest.raises(UsageError, match="larger than this node's limit of 65536 bytes"):
        store.put(blob_id(big), pieces(big))
    assert files_in(store) == []


def test_a_blob_at_the_size_limit_is_accepted(store):
    exact = b"y" * (64 * 1024)
    assert store.put(blob_id(exact), pieces(exact)).size == 64 * 1024


def test_an_upload_that_breaks_off_leaves_nothing(store):
    def broken():
        yield DATA[:100]
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        store.put(blob_id(DATA), broken())
    assert files_in(store) == []


def test_a_chunk_that_is_not_bytes_is_refused(store):
    with pytest.raises(UsageError, match="not bytes"):
        store.put(blob_id(DATA), [DATA[:10], "text"])
    assert files_in(store) == []


@pytest.mark.parametrize(
    "bad",
    ["", "ab" * 31, "AB" * 32, "g" * 64, "../" + "a" * 61, "a" * 64 + "/x", "a" * 65],
)
def test_malformed_blob_ids_are_refused_everywhere(store, bad):
    with pytest.raises(UsageError, match="not a SHA-256 digest"):
        check_blob_id(bad)
    with pytest.raises(UsageError, match="not a SHA-256 digest"):
        store.has(bad)
    with pytest.raises(UsageError, match="not a SHA-256 digest"):
        store.path(bad)
    with pytest.raises(UsageError, match="not a SHA-256 digest"):
        store.put(bad, [DATA])
    assert files_in(store) == []


def test_a_missing_blob_is_named_with_what_to_do(store):
    missing = blob_id(b"never uploaded")
    assert not store.has(missing)
    with pytest.raises(UsageError, match=f"blob {missing} is not on this node") as caught:
        store.path(missing)
    assert "upload" in caught.value.hint


def test_unfinished_uploads_from_an_earlier_run_are_removed(tmp_path):
    directory = tmp_path / "blobs"
    first = BlobStore(directory)
    first.put(blob_id(DATA), [DATA])
    leftover = directory / f".{blob_id(b'other')}.k2j3h4.partial"
    leftover.write_bytes(b"half an upload")
    second = BlobStore(directory)
    assert not leftover.exists()
    assert second.path(blob_id(DATA)).read_bytes() == DATA


@pytest.mark.parametrize("limit", [0, -1, True, 1.5])
def test_a_nonsensical_size_limit_is_refused(tmp_path, limit):
    with pytest.raises(UsageError, match="max_blob_bytes"):
        BlobStore(tmp_path / "blobs", max_blob_bytes=limit)


def test_a_blob_folder_that_is_a_file_is_refused(tmp_path):
    path = tmp_path / "not-a-folder"
    path.write_text("x")
    with pytest.raises(UsageError, match="cannot create the blob folder"):
        BlobStore(path)
