"""Output formats: predictions as strict .npy (never pickle); the parameter allowlist."""

import io
import pickle

import numpy as np
import pytest

from accord.errors import UsageError
from accord.workloads.xgboost import PARAMETERS, check_params, decode_predictions
from accord.workloads.xgboost.prediction import encode_predictions


@pytest.mark.parametrize(
    "values",
    [np.array([0.25, 0.5, 1e-7], np.float32), np.arange(12, dtype=np.float64).reshape(4, 3)],
)
def test_predictions_round_trip_as_float32(values):
    data = encode_predictions(values)
    assert data.startswith(b"\x93NUMPY\x01\x00")
    decoded = decode_predictions(data)
    assert decoded.dtype == np.float32
    np.testing.assert_array_equal(decoded, values.astype(np.float32))


def npy(array, **options):
    buffer = io.BytesIO()
    np.save(buffer, array, **options)
    return buffer.getvalue()


class Exploit:
    def __reduce__(self):
        return (print, ("unpickled!",))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (npy(np.array([Exploit()], dtype=object), allow_pickle=True), "not a readable .npy"),
        (pickle.dumps(np.zeros(3, np.float32)), "not predictions (.npy version 1.0)"),
        (npy(np.zeros(3, np.float64)), "expected a C-ordered <f4 array"),
        (npy(np.zeros(3, ">f4")), "expected a C-ordered <f4 array"),
        (npy(np.asfortranarray(np.zeros((3, 2), np.float32))), "expected a C-ordered"),
        (npy(np.zeros((2, 2, 2), np.float32)), "of 1 or 2 dimensions"),
        (encode_predictions(np.zeros(3)) + b"\x00", "nothing after it"),
        (encode_predictions(np.zeros(3))[:-1], "not a readable .npy"),
        (b"", "not predictions"),
    ],
)
def test_anything_but_exact_predictions_is_refused(data, message, capsys):
    with pytest.raises(UsageError, match="predictions") as caught:
        decode_predictions(data)
    assert message in caught.value.message
    assert "unpickled!" not in capsys.readouterr().out


def test_allowed_parameters_are_passed_through_with_booleans_as_integers():
    params = {
        "objective": "binary:logistic",
        "eta": 0.3,
        "max_depth": 3,
        "eval_metric": ["auc", "error@0.6"],
        "one_drop": True,
        "monotone_constraints": "(1,-1,0)",
        "interaction_constraints": "[[0, 1], [2]]",
    }
    checked = check_params(params, "train: argument 'params'")
    assert checked == {**params, "one_drop": 1}


def test_no_allowed_parameter_names_a_file_device_or_plugin():
    risky = {"model_in", "model_out", "save_period", "fmap", "name_dump", "dump_format", "task"}
    assert not risky & set(PARAMETERS)
    assert PARAMETERS["device"].choices == ("cpu",)
    assert PARAMETERS["updater"].choices == ("shotgun", "coord_descent")


def test_infinite_numbers_are_refused():
    with pytest.raises(UsageError, match="'eta' must be a number from 0 to inf, got inf"):
        check_params({"eta": float("inf")}, "p")
