"""accord.orchestrator exports exactly its curated, documented API."""

import types

import accord.orchestrator as orchestrator


def test_every_listed_name_exists_and_is_documented():
    assert len(set(orchestrator.__all__)) == len(orchestrator.__all__)
    for name in orchestrator.__all__:
        value = getattr(orchestrator, name)
        if isinstance(value, type) or callable(value):
            assert (value.__doc__ or "").strip(), name


def test_every_public_attribute_is_listed():
    public = {
        name
        for name, value in vars(orchestrator).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(orchestrator.__all__)
