"""Collecting TDX and SEV-SNP reports through configfs-tsm, against a fake kernel on a real tree."""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath

import pytest
from attest_helpers import T0, SettableClock

from accord.attest import Evidence
from accord.attest.backends import SevSnpQuoter, SystemFiles, TdxQuoter, quoter_for
from accord.attest.backends.configfs_tsm import TSM_REPORT_DIR, ConfigfsTsmQuoter
from accord.errors import ConfigurationError, UsageError, VerificationError

REPORT_DATA = bytes(range(64))


class FakeTsmKernel(SystemFiles):
    """Real files under tmp_path, plus what the kernel does on mkdir, write and read."""

    def __init__(self, root, *, provider="tdx_guest", auxblob=None, racing_writer=False):
        super().__init__(root)
        self.provider = provider
        self.auxblob = auxblob
        self.racing_writer = racing_writer
        self.entries: list[PurePosixPath] = []
        self.locate(TSM_REPORT_DIR).mkdir(parents=True)

    @staticmethod
    def report_for(inblob: bytes) -> bytes:
        return b"REPORT" + hashlib.sha256(inblob).digest() + inblob

    def make_directory(self, path):
        super().make_directory(path)
        self.entries.append(path)
        entry = self.locate(path)
        (entry / "provider").write_text(self.provider + "\n")
        (entry / "generation").write_text("0\n")
        (entry / "inblob").write_bytes(b"")
        (entry / "outblob").write_bytes(b"")
        if self.auxblob is not None:
            (entry / "auxblob").write_bytes(self.auxblob)

    def write(self, path, data):
        super().write(path, data)
        if path.name == "inblob":
            self._bump(path.parent)
            self.locate(path.parent / "outblob").write_bytes(self.report_for(data))

    def read(self, path, *, limit):
        data = super().read(path, limit=limit)
        if path.name == "outblob" and self.racing_writer:  # another process writes inblob now
            self.write(path.parent / "inblob", b"\xee" * 64)
        return data

    def remove_directory(self, path):
        for child in self.locate(path).iterdir():
            child.unlink()
        super().remove_directory(path)

    def _bump(self, entry):
        generation = self.locate(entry / "generation")
        generation.write_text(f"{int(generation.read_text()) + 1}\n")


def test_tdx_collection_follows_the_kernel_protocol(tmp_path):
    kernel = FakeTsmKernel(tmp_path)
    evidence = TdxQuoter(files=kernel, now=SettableClock()).quote(REPORT_DATA)
    assert isinstance(evidence, Evidence)
    assert evidence.backend == "tdx"
    assert evidence.raw == FakeTsmKernel.report_for(REPORT_DATA)
    assert evidence.aux == b""
    assert evidence.report_data == REPORT_DATA
    assert evidence.issued_at == T0
    assert evidence.measurement is None
    (entry,) = kernel.entries
    assert entry.parent == TSM_REPORT_DIR and entry.name.startswith("accord-")
    assert not kernel.locate(entry).exists()  # removed afterwards
    assert Evidence.from_bytes(evidence.to_bytes()) == evidence


def test_sev_snp_collection_keeps_the_certificate_table(tmp_path):
    kernel = FakeTsmKernel(tmp_path, provider="sev_guest", auxblob=b"\xc0certificate table")
    evidence = SevSnpQuoter(files=kernel).quote(REPORT_DATA)
    assert evidence.backend == "sev-snp"
    assert evidence.aux == b"\xc0certificate table"
    assert evidence.raw == FakeTsmKernel.report_for(REPORT_DATA)
    assert not kernel.locate(kernel.entries[0]).exists()


def test_each_quote_uses_a_fresh_entry(tmp_path):
    kernel = FakeTsmKernel(tmp_path)
    quoter = TdxQuoter(files=kernel)
    quoter.quote(REPORT_DATA)
    quoter.quote(REPORT_DATA[::-1])
    assert len(set(kernel.entries)) == 2


@pytest.mark.parametrize(
    ("quoter_class", "provider", "expected"),
    [(TdxQuoter, "sev_guest", "tdx_guest"), (SevSnpQuoter, "tdx_guest", "sev_guest")],
)
def test_a_provider_of_another_kind_is_refused(tmp_path, quoter_class, provider, expected):
    kernel = FakeTsmKernel(tmp_path, provider=provider)
    with pytest.raises(ConfigurationError) as caught:
        quoter_class(files=kernel).quote(REPORT_DATA)
    assert caught.value.message.startswith(f"the configfs-tsm provider is '{provider}', but ")
    assert f"needs '{expected}'" in caught.value.message
    assert not kernel.locate(kernel.entries[0]).exists()  # cleaned up on failure too


def test_a_concurrent_writer_is_detected(tmp_path):
    kernel = FakeTsmKernel(tmp_path, racing_writer=True)
    with pytest.raises(VerificationError) as caught:
        TdxQuoter(files=kernel).quote(REPORT_DATA)
    assert "changed while it was read (generation 1 became 2)" in caught.value.message
    assert "another writer raced this request" in caught.value.message
    assert not kernel.locate(kernel.entries[0]).exists()


def test_without_configfs_tsm_the_error_says_what_is_missing(tmp_path):
    with pytest.raises(ConfigurationError) as caught:
        TdxQuoter(files=SystemFiles(tmp_path)).quote(REPORT_DATA)
    assert caught.value.message.startswith("/sys/kernel/config/tsm/report is not available")
    assert "configfs" in caught.value.hint


def test_an_existing_entry_is_never_reused(tmp_path):
    kernel = FakeTsmKernel(tmp_path)
    kernel.locate(TSM_REPORT_DIR / "accord-fixed").mkdir()
    quoter = ConfigfsTsmQuoter(
        backend="tdx", provider="tdx_guest", files=kernel, entry_name=lambda: "accord-fixed"
    )
    with pytest.raises(ConfigurationError, match=r"cannot create the report entry .*accord-fixed"):
        quoter.quote(REPORT_DATA)


def test_a_garbled_generation_is_refused(tmp_path):
    class GarbledKernel(FakeTsmKernel):
        def _bump(self, entry):
            self.locate(entry / "generation").write_text("many\n")

    with pytest.raises(ConfigurationError, match="generation holds 'many', not a number"):
        TdxQuoter(files=GarbledKernel(tmp_path)).quote(REPORT_DATA)


def test_factory_and_misuse(tmp_path):
    kernel = FakeTsmKernel(tmp_path, provider="sev_guest")
    assert isinstance(quoter_for("sev-snp", files=kernel), SevSnpQuoter)
    assert isinstance(quoter_for("tdx", files=kernel), TdxQuoter)
    assert quoter_for("simulated").backend == "simulated"
    with pytest.raises(UsageError, match="unknown attestation backend 'sgx'"):
        quoter_for("sgx")
    with pytest.raises(UsageError, match="configfs-tsm collects tdx or sev-snp"):
        ConfigfsTsmQuoter(backend="sgx-dcap", provider="x")
