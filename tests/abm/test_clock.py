"""The step clock and the event queue: time, order, cancellation, and no going back."""

from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abm.clock import Clock, EventHandle, EventQueue
from populations.errors import ConfigError

# --------------------------------------------------------------------------- clock


def test_clock_steps_and_timestamps():
    clock = Clock(start=datetime(2025, 3, 1, 6), step_length=timedelta(minutes=15))
    assert clock.step == clock.now == 0
    assert clock.timestamp == datetime(2025, 3, 1, 6)
    assert clock.advance() == 1
    assert clock.advance(3) == 4
    assert clock.timestamp == datetime(2025, 3, 1, 7)
    assert clock.elapsed == timedelta(hours=1)
    assert clock.time_of(96) == datetime(2025, 3, 2, 6)
    assert clock.advance(0) == 4


def test_clock_step_of_is_the_step_containing_the_time():
    clock = Clock(start=datetime(2025, 1, 1), step_length=timedelta(hours=1))
    assert clock.step_of(datetime(2025, 1, 1, 10)) == 10
    assert clock.step_of(datetime(2025, 1, 1, 10, 59)) == 10
    assert clock.step_of("2025-01-02T00:30") == 24
    assert clock.step_of(datetime(2024, 12, 31, 23, 30)) == -1  # before the start


def test_clock_defaults_and_other_inputs():
    clock = Clock()
    assert clock.start == datetime(2000, 1, 1) and clock.step_length == timedelta(days=1)
    assert Clock(step_length=90).step_length == timedelta(seconds=90)
    assert Clock(step_length=0.5).step_length == timedelta(milliseconds=500)
    assert Clock(start=date(2025, 5, 4)).start == datetime(2025, 5, 4)
    assert Clock(start="2025-05-04T08:00").start == datetime(2025, 5, 4, 8)
    assert Clock(step=7).timestamp == datetime(2000, 1, 8)
    assert "step=7" in repr(Clock(step=7))


def test_clock_timestamps_vectorised():
    clock = Clock(start=datetime(2025, 3, 1), step_length=timedelta(hours=6))
    steps = np.array([0, 1, 5, 100])
    stamps = clock.timestamps(steps)
    assert stamps.dtype == np.dtype("datetime64[us]")
    assert stamps.astype(datetime).tolist() == [clock.time_of(int(s)) for s in steps]
    aware = Clock(start=datetime(2025, 3, 1, 2, tzinfo=timezone(timedelta(hours=2))))
    assert aware.timestamps([0])[0] == np.datetime64("2025-03-01T00:00")  # in UTC
    assert aware.timestamp == datetime(2025, 3, 1, 0, tzinfo=UTC)
    with pytest.raises(ConfigError, match="integers"):
        clock.timestamps([0.5])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"step_length": 0}, "must be positive"),
        ({"step_length": timedelta(hours=-1)}, "must be positive"),
        ({"step_length": float("inf")}, "positive number of seconds"),
        ({"step_length": "1h"}, "timedelta or seconds, got str"),
        ({"start": "next tuesday"}, "cannot read 'next tuesday'.*ISO 8601"),
        ({"start": 2025}, "got int"),
        ({"step": 1.5}, "integer number of steps"),
    ],
)
def test_clock_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Clock(**kwargs)


def test_clock_only_moves_forward():
    clock = Clock()
    with pytest.raises(ConfigError, match="only moves forward: `n` must be >= 0, got -1"):
        clock.advance(-1)
    with pytest.raises(ConfigError, match="integer number of steps"):
        clock.advance(1.0)


# --------------------------------------------------------------------------- event queue


class Opaque:
    """An event that refuses to be compared, as events need not be comparable."""

    def __init__(self, name):
        self.name = name

    def __lt__(self, other):
        msg = "events must never be compared"
        raise AssertionError(msg)

    __gt__ = __le__ = __ge__ = __lt__

    def __repr__(self):
        return self.name


def test_order_is_time_then_priority_then_insertion():
    queue = EventQueue()
    queue.schedule(2, "late")
    queue.schedule(1, "b-prio1", priority=1)
    queue.schedule(1, "a-prio0-first")
    queue.schedule(1, "c-prio-1", priority=-1)
    queue.schedule(1, "d-prio0-second")
    queue.schedule(1.5, "between")
    assert queue.pop_due(10) == [
        "c-prio-1",
        "a-prio0-first",
        "d-prio0-second",
        "b-prio1",
        "between",
        "late",
    ]
    assert len(queue) == 0 and not queue


def test_equal_keys_never_compare_events():
    queue = EventQueue()
    events = [Opaque(f"e{i}") for i in range(20)]
    for event in events:
        queue.schedule(3, event, priority=1)
    assert queue.pop_due(3) == events


def test_pop_due_takes_only_what_is_due():
    queue = EventQueue()
    for t in (5, 1, 3, 3, 8):
        queue.schedule(t, f"t{t}")
    assert queue.pop_due(0) == []
    assert queue.pop_due(3) == ["t1", "t3", "t3"]
    assert len(queue) == 2 and queue.peek_time() == 5 and queue.now == 3
    assert queue.pop_due(7) == ["t5"]
    assert queue.pop_due(8) == ["t8"]
    assert queue.peek_time() is None


