"""The demo's pieces in process: options, data split, scoring, the checks behind "succeeded"."""

from io import StringIO

import numpy as np
import pytest
from rich.console import Console

from accord.demo import DemoOptions
from accord.demo.narration import Narrator
from accord.demo.party_steps import (
    PartyInputs,
    PartyOutcome,
    accuracy,
    create_identities,
    read_labels,
    seal_inputs,
    show_refusals,
)
from accord.demo.scenario import (
    DATA_FILES,
    TEST_FILE,
    DemoResult,
    _inputs,
    demo_data_path,
    split_lines,
)
from accord.errors import UsageError


def narrator():
    out = StringIO()
    return Narrator(Console(file=out, width=200)), out


@pytest.mark.parametrize("parties", [1, 5])
def test_party_count_outside_range_is_a_usage_error(parties):
    with pytest.raises(UsageError, match="2 to 4 parties"):
        DemoOptions(parties=parties)


@pytest.mark.parametrize("nodes", [0, 5])
def test_node_count_outside_range_is_a_usage_error(nodes):
    with pytest.raises(UsageError, match="1 to 4 enclave nodes"):
        DemoOptions(nodes=nodes)


def line_count(path):
    return path.read_bytes().count(b"\n")


@pytest.mark.parametrize("parties", [2, 3, 4])
def test_every_shipped_row_goes_to_exactly_one_party(tmp_path, parties):
    names = ("alice", "bob", "carol", "dave")[:parties]
    inputs = _inputs(names, tmp_path)
    assert list(inputs) == list(names)
    train = b"".join(inputs[n].train.read_bytes() for n in names)
    test = b"".join(inputs[n].test.read_bytes() for n in names)
    assert train == b"".join(demo_data_path(f).read_bytes() for f in DATA_FILES)
    assert test == demo_data_path(TEST_FILE).read_bytes()
    sizes = [line_count(inputs[n].test) for n in names]
    assert max(sizes) - min(sizes) <= 1


def test_split_lines_makes_near_equal_contiguous_parts(tmp_path):
    source = tmp_path / "rows"
    source.write_bytes(b"".join(b"%d\n" % i for i in range(10)))
    parts = split_lines([source], 3, tmp_path, "x")
    assert [p.read_bytes().split() for p in parts] == [
        [b"0", b"1", b"2", b"3"],
        [b"4", b"5", b"6"],
        [b"7", b"8", b"9"],
    ]


def test_accuracy_compares_predicted_classes_with_labels(tmp_path):
    path = tmp_path / "rows.libsvm"
    path.write_text("1 3:1\n0 2:1\n1 9:1\n0 1:1\n")
    labels = read_labels(path)
    assert labels.tolist() == [1.0, 0.0, 1.0, 0.0]
    assert accuracy(np.array([0.9, 0.2, 0.4, 0.1], np.float32), labels) == 0.75
    assert accuracy(np.array([0.9], np.float32), labels) == 0.0  # wrong length never passes


PARTY_FIELDS = {"accuracy", "predictions", "key_released_to"}


def finished(**changes):
    party = PartyOutcome(
        "alice",
        train_rows=10,
        test_rows=4,
        key_released_to=["node-1", "node-2"],
        predictions=4,
        accuracy=0.95,
    )
    result = DemoResult(work_dir=None, parties=[party], nodes=2, rounds=10, audit_verified=True)
    for name, value in changes.items():
        setattr(party if name in PARTY_FIELDS else result, name, value)
    return result


def test_the_demo_succeeds_only_when_every_check_passed():
    assert finished().ok
    assert not finished(accuracy=0.89).ok
    assert not finished(predictions=3).ok
    assert not finished(key_released_to=["node-1"]).ok
    assert not finished(audit_verified=False).ok
    assert not finished(rounds=0).ok
    assert not finished(error="step 9: CommandFailedError: ...").ok
    summary = finished().to_json()
    assert summary["ok"] is True and summary["parties"][0]["accuracy"] == 0.95


def test_narration_prints_text_literally():
    narration, out = narrator()
    narration.say("alice", "arguments [bold]not markup[/bold]")
    narration.block('"evals": [["train", "train"]]')
    assert "[bold]not markup[/bold]" in out.getvalue()
    assert '[["train", "train"]]' in out.getvalue()


def test_wrong_key_and_tampering_are_refused_and_leave_no_plaintext(tmp_path):
    narration, out = narrator()
    names = ["alice", "bob"]
    identities = create_identities(names, tmp_path, narration)
    outcomes = [PartyOutcome(name) for name in names]
    inputs = {
        name: PartyInputs(demo_data_path(DATA_FILES[i]), demo_data_path(TEST_FILE))
        for i, name in enumerate(names)
    }
    seal_inputs(outcomes, inputs, identities, tmp_path, narration)
    assert outcomes[0].train_rows == line_count(demo_data_path(DATA_FILES[0]))
    assert outcomes[0].chunks > 1
    show_refusals(outcomes, identities, tmp_path, narration)
    assert outcomes[1].notes == ["wrong key refused"]
    assert outcomes[0].notes == ["tampering detected"]
    text = out.getvalue()
    assert "failed authentication" in text
    assert "plaintext left behind by the failures: none" in text
    assert not list(tmp_path.glob("*.libsvm")) and not (tmp_path / "tampered.sealed").exists()
