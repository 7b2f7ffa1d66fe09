"""The transport package exports exactly its documented API."""

from __future__ import annotations

import types

import accord.transport as transport


def test_all_is_sorted_unique_and_complete():
    assert transport.__all__ == sorted(transport.__all__, key=lambda n: (not n.isupper(), n))
    assert len(set(transport.__all__)) == len(transport.__all__)
    public = {
        name
        for name, value in vars(transport).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(transport.__all__)


def test_every_export_is_documented():
    for name in transport.__all__:
        value = getattr(transport, name)
        if callable(value):
            assert (value.__doc__ or "").strip(), name
