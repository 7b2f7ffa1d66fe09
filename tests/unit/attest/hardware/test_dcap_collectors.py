"""The normal flow: collectors attach the host's collateral as aux; verifiers use it."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest
from hardware_vectors import (
    SGX_AT,
    SGX_COLLATERAL,
    SGX_MRENCLAVE,
    SGX_QUOTE,
    TDX_AT,
    TDX_COLLATERAL,
    TDX_MRTD,
    TDX_QUOTE,
)

from accord.attest import Evidence
from accord.attest.backends import (
    GramineSgxQuoter,
    SgxDcapVerifier,
    SystemFiles,
    TdxQuoter,
    TdxVerifier,
    default_backend_verifiers,
)
from accord.attest.backends.configfs_tsm import TSM_REPORT_DIR
from accord.errors import VerificationError

REPORT_DATA = bytes(range(64))


class TdxKernel(SystemFiles):
    """configfs-tsm under tmp_path whose outblob is always the real TDX quote."""

    def __init__(self, root):
        super().__init__(root)
        self.locate(TSM_REPORT_DIR).mkdir(parents=True)

    def make_directory(self, path: PurePosixPath) -> None:
        super().make_directory(path)
        entry = self.locate(path)
        (entry / "provider").write_text("tdx_guest\n")
        (entry / "generation").write_text("1\n")
        (entry / "outblob").write_bytes(TDX_QUOTE.read_bytes())

    def remove_directory(self, path: PurePosixPath) -> None:
        for child in self.locate(path).iterdir():
            child.unlink()
        super().remove_directory(path)


def test_the_gramine_collector_attaches_the_collateral_the_host_supplies(tmp_path):
    device = tmp_path / "dev" / "attestation"
    device.mkdir(parents=True)
    (device / "attestation_type").write_bytes(b"dcap\n")
    (device / "user_report_data").write_bytes(bytes(64))
    (device / "quote").write_bytes(SGX_QUOTE.read_bytes())
    asked = []

    def host_collateral(quote: bytes) -> bytes:
        asked.append(quote)
        return SGX_COLLATERAL.read_bytes()

    quoter = GramineSgxQuoter(files=SystemFiles(tmp_path), collateral=host_collateral)
    evidence = Evidence.from_bytes(quoter.quote(REPORT_DATA).to_bytes())
    assert asked == [SGX_QUOTE.read_bytes()]
    assert evidence.aux == SGX_COLLATERAL.read_bytes()
    claims = default_backend_verifiers()["sgx-dcap"].verify_raw(
        evidence.raw, aux=evidence.aux, at=SGX_AT
    )
    assert claims.measurement == SGX_MRENCLAVE


def test_the_tdx_collector_attaches_the_collateral_the_host_supplies(tmp_path):
    quoter = TdxQuoter(
        files=TdxKernel(tmp_path), collateral=lambda quote: TDX_COLLATERAL.read_bytes()
    )
    evidence = quoter.quote(REPORT_DATA)
    assert evidence.aux == TDX_COLLATERAL.read_bytes()
    claims = TdxVerifier().verify_raw(evidence.raw, aux=evidence.aux, at=TDX_AT)
    assert (claims.measurement, claims.tcb_status) == (TDX_MRTD, "UpToDate")


def test_without_a_collateral_source_the_aux_stays_empty(tmp_path):
    evidence = TdxQuoter(files=TdxKernel(tmp_path)).quote(REPORT_DATA)
    assert evidence.aux == b""


def test_a_host_that_attaches_forged_collateral_is_caught(tmp_path):
    forged = SGX_COLLATERAL.read_bytes().replace(b'\\"isvprodid\\":1', b'\\"isvprodid\\":2')
    assert forged != SGX_COLLATERAL.read_bytes()
    with pytest.raises(VerificationError, match="failed at the QE identity signature check"):
        SgxDcapVerifier().verify_raw(SGX_QUOTE.read_bytes(), aux=forged, at=SGX_AT)


def test_the_verifiers_parse_quotes_for_collectors_without_trusting_them():
    sgx = SgxDcapVerifier().parse_unverified(SGX_QUOTE.read_bytes(), aux=b"")
    assert (sgx.measurement, sgx.tcb_status) == (SGX_MRENCLAVE, None)
    tdx = TdxVerifier().parse_unverified(TDX_QUOTE.read_bytes(), aux=b"")
    assert tdx.measurement == TDX_MRTD
    with pytest.raises(VerificationError, match="not a TDX quote"):
        TdxVerifier().parse_unverified(SGX_QUOTE.read_bytes(), aux=b"")
