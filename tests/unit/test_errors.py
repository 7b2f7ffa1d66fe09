import pytest

import accord
from accord import errors


def test_every_error_derives_from_the_root():
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.AccordError)


def test_tree_in_docstring_names_every_error():
    for name in errors.__all__:
        assert name in (errors.__doc__ or ""), name


@pytest.mark.parametrize("name", errors.__all__)
def test_diagnostics_hold_message_and_a_hint(name):
    error = getattr(errors, name)("the thing failed")
    text = error.diagnostics()
    assert text.startswith("the thing failed\n")
    assert len(text.splitlines()[1]) > 10


def test_custom_hint_replaces_default():
    error = errors.IntegrityError("bad", hint="do this")
    assert error.diagnostics() == "bad\ndo this"


def test_errors_are_exported_from_the_package():
    for name in errors.__all__:
        assert getattr(accord, name) is getattr(errors, name)
