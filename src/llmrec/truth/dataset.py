"""``Example`` and ``ProfileDataset``: the ground truth as plain, saveable objects.

An example is one target user: the profile (their top movies, in order), the gold
recommendations (in order) and how many neighbours produced them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np

from llmrec._io import atomic_open
from llmrec.errors import ConfigError, DataFormatError
from llmrec.truth._stats import TruthStats, compute_stats

__all__ = ["Example", "ProfileDataset"]

_FIELDS = ("user_id", "profile", "gold", "n_neighbours")


@dataclass(frozen=True)
class Example:
    """One target user's profile and gold recommendations (movie ids, in rank order)."""

    user_id: int
    profile: tuple[int, ...]
    gold: tuple[int, ...]
    n_neighbours: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "profile": list(self.profile),
            "gold": list(self.gold),
            "n_neighbours": self.n_neighbours,
        }


@dataclass
class ProfileDataset:
    """An ordered collection of :class:`Example` with the metadata that produced it.

    ``meta`` holds the truth config, the ratings' fingerprint and build counters; it is stored
    beside the examples by :meth:`save` (``PATH`` holds JSON Lines, ``PATH.meta.json`` the rest).
    """

    examples: list[Example]
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.examples)

    def __iter__(self) -> Iterator[Example]:
        return iter(self.examples)

    @overload
    def __getitem__(self, i: int) -> Example: ...
    @overload
    def __getitem__(self, i: slice) -> ProfileDataset: ...
    def __getitem__(self, i: int | slice) -> Example | ProfileDataset:
        if isinstance(i, slice):
            return ProfileDataset(self.examples[i], dict(self.meta))
        return self.examples[i]

    def __repr__(self) -> str:
        name = self.meta.get("name", "")
        return f"ProfileDataset({name + ', ' if name else ''}{len(self):,} examples)"

    @property
    def user_ids(self) -> list[int]:
        return [e.user_id for e in self.examples]

    @property
    def profiles(self) -> list[tuple[int, ...]]:
        return [e.profile for e in self.examples]

    @property
    def golds(self) -> list[tuple[int, ...]]:
        return [e.gold for e in self.examples]

    def stats(self) -> TruthStats:
        """Targets, left-out counts, gold-size and neighbour-count distributions, and the share
        of gold items among the 100 most-rated movies (how much of the truth is popularity)."""
        return compute_stats(self.golds, [e.n_neighbours for e in self.examples], self.meta)

    def subset(self, user_ids: Iterable[int]) -> ProfileDataset:
        """The examples of the given users, in this dataset's order."""
        wanted = set(int(u) for u in user_ids)
        return ProfileDataset([e for e in self.examples if e.user_id in wanted], dict(self.meta))

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write JSON Lines to ``path``, the metadata to ``path`` + ``.meta.json``, atomically."""
        out = Path(path)
        with atomic_open(out, "w") as fh:
            for e in self.examples:
                fh.write(json.dumps(e.to_dict(), separators=(",", ":")) + "\n")
        with atomic_open(_meta_path(out), "w") as fh:
            fh.write(json.dumps(self.meta, indent=2, sort_keys=True) + "\n")
        return out

    @classmethod
    def load(cls, path: str | Path) -> ProfileDataset:
        """Read a file written by :meth:`save`; malformed lines raise ``DataFormatError``."""
        src = Path(path)
        examples: list[Example] = []
        try:
            handle = open(src, encoding="utf-8")  # noqa: SIM115 (closed by the with below)
        except FileNotFoundError:
            raise DataFormatError("profile dataset file not found", path=src) from None
        with handle:
            for lineno, line in enumerate(handle, 1):
                if not line.strip():
                    raise DataFormatError("blank line in profile dataset", path=src, line=lineno)
                examples.append(_parse_example(line, src, lineno))
        meta: dict[str, Any] = {}
        mp = _meta_path(src)
        if mp.exists():
            try:
                meta = json.loads(mp.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise DataFormatError(f"damaged metadata: {exc}", path=mp) from None
        return cls(examples, meta)

    # -- splitting --------------------------------------------------------------------------
    def split(
        self, train: float = 0.7, val: float = 0.2, test: float = 0.1, *, seed: int = 0
    ) -> tuple[ProfileDataset, ProfileDataset, ProfileDataset]:
        """Split by user into train/validation/test (the study's 70/20/10 by default).

        Users are shuffled with ``seed`` (a permutation of the examples sorted by user id, so the
        result does not depend on this dataset's order); sizes are ``floor(n * train)``,
        ``floor(n * val)`` and the rest. Each part keeps its examples in user-id order.
        """
        for name, frac in (("train", train), ("val", val), ("test", test)):
            if not 0.0 <= frac <= 1.0:
                raise ConfigError(f"split fraction {name}={frac} is outside [0, 1]")
        if abs(train + val + test - 1.0) > 1e-9:
            raise ConfigError(f"split fractions must sum to 1, got {train} + {val} + {test}")
        ordered = sorted(self.examples, key=lambda e: e.user_id)
        n = len(ordered)
        perm = np.random.default_rng(seed).permutation(n)
        n_train, n_val = int(np.floor(n * train + 1e-9)), int(np.floor(n * val + 1e-9))
        parts = (perm[:n_train], perm[n_train : n_train + n_val], perm[n_train + n_val :])
        out = []
        for name, idx in zip(("train", "val", "test"), parts, strict=True):
            meta = dict(self.meta, split=name, split_seed=seed)
            out.append(ProfileDataset([ordered[i] for i in sorted(idx.tolist())], meta))
        return out[0], out[1], out[2]


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".meta.json")


def _int_list(value: Any, name: str, src: Path, lineno: int) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise DataFormatError(
            f"field {name!r} must be a list of integers",
            path=src,
            line=lineno,
            text=json.dumps(value)[:80],
        )
    return tuple(value)


def _parse_example(line: str, src: Path, lineno: int) -> Example:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        raise DataFormatError("not valid JSON", path=src, line=lineno, text=line[:80]) from None
    if not isinstance(obj, dict):
        raise DataFormatError("expected a JSON object", path=src, line=lineno, text=line[:80])
    missing = [f for f in _FIELDS if f not in obj]
    unknown = sorted(set(obj) - set(_FIELDS))
    if missing or unknown:
        raise DataFormatError(
            f"expected fields {list(_FIELDS)}; missing {missing}, unknown {unknown}",
            path=src,
            line=lineno,
            text=line[:80],
        )
    for name in ("user_id", "n_neighbours"):
        if not isinstance(obj[name], int) or isinstance(obj[name], bool):
            raise DataFormatError(
                f"field {name!r} must be an integer", path=src, line=lineno, text=repr(obj[name])
            )
    return Example(
        user_id=obj["user_id"],
        profile=_int_list(obj["profile"], "profile", src, lineno),
        gold=_int_list(obj["gold"], "gold", src, lineno),
        n_neighbours=obj["n_neighbours"],
    )


def as_profiles(profiles: Sequence[Sequence[int]]) -> list[tuple[int, ...]]:
    """Normalise a sequence of profiles to tuples of Python ints."""
    return [tuple(int(m) for m in p) for p in profiles]
