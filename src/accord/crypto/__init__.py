"""Cryptography of Accord: key handles, sealed data files, signatures."""
