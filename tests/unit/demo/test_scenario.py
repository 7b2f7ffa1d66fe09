import pytest

from accord.demo import DemoOptions, run_demo
from accord.demo.scenario import demo_data_path
from accord.errors import UsageError


def test_demo_runs_green_with_three_parties(tmp_path):
    from io import StringIO

    from rich.console import Console

    out = StringIO()
    result = run_demo(
        DemoOptions(parties=3, work_dir=tmp_path), console=Console(file=out, width=200)
    )
    assert result.ok
    assert [p.name for p in result.parties] == ["alice", "bob", "carol"]
    total = sum(p.rows for p in result.parties)
    expected = sum(
        demo_data_path(f).read_bytes().count(b"\n")
        for f in ("1_2agaricus.txt.train", "2_2agaricus.txt.train")
    )
    assert total == expected
    assert all(p.chunks > 1 for p in result.parties)
    assert all(p.key_released for p in result.parties)
    assert result.joint is not None
    assert result.joint.rows == expected
    assert result.joint.rows_by_party == {p.name: p.rows for p in result.parties}
    assert result.joint.features == 127  # agaricus: one-hot feature ids 1..126
    assert (tmp_path / "agreement.toml").is_file()
    text = out.getvalue()
    assert "demo succeeded" in text
    assert "failed authentication" in text
    assert "plaintext left behind by the failures: none" in text


@pytest.mark.parametrize("parties", [1, 5])
def test_party_count_outside_range_is_a_usage_error(parties):
    with pytest.raises(UsageError, match="2 to 4 parties"):
        DemoOptions(parties=parties)
