"""The public API is exactly what ``accord.__all__`` lists (as httpx checks its own)."""

import types

import accord


def test_all_is_sorted_and_unique():
    names = [n for n in accord.__all__ if n != "__version__"]
    assert names == sorted(names, key=lambda n: (not n[0].isupper(), n))
    assert len(set(accord.__all__)) == len(accord.__all__)


def test_every_listed_name_exists():
    for name in accord.__all__:
        assert hasattr(accord, name), name


def test_every_public_attribute_is_listed():
    public = {
        name
        for name, value in vars(accord).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(accord.__all__) - {"__version__"}


def test_exported_objects_are_documented():
    for name in accord.__all__:
        if name == "__version__":
            continue
        assert (getattr(accord, name).__doc__ or "").strip(), name
