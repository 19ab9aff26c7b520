"""The transactional ordered key-value interface meta is stateless over (the FoundationDB model).

A transaction reads and writes byte keys in sorted order and commits atomically; conflicting
transactions are retried by ``KVStore.transact``. The function passed to ``transact`` may therefore run
more than once: it must have no effects outside the transaction.
"""

from __future__ import annotations

import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class KVError(Exception):
    """The store failed (I/O, corruption, unreachable)."""


class ConflictError(KVError):
    """The transaction conflicted with another one; retrying it may succeed."""


class Transaction(ABC):
    """One serializable transaction. Reads see the transaction's own writes."""

    @abstractmethod
    def get(self, key: bytes) -> bytes | None: ...

    def get_expecting_absent(self, key: bytes) -> bytes | None:
        """``get`` of a key the caller expects to be absent (a fresh request id): a store whose reads
        are round trips may skip the read and check the expectation when the transaction commits,
        running it again (with a real read) if the key existed after all."""
        return self.get(key)

    @abstractmethod
    def get_range(
        self, begin: bytes, end: bytes, *, limit: int = 0, reverse: bool = False
    ) -> list[tuple[bytes, bytes]]:
        """Pairs with ``begin <= key < end`` in key order (descending when ``reverse``), at most
        ``limit`` of them when ``limit > 0``."""

    @abstractmethod
    def set(self, key: bytes, value: bytes) -> None: ...

    @abstractmethod
    def clear(self, key: bytes) -> None: ...

    @abstractmethod
    def clear_range(self, begin: bytes, end: bytes) -> None: ...


class KVStore(ABC):
    max_retries = 50
    local_reads = False  # True where a read-only transaction is a local lookup of microseconds (no network)

    @abstractmethod
    def _run(self, fn: Callable[[Transaction], T], readonly: bool) -> T:
        """Run ``fn`` in one transaction and commit; raise ``ConflictError`` if it must be retried."""

    def transact(self, fn: Callable[[Transaction], T], *, readonly: bool = False) -> T:
        """Run ``fn(txn)`` in a transaction, retrying on conflict with jittered backoff."""
        delay = 0.001
        for attempt in range(self.max_retries):
            try:
                return self._run(fn, readonly)
            except ConflictError:
                if attempt == self.max_retries - 1:
                    raise
                time.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 0.1)
        raise AssertionError("unreachable")

    def in_transaction(self) -> bool:
        """Whether this thread is inside a transaction of this store (where ``transact`` nests)."""
        return False

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def prefix_end(prefix: bytes) -> bytes:
    """The smallest key greater than every key starting with ``prefix``."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        raise ValueError("prefix of only 0xff bytes has no end")
    return stripped[:-1] + bytes([stripped[-1] + 1])
