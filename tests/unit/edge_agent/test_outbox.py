"""The durable outbox: gap-free seq, ack, reopen, kill -9, idempotent commands, print queue."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import CommandDone, DeviceState, DeviceStatus, Envelope, EventType, event_payload
from edge_agent.outbox import Outbox

SITE = "WH1"


def status(n: int) -> DeviceStatus:
    return DeviceStatus(device=f"dock-1/scale-{n}", state=DeviceState.ONLINE)


@pytest.fixture
def outbox(tmp_path: Path):
    with Outbox(tmp_path / "outbox.sqlite3", SITE) as box:
        yield box


def test_append_numbers_events_and_keeps_their_payload(outbox: Outbox):
    first = outbox.append(EventType.DEVICE_STATUS, "dock-1/scale", status(1))
    second = outbox.append(EventType.DEVICE_STATUS, "dock-1/scale", status(2))
    assert (first.seq, second.seq) == (1, 2)
    assert first.id != second.id and first.site == SITE
    stored = outbox.unacked()
    assert stored == [first, second]
    assert event_payload(stored[1]) == status(2)
    # The stored envelope is exactly what goes on the wire, every time it is sent.
    assert Envelope.from_json(stored[0].to_json()) == first


def test_concurrent_appends_from_threads_get_gap_free_unique_seqs(outbox: Outbox):
    def worker(n: int) -> None:
        for i in range(25):
            outbox.append(EventType.DEVICE_STATUS, f"t{n}", status(i))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = [e.seq for e in outbox.unacked(limit=1000)]
    assert seqs == list(range(1, 151))


def test_ack_deletes_covered_events_and_seq_keeps_counting(outbox: Outbox):
    for n in range(5):
        outbox.append(EventType.DEVICE_STATUS, "s", status(n))
    assert outbox.ack(3) == 3
    assert [e.seq for e in outbox.unacked()] == [4, 5]
    assert outbox.last_acked() == 3
    assert outbox.ack(2) == 0  # a late, lower ack changes nothing
    assert outbox.last_acked() == 3
    outbox.ack(5)
    assert outbox.depth() == 0 and outbox.oldest_age_s() is None
    assert outbox.append(EventType.DEVICE_STATUS, "s", status(9)).seq == 6


def test_an_ack_beyond_anything_numbered_is_refused(outbox: Outbox):
    outbox.append(EventType.DEVICE_STATUS, "s", status(1))
    assert outbox.ack(10) == 0
    assert outbox.depth() == 1


def test_unacked_pages_after_a_seq(outbox: Outbox):
    for n in range(10):
        outbox.append(EventType.DEVICE_STATUS, "s", status(n))
    assert [e.seq for e in outbox.unacked(after_seq=4, limit=3)] == [5, 6, 7]


def test_events_survive_reopening(tmp_path: Path):
    path = tmp_path / "o.sqlite3"
    with Outbox(path, SITE) as box:
        ids = [box.append(EventType.DEVICE_STATUS, "s", status(n)).id for n in range(3)]
        box.ack(1)
    with Outbox(path, SITE) as box:
        assert [e.id for e in box.unacked()] == ids[1:]
        assert box.last_acked() == 1
        assert box.append(EventType.DEVICE_STATUS, "s", status(3)).seq == 4
        assert box.depth() == 3
        assert box.oldest_age_s() is not None


def test_a_rolled_back_transaction_leaves_no_gap(outbox: Outbox):
    outbox.append(EventType.DEVICE_STATUS, "s", status(1))
    with pytest.raises(RuntimeError), outbox.transaction() as tx:
        tx.append(EventType.DEVICE_STATUS, "s", status(2))
        raise RuntimeError("crash in the middle")
    assert outbox.append(EventType.DEVICE_STATUS, "s", status(3)).seq == 2


def test_claim_command_is_true_only_the_first_time_even_after_reopen(tmp_path: Path):
    path = tmp_path / "o.sqlite3"
    command_id = uuid4()
    with Outbox(path, SITE) as box:
        assert box.claim_command(command_id) is True
        assert box.claim_command(command_id) is False
    with Outbox(path, SITE) as box:
        assert box.claim_command(command_id) is False
        assert box.claim_command(uuid4()) is True


def test_print_queue_is_per_dock_in_order_and_marking_printed_answers_the_command(
    outbox: Outbox,
):
    command_id = uuid4()
    assert outbox.enqueue_print("a", "dock-1", b"A", "first", command_id=command_id)
    assert outbox.enqueue_print("b", "dock-2", b"B", "other dock")
    assert outbox.enqueue_print("c", "dock-1", b"C", "second")
    assert not outbox.enqueue_print("a", "dock-1", b"A", "first again")
    assert [j.job_id for j in outbox.pending_prints("dock-1")] == ["a", "c"]
    job = outbox.mark_printed("a")
    assert job is not None and job.command_id == command_id and job.data == b"A"
    assert outbox.mark_printed("a") is None
    assert [j.job_id for j in outbox.pending_prints("dock-1")] == ["c"]


def test_listeners_hear_of_committed_events_only(outbox: Outbox):
    calls = []
    outbox.add_listener(lambda: calls.append(1))
    outbox.claim_command(uuid4())
    assert calls == []
    outbox.append(EventType.COMMAND_DONE, "s", CommandDone(command_id=uuid4(), ok=True))
    assert calls == [1]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.just("append"), st.integers(0, 40)), max_size=40))
def test_outbox_matches_a_simple_model(tmp_path_factory, ops):
    """Appends and acks in any order: the outbox holds exactly the unacked tail."""
    path = tmp_path_factory.mktemp("model") / "o.sqlite3"
    expected: list[int] = []
    last = 0
    acked = 0
    with Outbox(path, SITE) as box:
        for op in ops:
            if op == "append":
                last += 1
                assert box.append(EventType.DEVICE_STATUS, "s", status(last)).seq == last
                expected.append(last)
            elif op <= last:
                box.ack(op)
                acked = max(acked, op)
                expected = [s for s in expected if s > op]
        assert [e.seq for e in box.unacked(limit=100)] == expected
        assert box.depth() == len(expected)
        assert box.last_acked() == acked


WRITER = """
import sys
from contracts import DeviceState, DeviceStatus, EventType
from edge_agent.outbox import Outbox
box = Outbox(sys.argv[1], "WH1")
n = 0
while True:
    n += 1
    status = DeviceStatus(device=f"d{n}", state=DeviceState.ONLINE)
    env = box.append(EventType.DEVICE_STATUS, "s", status)
    sys.stdout.write(f"{env.seq} {env.id}\\n")
    sys.stdout.flush()
"""


def test_every_event_reported_appended_survives_kill_9(tmp_path: Path):
    path = tmp_path / "o.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert proc.stdout is not None
    reported = []
    try:
        for line in proc.stdout:
            reported.append(line.split())
            if len(reported) >= 40:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    with Outbox(path, SITE) as box:
        stored = box.unacked(limit=100000)
    seqs = [e.seq for e in stored]
    assert seqs == list(range(1, len(seqs) + 1))
    by_seq = {e.seq: str(e.id) for e in stored}
    for seq, event_id in reported:
        assert by_seq[int(seq)] == event_id
