"""The orchestrator's configuration file (TOML) and the party certificates it names.

A configuration looks like this (paths are relative to the file's folder)::

    listen = "127.0.0.1:7000"
    agreement = "agreement.toml"
    data_dir = "orchestrator-data"
    party_certificates = ["alice/tls-cert.pem", "bob/card.json", "carol"]
    proposal_ttl_seconds = 3600
    execute_timeout_seconds = 60
    operator_certificates = ["operator/tls-cert.pem"]   # may call RegisterNode
    max_nodes = 64
    stream_idle_seconds = 30

    [[nodes]]
    id = "n1"
    address = "127.0.0.1:5001"

Every key is documented in docs/orchestrator.md. Reading is strict: an unknown key, a value
of the wrong type or out of range is a :class:`~accord.errors.ConfigurationError` that names
the file, the key and what is expected.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from accord.agreement import SignedAgreement
from accord.errors import AccordError, ConfigurationError
from accord.party import CARD_FILE_NAME, PartyCard
from accord.transport import DEFAULT_STREAM_IDLE_SECONDS

__all__ = [
    "DEFAULT_EXECUTE_TIMEOUT_SECONDS",
    "DEFAULT_MAX_BLOB_BYTES",
    "DEFAULT_MAX_NODES",
    "DEFAULT_PROPOSAL_TTL_SECONDS",
    "NODE_ID_PATTERN",
    "NodeConfig",
    "OrchestratorConfig",
    "load_config",
    "load_operator_certificates",
    "load_party_certificates",
    "parse_config",
    "split_address",
]

DEFAULT_PROPOSAL_TTL_SECONDS: Final = 3600
"""The longest lifetime (``expires_at - now``) a proposal may ask for, by default."""

DEFAULT_EXECUTE_TIMEOUT_SECONDS: Final = 60.0
"""How long the relay waits for all nodes to execute a command, by default."""

DEFAULT_MAX_BLOB_BYTES: Final = 4 * 1024**3
"""The largest blob the orchestrator stores, by default (4 GiB)."""

DEFAULT_MAX_NODES: Final = 64
"""The most nodes an orchestrator knows (configured and registered together), by default."""

NODE_ID_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
"""What a node id looks like: lower-case letters, digits, ``_.-``, at most 63 characters."""

_MAX_TTL_SECONDS: Final = 30 * 24 * 3600
_MAX_EXECUTE_TIMEOUT_SECONDS: Final = 24 * 3600.0
_ADDRESS: Final = re.compile(
    r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9_.-]+)):(?P<port>\d+)"
)
_KEYS: Final = frozenset(
    {
        "listen",
        "agreement",
        "data_dir",
        "nodes",
        "party_certificates",
        "party_card_dir",
        "proposal_ttl_seconds",
        "execute_timeout_seconds",
        "max_blob_bytes",
        "node_refresh_seconds",
        "sweep_interval_seconds",
        "operator_certificates",
        "max_nodes",
        "stream_idle_seconds",
    }
)
_NODE_KEYS: Final = frozenset({"id", "address"})


@dataclass(frozen=True)
class NodeConfig:
    """An enclave node the orchestrator relays commands to.

    Parameters
    ----------
    node_id
        A stable name (see :data:`NODE_ID_PATTERN`).
    address
        ``host:port`` of the node's TLS endpoint.
    """

    node_id: str
    address: str


@dataclass(frozen=True)
class OrchestratorConfig:
    """The checked contents of an orchestrator configuration file.

    Parameters
    ----------
    listen
        ``host:port`` to serve on (port 0 picks a free port).
    agreement_path
        The signed agreement the orchestrator serves.
    data_dir
        Where the database, blobs and the orchestrator's TLS key and certificate live.
    nodes
        The enclave nodes known from the start (more may register at run time).
    party_certificates
        Files naming the parties' TLS certificates: PEM certificates, party cards, or party
        directories (whose ``card.json`` is read).
    party_card_dir
        A folder whose ``*.json`` files are all party cards, or ``None``.
    proposal_ttl_seconds
        The longest lifetime a proposal may ask for.
    execute_timeout_seconds
        The deadline for all nodes to execute one command.
    max_blob_bytes
        The largest blob accepted for upload.
    node_refresh_seconds
        How often the status of every node is refreshed in the background.
    sweep_interval_seconds
        How often expired proposals are swept (they are also expired on every read).
    operator_certificates
        Files naming the TLS certificates of the operators, who alone may add nodes at run
        time (``RegisterNode``): PEM certificates, party cards or party directories.
    max_nodes
        The most nodes the orchestrator knows, configured and registered together.
    stream_idle_seconds
        How long an upload or download may carry no message before it is ended.
    source
        The file the configuration was read from, for messages.
    """

    listen: str
    agreement_path: Path
    data_dir: Path
    nodes: tuple[NodeConfig, ...] = ()
    party_certificates: tuple[Path, ...] = ()
    party_card_dir: Path | None = None
    proposal_ttl_seconds: int = DEFAULT_PROPOSAL_TTL_SECONDS
    execute_timeout_seconds: float = DEFAULT_EXECUTE_TIMEOUT_SECONDS
    max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES
    node_refresh_seconds: float = 30.0
    sweep_interval_seconds: float = 5.0
    operator_certificates: tuple[Path, ...] = ()
    max_nodes: int = DEFAULT_MAX_NODES
    stream_idle_seconds: float = DEFAULT_STREAM_IDLE_SECONDS
    source: str = "orchestrator configuration"


def split_address(address: str) -> tuple[str, int]:
    """Split ``host:port`` (or ``[v6]:port``) into host and port.

    Raises
    ------
    ConfigurationError
        If ``address`` is not of that form or the port is above 65535.
    """
    match = _ADDRESS.fullmatch(address)
    if match is None or int(match["port"]) > 65535:
        raise ConfigurationError(
            f"{address!r} is not HOST:PORT (for example 127.0.0.1:7000 or [::1]:7000)"
        )
    return match["v6"] or match["host"], int(match["port"])


def load_config(path: Path) -> OrchestratorConfig:
    """Read and check an orchestrator configuration file.

    Parameters
    ----------
    path
        The TOML file. Relative paths inside it are relative to its folder.

    Returns
    -------
    OrchestratorConfig
        The checked configuration (paths made absolute).

    Raises
    ------
    ConfigurationError
        If the file cannot be read, is not TOML, or a key is unknown, missing or invalid.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise ConfigurationError(
            f"cannot read orchestrator configuration {path}: {reason}",
            hint="Give the TOML file described in docs/orchestrator.md with --config.",
        ) from None
    return parse_config(text, base_dir=path.resolve().parent, source=str(path))


