"""The evidence wire format: canonical JSON round trips and strict refusal of malformed input."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from attest_helpers import MEASUREMENT, T0
from hypothesis import given
from hypothesis import strategies as st

from accord._internal.canonical import canonical_json
from accord.attest import Evidence
from accord.errors import UsageError, VerificationError


def make_evidence(**changes: object) -> Evidence:
    fields: dict[str, object] = {
        "backend": "simulated",
        "measurement": MEASUREMENT,
        "signer": "ab" * 32,
        "security_version": 3,
        "debug": False,
        "report_data": bytes(range(64)),
        "raw": b"the raw report",
        "issued_at": T0,
    }
    fields.update(changes)
    return Evidence(**fields)  # type: ignore[arg-type]


def wire(**changes: object) -> bytes:
    """A valid wire form with members replaced (or deleted, where the value is ``...``)."""
    obj = json.loads(make_evidence().to_bytes())
    for key, value in changes.items():
        if value is ...:
            del obj[key]
        else:
            obj[key] = value
    return json.dumps(obj).encode()


def test_round_trip_is_exact_and_canonical():
    evidence = make_evidence(aux=b"\x00certificate table")
    data = evidence.to_bytes()
    assert data == canonical_json(json.loads(data))
    assert Evidence.from_bytes(data) == evidence
    obj = json.loads(data)
    assert obj["type"] == "accord-evidence"
    assert obj["version"] == 1
    assert base64.b64decode(obj["report_data"]) == bytes(range(64))
    assert obj["issued_at"] == "2026-05-01T12:00:00.000000Z"


def test_unparsed_hardware_evidence_round_trips_with_nulls():
    evidence = make_evidence(
        backend="tdx", measurement=None, signer=None, security_version=None, debug=None
    )
    obj = json.loads(evidence.to_bytes())
    assert obj["measurement"] is None and obj["debug"] is None
    assert Evidence.from_bytes(evidence.to_bytes()) == evidence


@given(
    report_data=st.binary(min_size=64, max_size=64),
    raw=st.binary(min_size=1, max_size=2000),
    aux=st.binary(max_size=500),
    svn=st.integers(min_value=0, max_value=2**53 - 1),
    debug=st.none() | st.booleans(),
    micro=st.integers(min_value=0, max_value=999_999),
)
def test_round_trip_for_arbitrary_content(report_data, raw, aux, svn, debug, micro):
    evidence = make_evidence(
        report_data=report_data,
        raw=raw,
        aux=aux,
        security_version=svn,
        debug=debug,
        issued_at=T0.replace(microsecond=micro),
    )
    assert Evidence.from_bytes(evidence.to_bytes()) == evidence


def test_issued_at_is_normalised_to_utc():
    plus_two = dt.timezone(dt.timedelta(hours=2))
    evidence = make_evidence(issued_at=dt.datetime(2026, 5, 1, 14, 0, tzinfo=plus_two))
    assert evidence.issued_at == T0
    assert evidence.issued_at.tzinfo == dt.UTC


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"backend": "sgx-epid"}, "sgx-epid"),
        ({"measurement": "3F2A" * 16}, "measurement"),
        ({"measurement": "ab"}, "measurement"),
        ({"signer": "not hex"}, "signer"),
        ({"security_version": -1}, "security_version"),
        ({"security_version": True}, "security_version"),
        ({"debug": "no"}, "debug"),
        ({"report_data": b"\x00" * 63}, "report_data"),
        ({"raw": b""}, "raw"),
        ({"raw": "text"}, "raw"),
        ({"issued_at": dt.datetime(2026, 5, 1)}, "issued_at"),  # naive
    ],
)
def test_constructor_refuses_bad_fields_naming_them(changes, field):
    with pytest.raises(UsageError, match=field):
        make_evidence(**changes)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"a": NaN}', "not valid JSON"),
        (b"{" + b" " * (1 << 20) + b"}", "more than the limit"),
        (wire(raw=...), "lacks field 'raw'"),
        (wire(extra="x"), "unknown field 'extra'"),
        (wire(type="something-else"), "field 'type'"),
        (wire(version=2), "version 2 is not supported"),
        (wire(version=True), "version True is not supported"),
        (wire(report_data=base64.b64encode(b"x" * 63).decode()), "'report_data' must be 64 bytes"),
        (wire(report_data="not base64!"), "'report_data' is not valid base64"),
        (wire(raw=base64.b64encode(b"abcd").decode().rstrip("=") + "="), "'raw'"),
        (wire(raw=base64.urlsafe_b64encode(b"\xfb\xff\xfe").decode()), "'raw' is not valid base64"),
        (wire(issued_at="2026-05-01 12:00:00"), "'issued_at' must be an RFC 3339 UTC time"),
        (wire(issued_at="2026-02-30T12:00:00Z"), "'issued_at' is not a valid date"),
        (wire(issued_at="2026-05-01T12:00:00+02:00"), "'issued_at'"),
        (wire(measurement=12), "'measurement'"),
        (wire(security_version=1.5), "'security_version'"),
        (wire(security_version=2**53), "'security_version'"),
        (wire(debug=0), "'debug'"),
        (wire(backend="none"), "unknown attestation backend 'none'"),
    ],
)
def test_reader_refuses_malformed_input_naming_the_field(data, message):
    with pytest.raises(VerificationError, match=message.replace("(", r"\(")):
        Evidence.from_bytes(data)


def test_reader_refuses_duplicate_members():
    data = make_evidence().to_bytes()
    duplicated = data[:-1] + b',"backend":"sgx-dcap"}'
    with pytest.raises(VerificationError, match="duplicate key 'backend'"):
        Evidence.from_bytes(duplicated)


def test_reader_refuses_non_canonical_base64_padding():
    obj = json.loads(make_evidence(raw=b"\x00").to_bytes())
    assert obj["raw"] == "AA=="
    obj["raw"] = "AB=="  # decodes to the same byte with non-zero padding bits
    with pytest.raises(VerificationError, match="'raw' is not canonical base64"):
        Evidence.from_bytes(json.dumps(obj).encode())


def test_reader_accepts_other_json_spellings_of_the_same_object():
    obj = json.loads(make_evidence().to_bytes())
    spaced = json.dumps(obj, indent=4, sort_keys=False).encode()
    assert Evidence.from_bytes(spaced) == make_evidence()


def test_reader_refuses_text_input():
    with pytest.raises(VerificationError, match="must be bytes"):
        Evidence.from_bytes(make_evidence().to_bytes().decode())  # type: ignore[arg-type]
