"""Bounded concurrency for transports: ``map_bounded`` runs calls on a few threads.

Used by the OpenAI chat transport (one thread per request in flight); any transport that waits
on I/O can use it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar, cast

__all__ = ["map_bounded"]

T = TypeVar("T")
R = TypeVar("R")


def map_bounded(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    max_workers: int,
    on_done: Callable[[int, R], None] | None = None,
) -> list[R]:
    """``[fn(x) for x in items]`` on at most ``max_workers`` threads, results in input order.

    ``on_done(index, result)`` runs in the calling thread as each call finishes (progress,
    bookkeeping). On the first exception no further call starts, calls already running finish
    (their side effects, such as cache writes, are kept), and the exception is raised.

    Why not ``ThreadPoolExecutor``: each worker here takes the next index itself and hands its
    result over through one queue, so a call costs no ``Future``, no per-call condition variable
    and no ``as_completed`` bookkeeping. With dozens of threads sharing one interpreter lock,
    that per-call overhead is paid while other requests wait for the lock.
    """
    if not items:
        return []
    n = len(items)
    results: list[R | None] = [None] * n
    indices = iter(range(n))
    take = threading.Lock()
    stop = threading.Event()
    finished: queue.SimpleQueue[tuple[int, R | None, BaseException | None]] = queue.SimpleQueue()

    def work() -> None:
        while not stop.is_set():
            with take:
                i = next(indices, None)
            if i is None:
                return
            try:
                value = fn(items[i])
            except BaseException as exc:  # handed to the calling thread, which raises it
                stop.set()
                finished.put((i, None, exc))
                return
            finished.put((i, value, None))

    threads = [
        threading.Thread(target=work, name=f"llmrec-request-{j}", daemon=True)
        for j in range(min(max_workers, n))
    ]
    for thread in threads:
        thread.start()
    try:
        for _ in range(n):
            i, value, error = finished.get()
            if error is not None:
                raise error
            results[i] = value
            if on_done is not None:
                on_done(i, cast("R", value))
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    return cast("list[R]", results)
