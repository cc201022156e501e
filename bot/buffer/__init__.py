"""The counter buffer: in-process counters, the push to a store (Redis or memory), frozen batches."""

from bot.buffer.counters import Counters, Snapshot
from bot.buffer.store import Batch, BufferStore, StoreUnavailable

__all__ = ["Batch", "BufferStore", "Counters", "Snapshot", "StoreUnavailable"]
