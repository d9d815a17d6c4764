"""What a server keeps between requests, bounded by bytes rather than by count: an anonymous
client choosing the keys (a list of 1,000 items, any of the 524,287 genre combinations of
MovieLens) must not be able to grow a worker's memory past what the operator allowed.

`ByteCache` is a least-recently-used mapping whose entries are charged their approximate size
(keys included); past `max_bytes`, the least recently used go first. An entry larger than the
whole budget is not kept at all.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

MIB = 1024 * 1024
DEFAULT_CACHE_MB = 64  # kept lists and genre filters per loaded model, in MiB
ENTRY_OVERHEAD = 100  # the mapping's own slot and its link, per entry


def approx_bytes(value: Any) -> int:
    """What `value` holds in memory, near enough to bound a cache by: containers with what
    they contain, arrays by their buffer. Shared small objects are counted each time (an
    over-count, which only makes the bound safer)."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes) + sys.getsizeof(value[:0])
    if isinstance(value, (tuple, list, set, frozenset)):
        return sys.getsizeof(value) + sum(approx_bytes(v) for v in value)
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(
            approx_bytes(k) + approx_bytes(v) for k, v in value.items()
        )
    return sys.getsizeof(value)


class ByteCache:
    """A thread-safe LRU mapping of at most `max_bytes` (0: keeps nothing)."""

    def __init__(self, max_bytes: int):
        if max_bytes < 0:
            raise ValueError(f"a cache's bound is at least 0 bytes, got {max_bytes}")
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Any) -> Any | None:
        """The value kept under `key` (now the most recently used), or None."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[0]

    def put(self, key: Any, value: Any) -> Any:
        """Keep `value` under `key`, evicting the least recently used past the bound;
        returns `value` (kept or not)."""
        size = approx_bytes(key) + approx_bytes(value) + ENTRY_OVERHEAD
        if size > self.max_bytes:
            return value
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._entries[key] = (value, size)
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.bytes -= dropped
        return value

    def state(self) -> dict[str, int]:
        """{entries, bytes, max_bytes}: what /health reports."""
        with self._lock:
            return {"entries": len(self._entries), "bytes": self.bytes, "max_bytes": self.max_bytes}
