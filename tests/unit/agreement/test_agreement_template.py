"""New agreements from the template, the shipped example, and the package's public names."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from agreement_helpers import MEASUREMENT, SOURCE

import accord.agreement
from accord.agreement import ApprovalRule, load_agreement, parse_agreement, render_template
from accord.errors import ConfigurationError, UsageError

CREATED = dt.datetime(2025, 6, 1, 14, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
ROOT = Path(__file__).resolve().parents[3]


def test_simulated_template_is_valid_and_says_it_is_for_development() -> None:
    text = render_template("Study", created=CREATED, measurements={"simulated": [MEASUREMENT]})
    agreement = parse_agreement(text, source=SOURCE)
    assert agreement.name == "Study"
    assert agreement.created == CREATED
    assert agreement.parties == ()
    assert agreement.enclave.for_backend("simulated").measurements == {MEASUREMENT}
    assert agreement.approvals.default == ApprovalRule.unanimous([])
    assert "DEVELOPMENT ONLY" in text
    assert "created = 2025-06-01T12:30:00Z" in text


def test_hardware_template_lists_every_backend_given() -> None:
    text = render_template(
        'A "quoted" name',
        created=CREATED,
        measurements={"sgx-dcap": [MEASUREMENT.upper()], "tdx": ["ab" * 48]},
        description="Line one \\ with a backslash",
    )
    agreement = parse_agreement(text, source=SOURCE)
    assert agreement.name == 'A "quoted" name'
    assert agreement.description == "Line one \\ with a backslash"
    assert set(agreement.enclave.backends) == {"sgx-dcap", "tdx"}
    assert agreement.enclave.for_backend("sgx-dcap").measurements == {MEASUREMENT}
    assert not agreement.enclave.allows_simulated
    assert "DEVELOPMENT ONLY" not in text
    assert "[enclave.simulated]" not in text


def test_template_refuses_what_is_not_a_valid_policy() -> None:
    with pytest.raises(UsageError, match="at least one attestation backend"):
        render_template("S", created=CREATED, measurements={})
    with pytest.raises(UsageError, match="unknown attestation backend 'nitro'"):
        render_template("S", created=CREATED, measurements={"nitro": [MEASUREMENT]})
    with pytest.raises(ConfigurationError, match="measurement 'abc' must be 64"):
        render_template("S", created=CREATED, measurements={"sgx-dcap": ["abc"]})
    with pytest.raises(ConfigurationError, match="cannot be combined"):
        render_template(
            "S", created=CREATED, measurements={"simulated": [MEASUREMENT], "tdx": ["ab" * 48]}
        )


def test_the_shipped_example_is_a_valid_agreement() -> None:
    agreement = load_agreement(ROOT / "examples" / "agreement.toml")
    assert agreement.party_names == ("alice", "bob", "carol")
    assert agreement.rule_for("train").describe() == "2 of alice, bob, carol"


def test_the_documentation_shows_the_example_and_its_digest() -> None:
    example = (ROOT / "examples" / "agreement.toml").read_text()
    docs = (ROOT / "docs" / "agreements.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", docs, flags=re.DOTALL)
    assert example in blocks
    digest = load_agreement(ROOT / "examples" / "agreement.toml").digest
    assert digest in docs


def test_public_names_are_exported_and_documented() -> None:
    for name in accord.agreement.__all__:
        item = getattr(accord.agreement, name)
        if callable(item):
            assert item.__doc__, name
    assert sorted(accord.agreement.__all__) == sorted(
        name
        for name in vars(accord.agreement)
        if not name.startswith("_")
        and name.isidentifier()
        and not isinstance(vars(accord.agreement)[name], type(accord))
    )
