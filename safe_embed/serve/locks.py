"""A lock that lets writers in first: exemplar additions wait for at most one index search of a batch.

The batch worker takes the lock as a reader around the index search of each batch; a writer (an
addition, a removal, a catch-up with other writers) that arrives meanwhile is let in before the worker's next
search, however long the queue of classification requests is.

>>> lock = WriterFirstLock()
>>> with lock.reader():
...     pass
>>> with lock:  # writer
...     pass
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self


class WriterFirstLock:
    """Mutual exclusion where a waiting writer (``with lock:``) goes before the next reader (``lock.reader()``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._writers = 0

    @contextmanager
    def reader(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: self._writers == 0)
        self._lock.acquire()
        try:
            yield
        finally:
            self._lock.release()

    def __enter__(self) -> Self:
        with self._cond:
            self._writers += 1
        try:
            self._lock.acquire()
        except BaseException:
            self._leave()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._lock.release()
        self._leave()

    def _leave(self) -> None:
        with self._cond:
            self._writers -= 1
            self._cond.notify_all()
