"""The co-count on a torch device (``NeighbourTruth.build(device=...)``, the ``[train]`` extra).

The heavy step of the neighbour truth is counting, for each target, how many of its neighbours
watched each movie (``C = N @ watched``, :mod:`llmrec.truth._batch` step 4). On a GPU it runs as
integer ``bincount`` over the gathered rows of the neighbours, tile by tile:

1. the targets of a batch are cut into tiles holding at most ``budget`` watched entries (the
   neighbours' row lengths summed), so any number of users fits one device's memory;
2. for a tile, the neighbours' rows of ``watched`` are gathered on the device (a ragged gather:
   ``repeat_interleave`` of the row starts), each entry keyed ``tile_row * n_movies + movie``;
3. ``bincount`` of the keys is the tile's dense count matrix; entries reaching the row's need
   (``count >= need``) are the hits, copied back as (row, movie, count).

Counts are integers, so the hits are exactly the CPU kernel's; the gold order is then computed
by the same CPU code, and the truth is identical byte for byte. ``device="cpu"`` runs this same
code on torch's CPU device (what the tests check against the scipy kernel).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from llmrec.errors import ConfigError

__all__ = ["DEFAULT_BUDGET", "device_hits", "resolve_device"]

DEFAULT_BUDGET = 1 << 25  # watched entries gathered per tile (about 0.5 GB of device memory)

IntArray = npt.NDArray[np.int64]


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ConfigError(
            "device=... counts with torch, which is not installed: pip install 'llmrec[train]' "
            "(or leave device unset to count with scipy on the CPU)"
        ) from None
    return torch


def resolve_device(device: str | None) -> str | None:
    """``None`` (scipy on the CPU), or the torch device to count on.

    ``"auto"`` is CUDA when torch sees a GPU and ``None`` otherwise; any other string is a torch
    device (``"cuda"``, ``"cuda:1"``, ``"cpu"``: torch's CPU device, mostly for tests).
    """
    if device is None:
        return None
    if device == "auto":
        try:
            import torch
        except ImportError:
            return None
        return "cuda" if torch.cuda.is_available() else None
    torch = _torch()
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ConfigError(f"device={device!r} is not a torch device: {exc}") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r}: torch sees no CUDA GPU (use device='auto')")
    return str(parsed)


_ON_DEVICE: dict[tuple[int, str], tuple[sp.csr_array, Any, Any]] = {}


def _matrix_on(matrix: sp.csr_array, device: str) -> tuple[Any, Any]:
    """``matrix``'s row pointers and column indices on ``device`` (copied once per matrix)."""
    torch = _torch()
    key = (id(matrix), device)
    held = _ON_DEVICE.get(key)
    if held is None or held[0] is not matrix:
        if len(_ON_DEVICE) >= 4:
            _ON_DEVICE.clear()
        indptr = torch.from_numpy(np.asarray(matrix.indptr, dtype=np.int64)).to(device)
        indices = torch.from_numpy(np.asarray(matrix.indices)).to(device)
        held = (matrix, indptr, indices)
        _ON_DEVICE[key] = held
    return held[1], held[2]


def device_hits(
    matrix: sp.csr_array,
    neighbours: list[IntArray],
    rows_used: npt.NDArray[np.bool_],
    need: IntArray,
    device: str,
    budget: int = DEFAULT_BUDGET,
) -> tuple[IntArray, IntArray, IntArray]:
    """(row, movie, count) of every count of ``N @ matrix`` reaching its row's need, computed
    on ``device`` in tiles of at most ``budget`` gathered entries (a row longer than the budget
    is a tile of its own)."""
    torch = _torch()
    indptr, indices = _matrix_on(matrix, device)
    n_movies = int(matrix.shape[1])
    row_nnz = np.diff(matrix.indptr).astype(np.int64)
    rows = np.flatnonzero(rows_used & np.array([a.size > 0 for a in neighbours], dtype=bool))
    load = np.array([int(row_nnz[neighbours[r]].sum()) for r in rows], dtype=np.int64)
    found_r: list[IntArray] = []
    found_c: list[IntArray] = []
    found_v: list[IntArray] = []
    start = 0
    while start < rows.size:
        stop, total = start + 1, int(load[start])
        while stop < rows.size and total + int(load[stop]) <= budget:
            total += int(load[stop])
            stop += 1
        tile = rows[start:stop]
        r, c, v = _tile(torch, indptr, indices, n_movies, [neighbours[t] for t in tile], need[tile])
        found_r.append(tile[r])
        found_c.append(c)
        found_v.append(v)
        start = stop
    if not found_r:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    return np.concatenate(found_r), np.concatenate(found_c), np.concatenate(found_v)


def _tile(
    torch: Any,
    indptr: Any,
    indices: Any,
    n_movies: int,
    neighbours: list[IntArray],
    need: IntArray,
) -> tuple[IntArray, IntArray, IntArray]:
    device = indptr.device
    sizes = torch.tensor([a.size for a in neighbours], dtype=torch.int64, device=device)
    users = torch.from_numpy(np.concatenate(neighbours).astype(np.int64)).to(device)
    owner = torch.repeat_interleave(torch.arange(len(neighbours), device=device), sizes)
    starts = indptr[users]
    lengths = indptr[users + 1] - starts
    first = torch.cumsum(lengths, 0) - lengths  # where each neighbour's run begins
    run = torch.repeat_interleave(torch.arange(users.numel(), device=device), lengths)
    pos = torch.arange(int(lengths.sum()), device=device) - first[run] + starts[run]
    keys = owner[run] * n_movies + indices[pos].to(torch.int64)
    counts = torch.bincount(keys, minlength=len(neighbours) * n_movies).view(-1, n_movies)
    wanted = torch.from_numpy(need.astype(np.int64)).to(device).unsqueeze(1)
    hit_r, hit_c = torch.nonzero(counts >= wanted, as_tuple=True)
    values = counts[hit_r, hit_c]
    return (
        hit_r.cpu().numpy().astype(np.int64),
        hit_c.cpu().numpy().astype(np.int64),
        values.cpu().numpy().astype(np.int64),
    )
