"""The lease table: which owner holds which GPUs, under each policy, and waiting for one."""

import threading
import time

import pytest
from gome_cuda.inventory import GpuDevice
from gome_cuda.leases import LeaseTable


def gpus(*used_mb):
    """GPUs of 80 GiB with ``used_mb`` in use, indices 0, 1, ..."""
    return [GpuDevice(i, f"GPU-{i}", "A100", 81920, used) for i, used in enumerate(used_mb)]


def test_exclusive_gives_each_owner_its_own_gpu_and_joins_an_owners_runs():
    table = LeaseTable("exclusive")
    devices = gpus(500, 500, 500)
    a1 = table.acquire("trace-a", 1, devices)
    b = table.acquire("trace-b", 1, devices)
    a2 = table.acquire("trace-a", 1, devices)
    assert a1.indices == a2.indices and a1.indices != b.indices
    assert table.held() == {"trace-a": a1.indices, "trace-b": b.indices}
    table.release(a1)
    assert "trace-a" in table.held(), "another run of trace-a still uses its GPU"
    for lease in (a2, b):
        table.release(lease)
    assert table.held() == {}
    with pytest.raises(RuntimeError, match="returned twice"):
        table.release(b)


def test_exclusive_prefers_the_gpus_with_the_most_free_memory():
    table = LeaseTable("exclusive")
    lease = table.acquire("t", 2, gpus(9000, 100, 5000, 200))
    assert lease.indices == (1, 3)


def test_anonymous_runs_are_owners_of_their_own():
    table = LeaseTable("exclusive")
    devices = gpus(0, 0)
    first, second = table.acquire("", 1, devices), table.acquire("", 1, devices)
    assert first.indices != second.indices
    assert table.acquire("", 1, devices, timeout_s=0.05) is None


def test_exclusive_waits_until_a_gpu_is_returned():
    table = LeaseTable("exclusive")
    devices = gpus(0)
    held = table.acquire("trace-a", 1, devices)
    got = []
    waiter = threading.Thread(target=lambda: got.append(table.acquire("trace-b", 1, devices)))
    waiter.start()
    time.sleep(0.2)
    assert not got and waiter.is_alive(), "trace-b must wait, not share trace-a's GPU"
    table.release(held)
    waiter.join(timeout=5)
    assert got and got[0].owner == "trace-b" and got[0].indices == (0,)


def test_a_wait_ends_at_its_time_out_or_when_told_to_stop():
    table = LeaseTable("exclusive")
    devices = gpus(0)
    table.acquire("trace-a", 1, devices)
    started = time.monotonic()
    assert table.acquire("trace-b", 1, devices, timeout_s=0.3) is None
    assert time.monotonic() - started >= 0.25  # it waited its time-out out
    stop = threading.Event()
    got = []
    waiter = threading.Thread(
        target=lambda: got.append(table.acquire("trace-c", 1, devices, stop=stop.is_set))
    )
    waiter.start()
    time.sleep(0.1)
    stop.set()
    table.wake()
    waiter.join(timeout=5)
    assert got == [None] and set(table.held()) == {"trace-a"}


def test_packed_shares_the_gpu_with_the_most_free_memory():
    table = LeaseTable("packed")
    devices = gpus(40000, 20000, 1000, 60000)
    leases = [table.acquire(f"trace-{i}", 1, devices, timeout_s=0) for i in range(3)]
    assert [lease.indices for lease in leases] == [(2,), (2,), (2,)]


def test_packed_spreads_runs_over_gpus_that_are_equally_free():
    table = LeaseTable("packed")
    devices = gpus(500, 700, 300, 900)  # a few MiB apart: the same in whole GiB
    leases = [table.acquire(f"trace-{i}", 1, devices) for i in range(5)]
    assert sorted(lease.indices[0] for lease in leases[:4]) == [0, 1, 2, 3]
    assert leases[4].indices == (0,)


def test_more_gpus_than_the_machine_has_is_an_error():
    with pytest.raises(ValueError, match="asks for 3 GPU.*has 2.*gpus_per_candidate"):
        LeaseTable().acquire("t", 3, gpus(0, 0))
    with pytest.raises(ValueError, match="unknown GPU policy"):
        LeaseTable("round-robin")
