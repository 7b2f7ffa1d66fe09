"""`accord attest verify`: real evidence through the command line, in-process and as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from hardware_vectors import (
    GRAMINE_CERT,
    OUTDATED_COLLATERAL,
    OUTDATED_QUOTE,
    SGX_COLLATERAL,
    SGX_MRENCLAVE,
    SGX_QUOTE,
    TDX_COLLATERAL,
    TDX_MRTD,
    TDX_QUOTE,
)
from typer.testing import CliRunner

from accord.agreement import AgreementDocument, sign_agreement
from accord.attest.backends import SimulatedQuoter
from accord.attest.backends.dcap import DcapCollateral
from accord.attest.evidence import Evidence
from accord.cli.app import report_error
from accord.cli.attest import VERIFY_FORMAT, register
from accord.crypto.keys import SECRET_KEY_ACCESS, SigningKey
from accord.errors import AccordError

SGX_TIME = "2025-07-01T00:00:00Z"
SCRIPT = "from accord.cli.app import main; main()"


def accord_process(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ACCORD_")}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def make_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root."""

    register(app)
    return app


def run(*args: str | Path) -> tuple[int, str, AccordError | None]:
    result = CliRunner().invoke(make_app(), ["attest", "verify", *map(str, args)])
    error = result.exception if isinstance(result.exception, AccordError) else None
    if result.exception is not None and error is None:
        raise result.exception
    return result.exit_code, result.stdout, error


def test_the_sgx_quote_verifies_as_a_process_and_prints_json():
    result = accord_process(
        "attest", "verify", SGX_QUOTE, "--collateral", SGX_COLLATERAL, "--at", SGX_TIME, "--json"
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["format"] == VERIFY_FORMAT
    assert document["backend"] == "sgx-dcap"
    assert document["measurement"] == SGX_MRENCLAVE
    assert document["tcb_status"] == "ConfigurationAndSWHardeningNeeded"
    assert document["advisory_ids"] == ["INTEL-SA-00289", "INTEL-SA-00615"]
    assert document["report_data"].startswith(b"Hello, world!".hex())
    assert document["accepted_by"] == "the baseline policy"


def test_the_outdated_tdx_quote_fails_as_a_process_naming_the_check():
    result = accord_process(
        "attest",
        "verify",
        OUTDATED_QUOTE,
        "--collateral",
        OUTDATED_COLLATERAL,
        "--at",
        "2026-03-01T00:00:00Z",
    )
    assert result.returncode == 1
    assert "failed at the TCB level check: No matching TCB level found" in result.stderr
    assert "Traceback" not in result.stderr


def test_another_platforms_collateral_fails_as_a_process():
    result = accord_process(
        "attest", "verify", SGX_QUOTE, "--collateral", TDX_COLLATERAL, "--at", SGX_TIME
    )
    assert result.returncode == 1
    assert "failed at the collateral platform check" in result.stderr


def test_the_tdx_quote_prints_a_table_with_its_measurements():
    code, output, error = run(TDX_QUOTE, "--collateral", TDX_COLLATERAL, "--at", SGX_TIME)
    assert (code, error) == (0, None)
    for expected in ("Verified tdx evidence", TDX_MRTD, "UpToDate", "rtmr0", "the baseline policy"):
        assert expected in output


def test_a_time_outside_the_window_is_refused_naming_the_check():
    code, _, error = run(SGX_QUOTE, "--collateral", SGX_COLLATERAL, "--at", "2025-08-01T00:00:00Z")
    assert code == 1 and error is not None
    assert "failed at the collateral validity check" in error.message


def test_accord_evidence_carrying_its_collateral_verifies_without_collateral_option(tmp_path):
    path = tmp_path / "evidence.json"
    evidence = Evidence(
        backend="tdx",
        measurement=None,
        signer=None,
        security_version=None,
        debug=None,
        report_data=bytes(64),
        raw=TDX_QUOTE.read_bytes(),
        aux=TDX_COLLATERAL.read_bytes(),
        issued_at=DcapCollateral.from_file(TDX_COLLATERAL).valid_from,
    )
    # The unsigned report_data description is ignored; only the authenticated quote is shown.
    path.write_bytes(evidence.to_bytes())
    code, output, error = run(path, "--at", SGX_TIME, "--json")
    assert (code, error) == (0, None)
    assert json.loads(output)["evidence_kind"] == "evidence"
    assert json.loads(output)["measurement"] == TDX_MRTD


def test_the_gramine_certificate_without_collateral_cannot_be_authenticated():
    code, _, error = run(GRAMINE_CERT, "--at", SGX_TIME)
    assert code == 1 and error is not None
    assert "failed at the collateral check" in error.message


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--at", "yesterday"], "must be a date and time with a time zone"),
        (["--at", "2025-07-01T00:00:00"], "must be a date and time with a time zone"),
        (["--backend", "nitro"], "unknown backend 'nitro'"),
        (["--backend", "tdx"], "this is an SGX quote, not TDX"),
    ],
)
def test_bad_options_are_reported(args, problem):
    code, _, error = run(SGX_QUOTE, "--collateral", SGX_COLLATERAL, *args)
    assert code == 1 and error is not None
    assert problem in error.message


