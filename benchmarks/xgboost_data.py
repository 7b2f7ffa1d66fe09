"""A synthetic, HIGGS-shaped binary classification set for the XGBoost benchmark.

The real HIGGS set (UCI) has 11 million rows of 28 features: 21 low-level kinematic
measurements (transverse momenta, pseudorapidities, azimuthal angles, b-tags) and 7
high-level features derived from them (invariant masses), with a label that is about 53 %
positive. :func:`make_higgs_like` draws a set with the same shape and the same kinds of
columns: skewed positive momenta, Gaussian pseudorapidities, uniform angles, discrete
b-tags, and masses computed from the momenta with noise. The label depends non-linearly on
several of them, so that trees of depth 6 keep finding useful splits for many rounds.

Everything comes from one ``numpy.random.Generator`` with a fixed seed: the same arguments
give the same bytes on every machine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["FEATURES", "make_higgs_like", "write_parquet"]

FEATURES = 28
"""The column count of HIGGS."""

_OBJECTS = 5  # a lepton and four jets; with missing energy: 21 low-level columns


def make_higgs_like(
    rows: int, features: int = FEATURES, *, seed: int = 20261121
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Return ``(X, y)``: a C-ordered float32 matrix ``rows x features`` and 0/1 labels.

    With ``features`` other than 28, the 28 HIGGS-like columns are cut or repeated with
    fresh noise, so the set keeps its character at any width.
    """
    rng = np.random.default_rng(seed)
    columns: list[npt.NDArray[np.float64]] = []
    momenta = []
    for index in range(_OBJECTS):
        pt = rng.lognormal(mean=0.0, sigma=0.55, size=rows)
        eta = rng.normal(0.0, 1.0 + 0.1 * index, size=rows)
        phi = rng.uniform(-np.pi, np.pi, size=rows)
        momenta.append((pt, eta, phi))
        columns += [pt, eta, phi]
        if index > 0:  # jets carry a b-tag: 0, 1.1 or 2.2 as in HIGGS
            columns.append(rng.choice([0.0, 1.1, 2.2], p=[0.6, 0.25, 0.15], size=rows))
    missing = rng.exponential(1.0, size=rows)
    columns.insert(3, missing)
    columns.insert(4, rng.uniform(-np.pi, np.pi, size=rows))
    masses = [_pair_mass(momenta[a], momenta[b]) for a, b in ((1, 2), (3, 4), (0, 1))]
    masses.append(_pair_mass(momenta[0], momenta[3]) + 0.3 * missing)
    masses.append(masses[0] + masses[1])
    masses.append(np.sqrt(masses[2] * masses[3]))
    masses.append(masses[4] + masses[5] * 0.5)
    columns += [m * rng.normal(1.0, 0.05, size=rows) for m in masses]
    while len(columns) < features:
        source = columns[len(columns) % FEATURES]
        columns.append(source + rng.normal(0.0, 0.5 * float(np.std(source)), size=rows))
    matrix = np.empty((rows, features), dtype=np.float32)
    for position in range(features):
        matrix[:, position] = columns[position]
    score = (
        1.2 * np.tanh(masses[0] - 1.4)
        - 0.9 * np.abs(masses[1] - 1.3)
        + 0.6 * np.log(momenta[0][0]) * np.cos(momenta[0][2] - momenta[1][2])
        + 0.5 * (columns[8] > 1.0) * (masses[2] > 1.2)
        - 0.4 * missing
        + 0.3 * np.sin(momenta[2][1] * momenta[3][1])
        + 1.0
    )
    probability = 1.0 / (1.0 + np.exp(-1.5 * score))
    labels = (rng.uniform(size=rows) < probability).astype(np.float32)
    return matrix, labels


def _pair_mass(
    first: tuple[npt.NDArray[np.float64], ...], second: tuple[npt.NDArray[np.float64], ...]
) -> npt.NDArray[np.float64]:
    """The invariant mass of two massless objects given (pt, eta, phi)."""
    (pt1, eta1, phi1), (pt2, eta2, phi2) = first, second
    squared = 2.0 * pt1 * pt2 * (np.cosh(eta1 - eta2) - np.cos(phi1 - phi2))
    mass: npt.NDArray[np.float64] = np.sqrt(np.maximum(squared, 0.0))
    return mass


def write_parquet(
    path: Path, features: npt.NDArray[np.float32], labels: npt.NDArray[np.float32]
) -> None:
    """Write rows as Parquet: float32 columns ``f0`` ... and a float32 ``label`` column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = [pa.array(features[:, i]) for i in range(features.shape[1])]
    names = [f"f{i}" for i in range(features.shape[1])]
    table = pa.Table.from_arrays([*arrays, pa.array(labels)], names=[*names, "label"])
    pq.write_table(table, path, row_group_size=128 * 1024, compression="snappy")