def parse_config(text: str, *, base_dir: Path, source: str) -> OrchestratorConfig:
    """Check the TOML text of an orchestrator configuration.

    Parameters
    ----------
    text
        The TOML document.
    base_dir
        The folder relative paths are resolved against.
    source
        The file name, for messages.

    Returns
    -------
    OrchestratorConfig
        The checked configuration.

    Raises
    ------
    ConfigurationError
        Naming ``source``, the key and the problem.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{source} is not valid TOML: {exc}") from None
    reader = _Reader(document, source, base_dir)
    unknown = sorted(document.keys() - _KEYS)
    if unknown:
        raise reader.error(
            unknown[0], f"is not a known key; known keys are {', '.join(sorted(_KEYS))}"
        )
    listen = reader.address(reader.string("listen"), "listen")
    config = OrchestratorConfig(
        listen=listen,
        agreement_path=reader.path("agreement"),
        data_dir=reader.path("data_dir"),
        nodes=_nodes(reader),
        party_certificates=tuple(reader.paths("party_certificates")),
        party_card_dir=reader.path("party_card_dir") if "party_card_dir" in document else None,
        proposal_ttl_seconds=reader.integer(
            "proposal_ttl_seconds", DEFAULT_PROPOSAL_TTL_SECONDS, 1, _MAX_TTL_SECONDS
        ),
        execute_timeout_seconds=reader.number(
            "execute_timeout_seconds",
            DEFAULT_EXECUTE_TIMEOUT_SECONDS,
            _MAX_EXECUTE_TIMEOUT_SECONDS,
        ),
        max_blob_bytes=reader.integer("max_blob_bytes", DEFAULT_MAX_BLOB_BYTES, 1, 2**50),
        node_refresh_seconds=reader.number("node_refresh_seconds", 30.0, 24 * 3600.0),
        sweep_interval_seconds=reader.number("sweep_interval_seconds", 5.0, 3600.0),
        operator_certificates=tuple(reader.paths("operator_certificates")),
        max_nodes=reader.integer("max_nodes", DEFAULT_MAX_NODES, 1, 4096),
        stream_idle_seconds=reader.number(
            "stream_idle_seconds", DEFAULT_STREAM_IDLE_SECONDS, 3600.0
        ),
        source=source,
    )
    if len(config.nodes) > config.max_nodes:
        raise reader.error(
            "nodes", f"lists {len(config.nodes)} nodes, more than max_nodes ({config.max_nodes})"
        )
    if not config.party_certificates and config.party_card_dir is None:
        raise ConfigurationError(
            f"{source}: give the parties' TLS certificates with 'party_certificates' "
            "(certificate files, card files or party folders) or 'party_card_dir'",
            hint="The orchestrator accepts only clients whose certificates the agreement lists.",
        )
    return config


def _nodes(reader: _Reader) -> tuple[NodeConfig, ...]:
    raw = reader.document.get("nodes", [])
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise reader.error("nodes", "must be a list of tables ([[nodes]] with id and address)")
    nodes: list[NodeConfig] = []
    for index, item in enumerate(raw):
        key = f"nodes[{index}]"
        unknown = sorted(item.keys() - _NODE_KEYS)
        missing = sorted(_NODE_KEYS - item.keys())
        if unknown or missing:
            problem = f"has unknown key '{unknown[0]}'" if unknown else f"needs '{missing[0]}'"
            raise reader.error(key, f"{problem}; a node has exactly 'id' and 'address'")
        node_id, address = item["id"], item["address"]
        if not isinstance(node_id, str) or not NODE_ID_PATTERN.fullmatch(node_id):
            raise reader.error(
                f"{key}.id",
                "must be 1 to 63 lower-case letters, digits or '_.-', starting with a letter "
                f"or digit; got {node_id!r}",
            )
        if not isinstance(address, str):
            raise reader.error(f"{key}.address", "must be a string HOST:PORT")
        reader.address(address, f"{key}.address")
        for earlier in nodes:
            if earlier.node_id == node_id:
                raise reader.error(f"{key}.id", f"repeats node id {node_id!r}")
            if earlier.address == address:
                raise reader.error(
                    f"{key}.address", f"repeats the address of node {earlier.node_id!r}"
                )
        nodes.append(NodeConfig(node_id, address))
    return tuple(nodes)


class _Reader:
    """Typed access to the top-level keys, with errors naming the file and the key."""

    def __init__(self, document: Mapping[str, object], source: str, base_dir: Path) -> None:
        self.document = document
        self.source = source
        self.base_dir = base_dir

    def error(self, key: str, problem: str) -> ConfigurationError:
        return ConfigurationError(f"{self.source}: '{key}' {problem}")

    def address(self, value: str, key: str) -> str:
        try:
            split_address(value)
        except ConfigurationError as exc:
            raise self.error(key, f"is invalid: {exc.message}") from None
        return value

    def string(self, key: str) -> str:
        if key not in self.document:
            raise self.error(key, "is required")
        value = self.document[key]
        if not isinstance(value, str) or not value:
            raise self.error(key, f"must be a non-empty string; got {value!r}")
        return value

    def strings(self, key: str) -> list[str]:
        value = self.document.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(key, "must be a list of non-empty strings")
        return list(value)

    def path(self, key: str) -> Path:
        return self.base_dir / Path(self.string(key)).expanduser()

    def paths(self, key: str) -> list[Path]:
        return [self.base_dir / Path(item).expanduser() for item in self.strings(key)]

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.document.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.error(key, f"must be a whole number from {low} to {high}; got {value!r}")
        return value

    def number(self, key: str, default: float, high: float) -> float:
        value = self.document.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= high:
            raise self.error(
                key, f"must be a number of seconds above 0 and at most {high:g}; got {value!r}"
            )
        return float(value)


def _certificate_files(config: OrchestratorConfig) -> list[Path]:
    files = list(config.party_certificates)
    if config.party_card_dir is not None:
        folder = config.party_card_dir
        if not folder.is_dir():
            raise ConfigurationError(
                f"{config.source}: 'party_card_dir' {folder} is not a folder",
                hint="Create it and put every party's card.json (renamed NAME.json) in it.",
            )
        files.extend(sorted(folder.glob("*.json")))
    return files


def _read_certificate(path: Path) -> tuple[x509.Certificate, str | None]:
    """Return the certificate in ``path`` and the party name a card gives it, if a card."""
    if path.is_dir():
        path = path / CARD_FILE_NAME
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read party certificate {path}: {exc.strerror}",
            hint="Give a party's tls-cert.pem, its card.json, or its party folder.",
        ) from None
    if data.lstrip().startswith(b"-----BEGIN"):
        try:
            certificates = x509.load_pem_x509_certificates(data)
        except ValueError:
            raise ConfigurationError(f"{path} is not a readable PEM certificate") from None
        if len(certificates) != 1:
            raise ConfigurationError(f"{path} must hold exactly one certificate")
        return certificates[0], None
    try:
        card = PartyCard.from_json(data, source=str(path))
    except AccordError as exc:
        raise ConfigurationError(
            f"{path} is neither a PEM certificate nor a party card: {exc.message}"
        ) from None
    return card.tls_certificate, card.name


def load_party_certificates(
    config: OrchestratorConfig, agreement: SignedAgreement
) -> dict[str, bytes]:
    """Read the parties' TLS certificates and check them against the agreement.

    Each certificate must be the one whose SHA-256 fingerprint the agreement lists for a
    party, and every party of the agreement must have one, so that exactly the parties can
    connect.

    Parameters
    ----------
    config
        The configuration naming the certificate files.
    agreement
        The signed agreement.

    Returns
    -------
    dict[str, bytes]
        Party name to its certificate (PEM).

    Raises
    ------
    ConfigurationError
        If a file cannot be read, a certificate is not any party's, a card names another
        party than the agreement does for its certificate, or a party has no certificate.
    """
    by_fingerprint = {party.tls_certificate_fingerprint: party.name for party in agreement.parties}
    found: dict[str, bytes] = {}
    for path in _certificate_files(config):
        certificate, card_name = _read_certificate(path)
        der = certificate.public_bytes(serialization.Encoding.DER)
        fingerprint = hashlib.sha256(der).hexdigest()
        name = by_fingerprint.get(fingerprint)
        if name is None:
            raise ConfigurationError(
                f"{path}: certificate {fingerprint[:16]}.. is not the TLS certificate of any "
                f"party of agreement {agreement.digest[:16]}..",
                hint="Use the certificate from each party's current card; the agreement lists "
                "the fingerprints it accepts.",
            )
        if card_name is not None and card_name != name:
            raise ConfigurationError(
                f"{path}: the card is {card_name!r}'s but the agreement gives its certificate "
                f"to {name!r}"
            )
        found[name] = certificate.public_bytes(serialization.Encoding.PEM)
    missing = sorted(set(by_fingerprint.values()) - found.keys())
    if missing:
        raise ConfigurationError(
            f"{config.source}: no TLS certificate for part{'ies' if len(missing) > 1 else 'y'} "
            f"{', '.join(missing)}",
            hint="Add their tls-cert.pem, card.json or party folder to 'party_certificates'.",
        )
    return found


def load_operator_certificates(config: OrchestratorConfig) -> dict[str, bytes]:
    """Read the operators' TLS certificates (who may register nodes at run time).

    Parameters
    ----------
    config
        The configuration naming the certificate files (``operator_certificates``).

    Returns
    -------
    dict[str, bytes]
        Each certificate (PEM) by its SHA-256 fingerprint (hex of the DER bytes); empty
        when no operator is configured, so that no one can register nodes.

    Raises
    ------
    ConfigurationError
        If a file cannot be read or holds no single certificate.
    """
    found: dict[str, bytes] = {}
    for path in config.operator_certificates:
        certificate, _ = _read_certificate(path)
        der = certificate.public_bytes(serialization.Encoding.DER)
        found[hashlib.sha256(der).hexdigest()] = certificate.public_bytes(
            serialization.Encoding.PEM
        )
    return found