def test_cancel_by_handle():
    queue = EventQueue()
    keep = queue.schedule(1, "keep")
    drop = queue.schedule(1, "drop")
    first = queue.schedule(0, "first")
    assert isinstance(drop, EventHandle) and drop.pending
    assert queue.cancel(drop) is True
    assert drop.cancelled and not drop.pending and len(queue) == 2
    assert queue.cancel(drop) is False  # already cancelled
    assert queue.cancel(first) is True
    assert queue.peek_time() == 1  # the cancelled head is skipped
    assert queue.pop_due(5) == ["keep"]
    assert queue.cancel(keep) is False  # already popped
    assert not keep.pending and not keep.cancelled


def test_cancel_many_compacts_the_heap():
    queue = EventQueue()
    handles = [queue.schedule(t % 17, t) for t in range(1000)]
    for handle in handles[::2] + handles[1::4]:
        queue.cancel(handle)
    assert len(queue._heap) < 1000  # rebuilt, not only marked
    expected = sorted((h.time, h.seq) for h in handles if h.pending)
    assert queue.pop_due(17) == [handles[seq].event for _, seq in expected]


def test_cancel_refuses_a_foreign_handle():
    other = EventQueue().schedule(1, "x")
    with pytest.raises(ConfigError, match="not scheduled on this queue"):
        EventQueue().cancel(other)


def test_scheduling_in_the_past_is_refused():
    queue = EventQueue()
    queue.schedule(4, "x")
    queue.pop_due(6)
    with pytest.raises(ConfigError, match="at time 5: the queue has already been run to time 6"):
        queue.schedule(5, "too late")
    queue.schedule(6, "now is fine")  # an immediate follow-up, returned by the next pop_due
    assert queue.pop_due(6) == ["now is fine"]
    with pytest.raises(ConfigError, match="asked for events due by 2.*run to time 6"):
        queue.pop_due(2)


def test_pop_runs_the_queue_to_the_event():
    queue = EventQueue()
    queue.schedule(2.5, "b")
    queue.schedule(1, "a")
    assert queue.pop() == (1, "a")
    assert queue.now == 1
    assert queue.pop() == (2.5, "b")
    with pytest.raises(ConfigError, match="time 2.0: .*run to time 2.5"):
        queue.schedule(2.0, "c")
    with pytest.raises(IndexError, match="empty event queue"):
        queue.pop()


@pytest.mark.parametrize(
    ("time", "match"),
    [(float("nan"), "got NaN"), ("3", "real number, got str"), (True, "got bool")],
)
def test_bad_times_are_refused(time, match):
    with pytest.raises(ConfigError, match=match):
        EventQueue().schedule(time, "x")
    with pytest.raises(ConfigError, match=match):
        EventQueue().schedule(1, "x", priority=time)


def test_numpy_times_are_accepted():
    queue = EventQueue()
    queue.schedule(np.int64(3), "a", priority=np.int32(1))
    queue.schedule(np.float64(2.5), "b")
    assert queue.pop_due(np.int64(3)) == ["b", "a"]


# --------------------------------------------------------------------------- properties

times = st.one_of(st.integers(0, 20), st.floats(0, 20, allow_nan=False))
priorities = st.integers(-3, 3)


@settings(max_examples=200, deadline=None)
@given(
    schedule=st.lists(st.tuples(times, priorities, st.booleans()), max_size=60),
    horizon=st.integers(0, 25),
)
def test_popping_everything_is_sorted_by_time_priority_seq(schedule, horizon):
    queue = EventQueue()
    handles = []
    for i, (t, p, cancel) in enumerate(schedule):
        handles.append((queue.schedule(t, Opaque(f"e{i}"), priority=p), cancel))
    for handle, cancel in handles:
        if cancel:
            queue.cancel(handle)
    live = [h for h, cancel in handles if not cancel]
    assert len(queue) == len(live)
    expected = sorted(live, key=lambda h: (h.time, h.priority, h.seq))
    due = [h.event for h in expected if h.time <= horizon]
    assert queue.pop_due(horizon) == due
    assert queue.pop_due(25) == [h.event for h in expected if h.time > horizon]
    assert len(queue) == 0


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_interleaved_scheduling_and_popping_matches_a_sorted_list(data):
    queue = EventQueue()
    model = []  # (time, priority, seq, event): the reference, kept sorted by sorting
    now = 0
    seq = 0
    for _ in range(data.draw(st.integers(1, 40))):
        action = data.draw(st.sampled_from(["schedule", "schedule", "pop_due", "cancel"]))
        if action == "schedule":
            t = now + data.draw(st.integers(0, 5))
            p = data.draw(priorities)
            handle = queue.schedule(t, seq, priority=p)
            model.append((t, p, seq, handle))
            seq += 1
        elif action == "pop_due":
            now += data.draw(st.integers(0, 3))
            model.sort(key=lambda e: e[:3])
            expected = [e[2] for e in model if e[0] <= now]
            model = [e for e in model if e[0] > now]
            assert queue.pop_due(now) == expected
        elif model:
            victim = model.pop(data.draw(st.integers(0, len(model) - 1)))
            assert queue.cancel(victim[3]) is True
        assert len(queue) == len(model)
        assert queue.peek_time() == (min(e[0] for e in model) if model else None)
