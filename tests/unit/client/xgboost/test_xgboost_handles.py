"""Datasets and RemoteDMatrix: names and blob ids as a load command carries them."""

import pytest

from accord.client.xgboost import Dataset, RemoteDMatrix
from accord.errors import UsageError

BLOB_A = "a" * 64
BLOB_B = "b" * 64


def group():
    return RemoteDMatrix(
        "test",
        (
            Dataset("alice_test", "alice", BLOB_A),
            Dataset("bob_test", "bob", BLOB_B, label="y", features=["x1", "x2"]),
        ),
    )


def test_a_dataset_becomes_exactly_the_load_argument_and_back():
    dataset = Dataset("bob_test", "bob", BLOB_B, label="y", weight="w", features=["x1", "x2"])
    item = dataset.to_argument()
    assert item == {
        "name": "bob_test",
        "owner": "bob",
        "blob": BLOB_B,
        "label": "y",
        "weight": "w",
        "features": ["x1", "x2"],
    }
    assert Dataset.from_argument(item) == dataset
    assert Dataset("a", "alice", BLOB_A).to_argument() == {
        "name": "a",
        "owner": "alice",
        "blob": BLOB_A,
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("bad name!", "alice", BLOB_A), "a dataset name must be a name"),
        (("-x", "alice", BLOB_A), "starting with a letter or digit"),
        (("x", "", BLOB_A), "needs an owner"),
        (("x", "alice", "A" * 64), "not a blob id"),
        (("x", "alice", "a" * 63), "not a blob id"),
    ],
)
def test_bad_datasets_are_refused_naming_the_problem(arguments, message):
    with pytest.raises(UsageError, match=message):
        Dataset(*arguments)


def test_a_group_names_its_datasets_and_their_owners():
    test = group()
    assert test.is_group and test.owners == ("alice", "bob")
    assert test["bob_test"] == RemoteDMatrix("bob_test", (test.datasets[1],))
    assert not test["bob_test"].is_group
    assert test.owned_by("alice").name == "alice_test"
    assert test.describe() == "test [alice_test (alice), bob_test (bob)]"


def test_a_party_without_exactly_one_dataset_in_the_group_cannot_predict_on_it():
    with pytest.raises(UsageError, match="holds 0 datasets of carol"):
        group().owned_by("carol")
    both = RemoteDMatrix("two", (Dataset("a1", "alice", BLOB_A), Dataset("a2", "alice", BLOB_B)))
    with pytest.raises(UsageError, match="holds 2 datasets of alice"):
        both.owned_by("alice")
    with pytest.raises(UsageError, match="has no dataset 'nope'"):
        group()["nope"]


def test_groups_refuse_repeated_or_missing_datasets():
    with pytest.raises(UsageError, match="holds no dataset"):
        RemoteDMatrix("empty", ())
    with pytest.raises(UsageError, match="repeats a name"):
        RemoteDMatrix("g", (Dataset("a", "alice", BLOB_A), Dataset("a", "bob", BLOB_B)))
    with pytest.raises(UsageError, match="repeats a name"):
        RemoteDMatrix("a", (Dataset("a", "alice", BLOB_A), Dataset("b", "bob", BLOB_B)))


def test_a_handle_is_rebuilt_from_an_approved_load_command():
    test = group()
    arguments = {"as": "test", "datasets": [d.to_argument() for d in test.datasets]}
    assert RemoteDMatrix.from_load_arguments(arguments) == test
    with pytest.raises(UsageError, match="not the arguments of a load command"):
        RemoteDMatrix.from_load_arguments({"model": "m"})
    with pytest.raises(UsageError, match="is not a dataset of a load command"):
        RemoteDMatrix.from_load_arguments({"as": "t", "datasets": [{"name": "x"}]})
