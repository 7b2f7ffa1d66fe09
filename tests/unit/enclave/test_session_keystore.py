import copy
import pickle

import pytest

from accord.crypto.keys import SECRET_KEY_ACCESS, DataKey
from accord.enclave import SessionKeyStore
from accord.errors import KeyMaterialError, VerificationError


def test_add_and_fetch_by_key_id():
    store = SessionKeyStore()
    key = DataKey.generate()
    assert store.add("alice", key) == key.key_id
    assert store.data_key(key.key_id) is key
    assert store.data_key(key.key_id, owner="alice") is key
    assert key.key_id in store
    assert len(store) == 1
    assert dict(store.owners) == {key.key_id: "alice"}


def test_adding_the_same_key_twice_is_idempotent():
    store = SessionKeyStore()
    key = DataKey.generate()
    store.add("alice", key)
    assert (
        store.add("alice", DataKey(key.export_bytes(SECRET_KEY_ACCESS), SECRET_KEY_ACCESS))
        == key.key_id
    )
    assert len(store) == 1
    assert store.data_key(key.key_id) is key


def test_a_party_cannot_claim_a_key_another_party_released():
    store = SessionKeyStore()
    key = DataKey.generate()
    store.add("alice", key)
    with pytest.raises(VerificationError) as caught:
        store.add("bob", key)
    assert f"key {key.key_id} was released to this session by party 'alice'" in caught.value.message
    assert "party 'bob' cannot release it under its own name" in caught.value.message
    assert dict(store.owners) == {key.key_id: "alice"}


def test_missing_key_names_the_key_and_the_party_that_must_provision_it():
    store = SessionKeyStore()
    with pytest.raises(KeyMaterialError) as caught:
        store.data_key("ab" * 16, owner="bob")
    assert caught.value.message == (
        f"data key {'ab' * 16} has not been released to this enclave session; "
        "party 'bob' must provision it"
    )
    with pytest.raises(KeyMaterialError, match="the party that sealed the data must provision it"):
        store.data_key("ab" * 16)


def test_a_key_released_by_another_party_than_the_data_owner_is_refused():
    store = SessionKeyStore()
    key = DataKey.generate()
    store.add("bob", key)
    with pytest.raises(KeyMaterialError, match="was released by party 'bob', not by 'alice'"):
        store.data_key(key.key_id, owner="alice")


def test_store_is_not_picklable_or_copyable_and_repr_has_no_secret():
    store = SessionKeyStore()
    key = DataKey.generate()
    store.add("alice", key)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(store)
    with pytest.raises(TypeError, match="cannot be copied"):
        copy.copy(store)
    with pytest.raises(TypeError, match="cannot be copied"):
        copy.deepcopy(store)
    assert repr(store) == "SessionKeyStore(1 keys)"


def test_owners_is_a_read_only_snapshot():
    store = SessionKeyStore()
    owners = store.owners
    with pytest.raises(TypeError):
        owners["x"] = "mallory"
    store.add("alice", DataKey.generate())
    assert len(owners) == 0
    assert len(store.owners) == 1