def test_unknown_bytes_are_refused_with_a_hint(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 100)
    code, _, error = run(junk)
    assert code == 1 and error is not None
    assert "cannot tell what kind of evidence" in error.message
    assert "--backend" in (error.hint or "")


def signed_agreement_file(tmp_path: Path, extra: str) -> Path:
    key = SigningKey.from_raw(b"\x07" * 32, SECRET_KEY_ACCESS)
    text = f"""\
[agreement]
format = "accord-agreement/v1"
name = "SGX study"
created = 2025-06-01T12:00:00Z

[[parties]]
name = "alice"
signing_key = "{key.verify_key.to_base64()}"
tls_certificate_fingerprint = "{"ab" * 32}"

[enclave]
backends = ["sgx-dcap"]

[enclave.sgx-dcap]
measurements = ["{SGX_MRENCLAVE}"]
{extra}
[signatures]
"""
    document = AgreementDocument.parse(text, source="agreement.toml")
    document = document.with_signature(
        "alice", sign_agreement(document.agreement, key, party="alice")
    )
    path = tmp_path / "agreement.toml"
    document.save(path)
    return path


def test_an_agreement_that_does_not_allow_the_advisories_refuses_the_sgx_quote(tmp_path):
    agreement = signed_agreement_file(tmp_path, "")
    code, _, error = run(
        SGX_QUOTE, "--collateral", SGX_COLLATERAL, "--at", SGX_TIME, "--agreement", agreement
    )
    assert code == 1 and error is not None
    assert error.message.startswith("the sgx-dcap evidence is authentic, but agreement 'SGX study'")
    assert "advisories INTEL-SA-00289, INTEL-SA-00615, which the policy does not allow" in (
        error.message
    )


def test_an_agreement_that_allows_the_advisories_accepts_the_sgx_quote(tmp_path):
    agreement = signed_agreement_file(
        tmp_path, 'allowed_advisories = ["INTEL-SA-00289", "INTEL-SA-00615"]\n'
    )
    code, output, error = run(
        SGX_QUOTE,
        "--collateral",
        SGX_COLLATERAL,
        "--at",
        SGX_TIME,
        "--agreement",
        agreement,
        "--json",
    )
    assert (code, error) == (0, None)
    assert json.loads(output)["accepted_by"].startswith("agreement 'SGX study'")


def test_errors_print_without_a_traceback(capsys):
    _, _, error = run(SGX_QUOTE, "--at", SGX_TIME)
    assert error is not None
    report_error(error)
    printed = capsys.readouterr().err
    assert "error (VerificationError): SGX quote verification failed at the collateral check" in (
        printed
    )


def test_simulated_evidence_is_refused_without_an_agreement_that_lists_it(tmp_path):
    path = tmp_path / "simulated.json"
    path.write_bytes(SimulatedQuoter(measurement="ab" * 32).quote(bytes(64)).to_bytes())
    code, _, error = run(path)
    assert code == 1 and error is not None
    assert "evidence from backend 'simulated' is not accepted: the baseline policy accepts" in (
        error.message
    )


SNP_DATA = Path(__file__).parent / "data" / "sev-snp"
SNP_TIME = "2025-06-01T00:00:00Z"


def test_a_configfs_tsm_capture_of_an_sev_snp_guest_verifies():
    code, output, error = run(
        SNP_DATA / "genoa-configfs-tsm-report.json", "--at", SNP_TIME, "--json"
    )
    assert (code, error) == (0, None)
    document = json.loads(output)
    assert (document["evidence_kind"], document["backend"]) == ("configfs-tsm", "sev-snp")
    assert document["debug"] is False


def test_a_debug_sev_snp_guest_is_refused_by_the_baseline_policy():
    code, _, error = run(
        SNP_DATA / "milan-attestation.bin",
        "--backend",
        "sev-snp",
        "--collateral",
        SNP_DATA / "milan-vcek.der",
        "--at",
        SNP_TIME,
    )
    assert code == 1 and error is not None
    assert error.message.startswith("the sev-snp evidence is authentic, but the baseline policy")
    assert "runs in debug mode" in error.message


def test_a_raw_sev_snp_report_needs_its_backend_named():
    code, _, error = run(SNP_DATA / "milan-attestation.bin", "--at", SNP_TIME)
    assert code == 1 and error is not None
    assert "cannot tell what kind of evidence this is" in error.message
