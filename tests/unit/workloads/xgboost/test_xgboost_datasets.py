"""Loading sealed CSV, Parquet and LibSVM datasets of several parties into one group."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xgboost
from xgboost_world import ALICE_TRAIN, BOB_TRAIN, World

from accord.crypto.sealed import SealedReader
from accord.errors import KeyMaterialError, UsageError
from accord.workloads.xgboost import (
    DatasetSpec,
    NodeShare,
    decode_predictions,
    load_group,
    xgboost_state,
)

COLUMNS = ["x1", "x2", "x3", "y", "w"]


def rows(seed, count):
    generator = np.random.default_rng(seed)
    values = generator.normal(size=(count, 3)).round(3)
    labels = (values[:, 0] + values[:, 1] > 0).astype(int)
    weights = generator.integers(1, 4, size=count)
    return values, labels, weights


def write_csv(path, seed, count=300, columns=COLUMNS):
    values, labels, weights = rows(seed, count)
    lines = [",".join(columns)]
    for (a, b, c), y, w in zip(values, labels, weights, strict=True):
        lines.append(f"{a},{b},{c},{y},{w}")
    path.write_text("\n".join(lines) + "\n")
    return values.astype(np.float32), labels.astype(np.float32), weights.astype(np.float32)


def write_parquet(path, seed, count=300):
    values, labels, weights = rows(seed, count)
    table = pa.table(
        {
            "x1": values[:, 0],
            "x2": values[:, 1].astype(np.float32),
            "x3": values[:, 2],
            "y": labels,
            "w": weights,
        }
    )
    pq.write_table(table, path)
    return values.astype(np.float32), labels.astype(np.float32), weights.astype(np.float32)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("xgboost-datasets"))


@pytest.fixture(scope="module")
def csv_blobs(world):
    directory = world.directory
    alice = write_csv(directory / "alice.csv", 1)
    bob = write_csv(directory / "bob.csv", 2, count=200)
    alice_blob = world.seal(
        directory / "alice.csv", world.alice, label_column="y", weight_column="w", chunk_size=2048
    )
    bob_blob = world.seal(directory / "bob.csv", world.bob, chunk_size=1024)
    return (alice, alice_blob), (bob, bob_blob)


def test_csv_of_two_parties_loads_as_one_dense_matrix_in_command_order(world, csv_blobs):
    (alice, alice_blob), (bob, bob_blob) = csv_blobs
    node = world.node()
    node.ok(
        "load",
        {
            "as": "joint",
            "datasets": [
                {"name": "a", "owner": "alice", "blob": alice_blob},
                {"name": "b", "owner": "bob", "blob": bob_blob, "label": "y", "weight": "w"},
            ],
        },
    )
    state = xgboost_state(node.runner.executor.workspace)
    group = state.groups["joint"]
    table = group.table
    assert table.feature_names == ("x1", "x2", "x3")
    assert table.features.dtype == np.float32 and table.features.flags.c_contiguous
    np.testing.assert_array_equal(table.features, np.vstack([alice[0], bob[0]]))
    np.testing.assert_array_equal(table.labels, np.concatenate([alice[1], bob[1]]))
    np.testing.assert_array_equal(table.weights, np.concatenate([alice[2], bob[2]]))
    assert [(d.name, d.owner, d.rows) for d in group.datasets] == [
        ("a", "alice", 300),
        ("b", "bob", 200),
    ]
    np.testing.assert_array_equal(state.datasets["b"].table().features, bob[0])


def test_training_on_dense_data_equals_plain_xgboost_with_weights(world, csv_blobs):
    (alice, alice_blob), (bob, bob_blob) = csv_blobs
    node = world.node()
    datasets = [
        {"name": "a", "owner": "alice", "blob": alice_blob},
        {"name": "b", "owner": "bob", "blob": bob_blob, "label": "y", "weight": "w"},
    ]
    node.ok("load", {"as": "joint", "datasets": datasets})
    params = {"objective": "binary:logistic", "max_depth": 2, "seed": 0, "nthread": 1}
    node.ok("train", {"data": "joint", "params": params, "num_boost_round": 5, "model": "m"})
    outputs = node.ok("predict", {"model": "m", "data": "b", "data_owner": "bob"}, ["bob"])
    features = np.vstack([alice[0], bob[0]])
    plain = xgboost.train(
        params,
        xgboost.DMatrix(
            features,
            label=np.concatenate([alice[1], bob[1]]),
            weight=np.concatenate([alice[2], bob[2]]),
            feature_names=["x1", "x2", "x3"],
        ),
        5,
    )
    expected = plain.predict(xgboost.DMatrix(bob[0], feature_names=["x1", "x2", "x3"]))
    got = decode_predictions(outputs[("bob", "predictions")])
    assert np.abs(got - expected).max() <= 1e-6


def test_parquet_loads_with_named_features_in_the_order_given(world):
    values, labels, _ = write_parquet(world.directory / "alice.parquet", 3)
    blob = world.seal(world.directory / "alice.parquet", world.alice)
    node = world.node()
    spec = {"name": "p", "owner": "alice", "blob": blob, "label": "y", "features": ["x3", "x1"]}
    node.ok("load", {"as": "pq", "datasets": [spec]})
    table = xgboost_state(node.runner.executor.workspace).groups["pq"].table
    assert table.feature_names == ("x3", "x1")
    np.testing.assert_array_equal(table.features, values[:, [2, 0]])
    np.testing.assert_array_equal(table.labels, labels)
    assert table.weights is None


def test_parties_whose_feature_columns_differ_are_refused(world):
    write_csv(world.directory / "other.csv", 4, columns=["x1", "x9", "x3", "y", "w"])
    write_csv(world.directory / "mine.csv", 5)
    alice_blob = world.seal(world.directory / "mine.csv", world.alice)
    bob_blob = world.seal(world.directory / "other.csv", world.bob)
    node = world.node()
    error = node.fails(
        "load",
        {
            "as": "joint",
            "datasets": [
                {"name": "a", "owner": "alice", "blob": alice_blob, "label": "y", "weight": "w"},
                {"name": "b", "owner": "bob", "blob": bob_blob, "label": "y", "weight": "w"},
            ],
        },
    )
    assert error.startswith(
        "load: the feature columns of dataset 'b' (bob) differ from those of dataset 'a' "
        "(alice) at position 1"
    )
    assert not xgboost_state(node.runner.executor.workspace).groups  # nothing kept


def test_libsvm_and_csv_cannot_share_a_group(world, csv_blobs):
    (_, alice_blob), _ = csv_blobs
    bob_blob = world.seal(BOB_TRAIN, world.bob, input_format="libsvm")
    error = world.node().fails(
        "load",
        {
            "as": "joint",
            "datasets": [
                {"name": "a", "owner": "alice", "blob": alice_blob},
                {"name": "b", "owner": "bob", "blob": bob_blob},
            ],
        },
    )
    assert "mix LibSVM with CSV or Parquet" in error


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"label": "nope"}, "the command names label column 'nope', but its owner sealed"),
        ({"features": ["x1", "zz"]}, "the file has no column 'zz'"),
        ({"features": ["x1", "y"]}, "column 'y' cannot be a feature and a label"),
        ({"features": ["x1", "x1"]}, "names 'x1' twice"),
    ],
)
def test_bad_column_choices_are_refused_naming_the_column(world, csv_blobs, spec, message):
    (_, alice_blob), _ = csv_blobs
    dataset = {"name": "a", "owner": "alice", "blob": alice_blob, **spec}
    error = world.node().fails("load", {"as": "g", "datasets": [dataset]})
    assert message in error


def test_a_text_feature_column_is_refused_without_showing_its_values(world):
    source = world.directory / "names.csv"
    source.write_text("x1,name,y\n1.5,secret-value,1\n2.5,other-secret,0\n")
    blob = world.seal(source, world.alice, label_column="y")
    error = world.node().fails(
        "load", {"as": "g", "datasets": [{"name": "a", "owner": "alice", "blob": blob}]}
    )
    assert "column 'name' holds string values, not numbers" in error
    assert "secret" not in error


def test_a_missing_label_is_refused(world):
    source = world.directory / "gaps.csv"
    source.write_text("x1,y\n1.5,1\n2.5,\n")
    blob = world.seal(source, world.alice, label_column="y")
    error = world.node().fails(
        "load", {"as": "g", "datasets": [{"name": "a", "owner": "alice", "blob": blob}]}
    )
    assert "the label column 'y' holds a missing or non-finite value" in error


def test_missing_feature_values_become_nan(world):
    source = world.directory / "holes.csv"
    source.write_text("x1,x2,y\n1.5,,1\n,2,0\n")
    blob = world.seal(source, world.alice, label_column="y")
    node = world.node()
    node.ok("load", {"as": "g", "datasets": [{"name": "a", "owner": "alice", "blob": blob}]})
    features = xgboost_state(node.runner.executor.workspace).groups["g"].table.features
    np.testing.assert_array_equal(features, np.array([[1.5, np.nan], [np.nan, 2]], np.float32))


def test_libsvm_rejects_column_arguments(world):
    blob = world.seal(ALICE_TRAIN, world.alice, input_format="libsvm")
    error = world.node().fails(
        "load",
        {"as": "g", "datasets": [{"name": "a", "owner": "alice", "blob": blob, "label": "y"}]},
    )
    assert "LibSVM data has its own labels; argument 'label' applies to CSV and Parquet" in error


def test_a_name_already_loaded_is_refused(world):
    blob = world.seal(ALICE_TRAIN, world.alice, input_format="libsvm")
    node = world.node()
    node.ok("load", {"as": "g", "datasets": [{"name": "a", "owner": "alice", "blob": blob}]})
    for arguments, message in [
        ({"as": "g", "datasets": [{"name": "c", "owner": "alice", "blob": blob}]}, "group 'g'"),
        ({"as": "h", "datasets": [{"name": "a", "owner": "alice", "blob": blob}]}, "dataset 'a'"),
    ]:
        error = node.fails("load", arguments)
        assert f"{message} is already loaded in this session" in error


def test_node_shares_split_the_chunks_so_every_row_is_loaded_once(world):
    blob = world.seal(ALICE_TRAIN, world.alice, input_format="libsvm", chunk_size=32 * 1024)
    node = world.node()
    spec = [DatasetSpec("a", "alice", blob)]
    whole = load_group("g", spec, session=node.session, blobs=world.blobs)
    parts = [
        load_group("g", spec, session=node.session, blobs=world.blobs, share=NodeShare(i, 3))
        for i in range(3)
    ]
    with SealedReader.open(world.blobs.path(blob), world.alice.data_key) as reader:
        assert reader.chunk_count >= 6
    assert all(part.table.num_rows > 0 for part in parts)
    assert sum(part.table.num_rows for part in parts) == whole.table.num_rows
    np.testing.assert_array_equal(
        np.concatenate([part.table.labels for part in parts]), whole.table.labels
    )
    width = whole.table.num_features
    stacked = np.vstack(
        [part.table.features.toarray()[:, : min(width, part.table.num_features)] for part in parts]
    )
    np.testing.assert_array_equal(stacked, whole.table.features.toarray()[:, : stacked.shape[1]])


def test_load_group_refuses_a_key_the_owner_did_not_release(world):
    blob = world.seal(ALICE_TRAIN, world.alice, input_format="libsvm")
    node = world.node(world.bob)
    with pytest.raises(KeyMaterialError, match="party 'alice' must provision it"):
        load_group("g", [DatasetSpec("a", "alice", blob)], session=node.session, blobs=world.blobs)


def test_node_share_out_of_range_is_refused():
    with pytest.raises(UsageError, match="node share 3 of 3 is out of range"):
        NodeShare(3, 3)
    assert NodeShare(1, 2).chunks(5) == range(2, 5)
