"""``SourceIds``: the source's own user or item ids behind llmrec's dense integer ids.

:class:`~llmrec.data.Ratings` holds int32 ids. Sources whose ids are strings (Amazon ASINs and
reviewer ids, RecBole tokens) get dense ids ``1..n`` in order of first appearance in the file
(RecBole numbers tokens the same way, after its ``[PAD]`` 0); the strings are kept in a
:class:`SourceIds`, saved with the table, so a result can always be written back in the
source's ids. Ids that are canonical decimal integers in every row (``"0"``, ``"42"``, no sign,
no leading zero, at most 2,147,483,647: MovieLens, RecBole's ml-100k) keep their values and
need no map, so the same user and movie get the same id whichever loader read them.

The strings are stored compactly as one UTF-8 buffer and ``n + 1`` offsets (two numpy arrays
that save as ``.npy`` and memory-map), not as ``n`` Python objects: an Amazon category with ten
million reviewers costs about 30 bytes per reviewer. The reverse lookup (string to id) is a
dictionary built on first use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["SourceIds", "encode_ids", "ids_from_codes"]

_INT32_MAX = 2_147_483_647


def _is_canonical_int(token: str) -> bool:
    """``"0"`` or ``[1-9][0-9]*`` in ASCII, at most ``2**31 - 1``."""
    return (
        token.isascii()
        and token.isdigit()
        and (token == "0" or not token.startswith("0"))
        and len(token) <= 10
        and int(token) <= _INT32_MAX
    )


class SourceIds:
    """The source ids of dense ids ``1..n``: ``token(i)`` is the string the source used for ``i``.

    Built from the strings in id order (``tokens[0]`` is id 1), or from the saved buffer and
    offsets (:meth:`from_arrays`). Immutable; equal when the strings are equal.
    """

    __slots__ = ("_index", "buffer", "offsets")

    buffer: npt.NDArray[np.uint8]
    """The UTF-8 bytes of every token, concatenated."""
    offsets: npt.NDArray[np.int64]
    """``n + 1`` offsets into :attr:`buffer`: token ``i`` is ``buffer[offsets[i-1]:offsets[i]]``."""

    def __init__(self, tokens: Iterable[str]) -> None:
        encoded = [str(t).encode("utf-8") for t in tokens]
        lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        self.buffer = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        self.offsets = offsets
        self._index: dict[str, int] | None = None
        if len(set(encoded)) != len(encoded):
            raise ValueError("source ids must be distinct")

    @classmethod
    def from_arrays(cls, buffer: npt.ArrayLike, offsets: npt.ArrayLike) -> SourceIds:
        """Rebuild from :attr:`buffer` and :attr:`offsets` (as saved); checks their shape."""
        buf = np.asarray(buffer)
        off = np.asarray(offsets)
        if buf.dtype != np.uint8 or buf.ndim != 1 or off.dtype != np.int64 or off.ndim != 1:
            raise ValueError("source ids need a 1-D uint8 buffer and 1-D int64 offsets")
        if off.size == 0 or off[0] != 0 or off[-1] != buf.size or np.any(np.diff(off) < 0):
            raise ValueError("source id offsets must rise from 0 to the buffer's length")
        self = cls.__new__(cls)
        self.buffer, self.offsets, self._index = buf, off, None
        return self

    def __len__(self) -> int:
        return int(self.offsets.size - 1)

    def __repr__(self) -> str:
        shown = ", ".join(repr(self.token(i)) for i in range(1, min(len(self), 3) + 1))
        more = ", ..." if len(self) > 3 else ""
        return f"SourceIds({len(self):,} ids: {shown}{more})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SourceIds):
            return NotImplemented
        return np.array_equal(self.offsets, other.offsets) and np.array_equal(
            self.buffer, other.buffer
        )

    __hash__ = None  # type: ignore[assignment]

    def digest(self, h: Any) -> None:
        """Feed the offsets and the buffer to a ``hashlib`` object (for fingerprints)."""
        h.update(np.ascontiguousarray(self.offsets).view(np.uint8).data)
        if self.buffer.size:
            h.update(np.ascontiguousarray(self.buffer).data)

    def token(self, dense_id: int) -> str:
        """The source's id for ``dense_id`` (``1..n``); ``KeyError`` naming it otherwise."""
        i = int(dense_id)
        if not 1 <= i <= len(self):
            raise KeyError(f"id {i} has no source id (the map holds ids 1 to {len(self):,})")
        start, end = int(self.offsets[i - 1]), int(self.offsets[i])
        return bytes(self.buffer[start:end]).decode("utf-8")

    def tokens(self, dense_ids: npt.ArrayLike | None = None) -> list[str]:
        """The source ids of ``dense_ids`` (all of them, in id order, when ``None``)."""
        if dense_ids is None:
            data = bytes(self.buffer)
            bounds = self.offsets.tolist()
            return [data[a:b].decode("utf-8") for a, b in pairwise(bounds)]
        ids = np.asarray(dense_ids).ravel()
        if ids.size > len(self) // 4:  # many lookups: decode every token once
            if ids.size and (int(ids.min()) < 1 or int(ids.max()) > len(self)):
                bad = int(ids[(ids < 1) | (ids > len(self))][0])
                self.token(bad)  # raises the KeyError naming it
            every = self.tokens()
            return [every[i - 1] for i in ids.tolist()]
        return [self.token(int(i)) for i in ids.tolist()]

    def id(self, token: str) -> int:
        """The dense id of the source id ``token``; ``KeyError`` naming it if it is unknown."""
        if self._index is None:
            self._index = {t: i for i, t in enumerate(self.tokens(), start=1)}
        try:
            return self._index[token]
        except KeyError:
            raise KeyError(f"source id {token!r} is not in the map") from None

    def ids(self, tokens: Iterable[str]) -> npt.NDArray[np.int32]:
        """The dense ids of ``tokens``, as int32."""
        return np.array([self.id(t) for t in tokens], dtype=np.int32)

    def sha256(self) -> str:
        h = hashlib.sha256()
        self.digest(h)
        return h.hexdigest()


def ids_from_codes(
    codes: npt.NDArray[np.int32], uniques: Sequence[str]
) -> tuple[npt.NDArray[np.int32], SourceIds | None]:
    """Finish :func:`encode_ids` from first-appearance codes ``1..n`` and their strings.

    For loaders that number tokens themselves while streaming (a dictionary as they go):
    ``codes[r]`` is the 1-based position of row ``r``'s token in ``uniques``.
    """
    if all(_is_canonical_int(t) for t in uniques):
        values = np.zeros(len(uniques) + 1, dtype=np.int32)
        values[1:] = [int(t) for t in uniques]
        return values[codes], None
    return np.asarray(codes, dtype=np.int32), SourceIds(uniques)


def encode_ids(
    tokens: Sequence[str],
) -> tuple[npt.NDArray[np.int32], SourceIds | None]:
    """Integer ids for a column of source ids, and their map (``None`` when none is needed).

    If every distinct token is a canonical decimal integer that fits int32 the values are kept
    (``"42"`` is id 42) and no map is made. Otherwise every token gets a dense id ``1..n`` in
    order of first appearance, and the returned :class:`SourceIds` gives the strings back.
    """
    index: dict[str, int] = {}
    codes = np.fromiter(
        (index.setdefault(str(t), len(index) + 1) for t in tokens),
        dtype=np.int32,
        count=len(tokens),
    )
    return ids_from_codes(codes, list(index))
