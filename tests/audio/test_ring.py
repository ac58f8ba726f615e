"""The int16 ring between an event loop and a PortAudio callback."""

from __future__ import annotations

import threading

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from runtime.audio.ring import Int16Ring


def test_samples_come_out_in_order_across_the_wrap() -> None:
    ring = Int16Ring(8)
    out = np.zeros(8, np.int16)
    ring.write(np.arange(6, dtype=np.int16))
    assert ring.read_into(out, limit=4) == 4
    ring.write(np.arange(6, 12, dtype=np.int16))
    assert ring.read_into(out) == 8
    assert out.tolist() == list(range(4, 12))


def test_a_full_ring_overwrites_the_oldest_and_counts_what_was_lost() -> None:
    ring = Int16Ring(8)
    ring.write(np.arange(20, dtype=np.int16))
    out = np.zeros(20, np.int16)
    count = ring.read_into(out)
    assert ring.dropped > 0
    assert out[:count].tolist() == list(range(20 - count, 20))
    assert ring.dropped + count == 20


@given(st.lists(st.integers(1, 50), min_size=1, max_size=40), st.integers(8, 64))
def test_reading_everything_written_returns_exactly_what_was_written(chunks: list[int], capacity: int) -> None:
    ring = Int16Ring(capacity)
    out = np.zeros(capacity, np.int16)
    produced: list[int] = []
    consumed: list[int] = []
    counter = 0
    for size in chunks:
        size = min(size, ring.free)
        block = np.arange(counter, counter + size, dtype=np.int64).astype(np.int16)
        counter += size
        ring.write(block)
        produced.extend(block.tolist())
        n = ring.read_into(out, limit=size // 2 + 1)
        consumed.extend(out[:n].tolist())
    while (n := ring.read_into(out)) > 0:
        consumed.extend(out[:n].tolist())
    assert consumed == produced
    assert ring.dropped == 0


def test_a_producer_thread_and_a_consumer_see_a_gapless_stream() -> None:
    ring = Int16Ring(4096)
    total = 200_000
    done = threading.Event()

    def produce() -> None:
        value = 0
        while value < total:
            if ring.free >= 64:
                ring.write((np.arange(value, value + 64) % 32768).astype(np.int16))
                value += 64
        done.set()

    thread = threading.Thread(target=produce)
    thread.start()
    out = np.zeros(300, np.int16)
    expected = 0
    while expected < total:
        n = ring.read_into(out)
        assert out[:n].tolist() == [(expected + i) % 32768 for i in range(n)]
        expected += n
    thread.join()
    assert done.is_set() and ring.dropped == 0
