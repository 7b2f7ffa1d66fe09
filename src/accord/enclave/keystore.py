"""The enclave session's in-memory store of released data keys.

Keys arrive only through :meth:`accord.enclave.EnclaveSession.accept_key_release`, after every
check of :func:`accord.crypto.keyrelease.open_key_release`. They are held in process memory,
keyed by key id with the party that released them, and never written anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NoReturn

from accord.crypto.keys import DataKey
from accord.errors import KeyMaterialError, VerificationError

__all__ = ["SessionKeyStore"]


class SessionKeyStore:
    """Data keys released to one enclave session, keyed by key id, with their owning party.

    The store refuses pickling and copying, and its repr shows only how many keys it holds.
    """

    __slots__ = ("_keys",)

    def __init__(self) -> None:
        self._keys: dict[str, tuple[str, DataKey]] = {}

    def add(self, party: str, data_key: DataKey) -> str:
        """Keep ``data_key`` as released by ``party``; adding the same key again changes nothing.

        Parameters
        ----------
        party
            The agreement party whose signed release carried the key.
        data_key
            The released key.

        Returns
        -------
        str
            The key id.

        Raises
        ------
        VerificationError
            If another party already released the key with this key id.
        """
        key_id = data_key.key_id
        held = self._keys.get(key_id)
        if held is not None and held[0] != party:
            raise VerificationError(
                f"key {key_id} was released to this session by party {held[0]!r}; "
                f"party {party!r} cannot release it under its own name",
                hint="Each party releases only the keys it sealed its own data with.",
            )
        if held is None:
            self._keys[key_id] = (party, data_key)
        return key_id

    def data_key(self, key_id: str, *, owner: str | None = None) -> DataKey:
        """Return the released key with ``key_id``.

        Parameters
        ----------
        key_id
            The key id that a sealed file names.
        owner
            The party whose data the key must open, where the caller knows it; the key must
            then have been released by that party.

        Returns
        -------
        DataKey
            The key.

        Raises
        ------
        KeyMaterialError
            If no party released the key to this session, or another party than ``owner`` did.
        """
        held = self._keys.get(key_id)
        who = f"party {owner!r}" if owner is not None else "the party that sealed the data"
        if held is None:
            raise KeyMaterialError(
                f"data key {key_id} has not been released to this enclave session; "
                f"{who} must provision it",
                hint=(
                    "That party verifies this enclave's evidence and sends its key release "
                    "message to this session."
                ),
            )
        if owner is not None and held[0] != owner:
            raise KeyMaterialError(
                f"data key {key_id} was released by party {held[0]!r}, not by {owner!r}; "
                f"party {owner!r} must provision the key for its own data"
            )
        return held[1]

    def latest_for(self, party: str) -> DataKey | None:
        """Return the data key that ``party`` released most recently, or ``None``.

        A party's outputs are sealed with this key; a party that released several keys
        (for instance after rotating its data key) receives outputs under the latest one.
        """
        for owner, data_key in reversed(self._keys.values()):
            if owner == party:
                return data_key
        return None

    @property
    def owners(self) -> Mapping[str, str]:
        """A read-only snapshot: key id to the party that released it."""
        return MappingProxyType({key_id: held[0] for key_id, held in self._keys.items()})

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("SessionKeyStore holds secret key material and cannot be pickled")

    def __copy__(self) -> NoReturn:
        raise TypeError("SessionKeyStore cannot be copied")

    def __deepcopy__(self, memo: Any) -> NoReturn:
        raise TypeError("SessionKeyStore cannot be copied")

    def __repr__(self) -> str:
        return f"SessionKeyStore({len(self._keys)} keys)"
