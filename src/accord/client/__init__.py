"""The party SDK: what a party runs on its own machine to work with enclaves."""

from accord.client.attestation import VerifiedEnclave, new_nonce, release_data_key, verify_enclave

__all__ = ["VerifiedEnclave", "new_nonce", "release_data_key", "verify_enclave"]
