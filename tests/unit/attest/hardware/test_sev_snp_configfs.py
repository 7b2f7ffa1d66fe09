"""Saved configfs-tsm captures: the real Genoa one parses, becomes evidence and verifies.

Also: the live SevSnpQuoter with SevSnpReportParser over a configfs-tsm tree that serves the
real Genoa report, and strict refusal of malformed captures.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import pytest

from accord.attest.backends import SystemFiles
from accord.attest.backends.configfs_tsm import TSM_REPORT_DIR, ConfigfsTsmCapture
from accord.attest.backends.sev_snp import SevSnpQuoter, SevSnpReportParser, SevSnpVerifier
from accord.attest.evidence import Evidence
from accord.errors import VerificationError

DATA = Path(__file__).parent / "data" / "sev-snp"
CAPTURE = (DATA / "genoa-configfs-tsm-report.json").read_bytes()
AT = datetime(2025, 6, 1, tzinfo=UTC)


def capture_json(**members: object) -> bytes:
    obj = json.loads(CAPTURE)
    obj.update(members)
    return json.dumps({k: v for k, v in obj.items() if v is not None}).encode()


def genoa() -> ConfigfsTsmCapture:
    return ConfigfsTsmCapture.from_json(CAPTURE)


def test_the_genoa_capture_parses():
    capture = genoa()
    assert capture.provider == "sev_guest"
    assert capture.backend == "sev-snp"
    assert len(capture.outblob) == 1184
    assert len(capture.auxblob) == 6577
    assert capture.inblob is None and capture.generation is None
    assert "outblob" not in repr(capture)


def test_the_genoa_capture_becomes_evidence_that_verifies_with_its_auxblob():
    evidence = genoa().to_evidence(parser=SevSnpReportParser(), issued_at=AT)
    assert evidence.backend == "sev-snp"
    assert evidence.aux == genoa().auxblob
    assert evidence.debug is False
    claims = SevSnpVerifier().verify_raw(evidence.raw, aux=evidence.aux, at=AT)
    assert claims.measurement == evidence.measurement
    assert claims.extras["product"] == "Genoa"
    assert Evidence.from_bytes(evidence.to_bytes()) == evidence


def test_standard_padded_base64_is_read_as_well():
    capture = genoa()
    standard = capture_json(
        outblob=base64.b64encode(capture.outblob).decode(),
        auxblob=base64.b64encode(capture.auxblob).decode(),
        generation=3,
    )
    again = ConfigfsTsmCapture.from_json(standard)
    assert (again.outblob, again.auxblob, again.generation) == (
        capture.outblob,
        capture.auxblob,
        3,
    )


def test_an_inblob_that_matches_the_report_data_is_accepted_and_one_that_does_not_is_refused():
    capture = genoa()
    report_data = capture.outblob[0x50:0x90]
    good = ConfigfsTsmCapture.from_json(capture_json(inblob=base64.b64encode(report_data).decode()))
    assert good.to_evidence(parser=SevSnpReportParser(), issued_at=AT).report_data == report_data
    bad = ConfigfsTsmCapture.from_json(capture_json(inblob=base64.b64encode(bytes(64)).decode()))
    with pytest.raises(VerificationError, match="'inblob' is not the report data"):
        bad.to_evidence(parser=SevSnpReportParser(), issued_at=AT)


def test_a_capture_from_another_provider_is_not_read_as_sev_snp():
    capture = ConfigfsTsmCapture.from_json(capture_json(provider="tdx_guest\n"))
    assert capture.backend == "tdx"
    with pytest.raises(VerificationError, match="produces tdx reports, but the parser read"):
        capture.to_evidence(parser=SevSnpReportParser(), issued_at=AT)


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"outblob": None}, "lacks member 'outblob'"),
        ({"provider": None}, "lacks member 'provider'"),
        ({"manifest": "AA"}, "unknown member 'manifest'"),
        ({"provider": "sev_guest2"}, "provider 'sev_guest2' is not one of"),
        ({"provider": 7}, "provider '7' is not one of"),
        ({"outblob": ""}, "'outblob' is empty"),
        ({"outblob": "AB"}, "'outblob' is not canonical base64"),
        ({"outblob": "AB="}, "'outblob' is not valid base64"),
        ({"auxblob": "A"}, "'auxblob' is not valid base64"),
        ({"auxblob": "ab+_"}, "'auxblob' is not valid base64"),
        ({"auxblob": "AB=="}, "'auxblob' is not canonical base64"),
        ({"auxblob": 12}, "'auxblob' must be a base64 string"),
        ({"generation": True}, "'generation' must be an integer"),
        ({"generation": -1}, "'generation' must be an integer"),
    ],
)
def test_malformed_captures_are_refused_by_member(members, message):
    with pytest.raises(VerificationError, match=message):
        ConfigfsTsmCapture.from_json(capture_json(**members))


def test_duplicate_members_and_non_objects_are_refused():
    with pytest.raises(VerificationError, match="duplicate key 'provider'"):
        ConfigfsTsmCapture.from_json(b'{"provider": "sev_guest", "provider": "tdx_guest"}')
    with pytest.raises(VerificationError, match="must be a JSON object"):
        ConfigfsTsmCapture.from_json(b"[]")


def test_a_capture_with_a_malformed_report_is_refused_when_read_as_evidence():
    short = base64.b64encode(genoa().outblob[:1000]).decode()
    capture = ConfigfsTsmCapture.from_json(capture_json(outblob=short))
    with pytest.raises(VerificationError, match="it is 1000 bytes; a report is exactly 1184"):
        capture.to_evidence(parser=SevSnpReportParser(), issued_at=AT)


class GenoaKernel(SystemFiles):
    """A configfs-tsm tree under tmp_path whose entries return the real Genoa report."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.locate(TSM_REPORT_DIR).mkdir(parents=True)

    def make_directory(self, path: PurePosixPath) -> None:
        super().make_directory(path)
        entry = self.locate(path)
        (entry / "provider").write_text("sev_guest\n")
        (entry / "generation").write_text("1\n")
        (entry / "outblob").write_bytes(genoa().outblob)
        (entry / "auxblob").write_bytes(genoa().auxblob)

    def remove_directory(self, path: PurePosixPath) -> None:
        for child in self.locate(path).iterdir():
            child.unlink()
        super().remove_directory(path)


def test_the_quoter_with_the_parser_describes_the_collected_report(tmp_path):
    report_data = genoa().outblob[0x50:0x90]
    quoter = SevSnpQuoter(files=GenoaKernel(tmp_path), parser=SevSnpReportParser(), now=lambda: AT)
    evidence = quoter.quote(report_data)
    assert evidence.aux == genoa().auxblob
    claims = SevSnpVerifier().verify_raw(evidence.raw, aux=evidence.aux, at=AT)
    assert (evidence.measurement, evidence.debug) == (claims.measurement, claims.debug)


def test_the_quoter_with_the_parser_refuses_a_report_for_other_report_data(tmp_path):
    quoter = SevSnpQuoter(files=GenoaKernel(tmp_path), parser=SevSnpReportParser(), now=lambda: AT)
    with pytest.raises(
        VerificationError, match="does not carry the report data this enclave wrote"
    ):
        quoter.quote(bytes(64))
