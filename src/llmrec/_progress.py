"""Progress bars through ``tqdm.auto`` (widgets in notebooks), silenced with ``progress=False``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def progress(
    iterable: Iterable[T], *, enabled: bool = True, total: int | None = None, desc: str = ""
) -> Iterator[T]:
    """Iterate over ``iterable``, showing a progress bar when ``enabled``."""
    if not enabled:
        yield from iterable
        return
    from tqdm.auto import tqdm

    bar: Any = tqdm(iterable, total=total, desc=desc, leave=False)
    try:
        yield from bar
    finally:
        bar.close()


def progress_bar(*, enabled: bool = True, total: int | None = None, desc: str = "") -> Any:
    """A manually advanced bar (``.update(n)``, ``.close()``); a no-op object when disabled."""
    if not enabled:
        return _NullBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False)


class _NullBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _NullBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass
