"""Accord: confidential multi-party machine learning on sealed data in attested enclaves."""

from accord._version import __version__
from accord.errors import (
    AccordError,
    ApprovalError,
    ConfigurationError,
    IntegrityError,
    KeyMaterialError,
    TransportError,
    UsageError,
    VerificationError,
)

__all__ = [
    "AccordError",
    "ApprovalError",
    "ConfigurationError",
    "IntegrityError",
    "KeyMaterialError",
    "TransportError",
    "UsageError",
    "VerificationError",
    "__version__",
]
