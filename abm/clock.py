"""Time for simulations: a step clock and a heap event queue.

`Clock` counts integer steps of a fixed length from a start datetime, so a rule sees
``clock.step`` (an int, for arrays and keyed draws) and a log sees ``clock.timestamp``.
`EventQueue` holds scheduled events (shocks, delayed effects, timeouts) in a binary heap
(``heapq``) ordered by ``(time, priority, seq)``: ``seq`` is a counter, so events due at the same
time and priority come out in the order they were scheduled and the events themselves are never
compared. Cancelling marks the entry and the heap drops it when it reaches the top.

Mesa's own event scheduling differs between the Mesa versions synthworld supports (DESIGN.md §3),
so the engine keeps these two small pieces itself.
"""

from __future__ import annotations

import heapq
import math
import numbers
import operator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from populations.errors import ConfigError

__all__ = ["Clock", "EventHandle", "EventQueue"]

_DEFAULT_START = datetime(2000, 1, 1)


def _as_step(value: Any, what: str) -> int:
    if isinstance(value, bool | np.bool_):
        msg = f"`{what}` must be an integer number of steps, got the boolean {value!r}."
        raise ConfigError(msg)
    try:
        return operator.index(value)
    except TypeError:
        msg = f"`{what}` must be an integer number of steps, got {type(value).__name__} {value!r}."
        raise ConfigError(msg) from None


class Clock:
    """Integer steps of a fixed length from a start datetime.

    Step ``k`` covers the interval ``[start + k * step_length, start + (k + 1) * step_length)``.

    Parameters
    ----------
    start : datetime, date or str, default 2000-01-01 00:00
        The time of step 0; a date means its midnight, a string is read with
        ``datetime.fromisoformat``.
    step_length : timedelta or float, default 1 day
        The length of a step, as a timedelta or a number of seconds (positive).
    step : int, default 0
        The current step.

    Raises
    ------
    ConfigError
        If `step_length` is not positive, `start` cannot be read or `step` is not an integer.

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> clock = Clock(start=datetime(2025, 3, 1), step_length=timedelta(hours=6))
    >>> clock.advance(5)
    5
    >>> clock.timestamp
    datetime.datetime(2025, 3, 2, 6, 0)
    >>> clock.step_of(datetime(2025, 3, 1, 13, 30))
    2
    """

    def __init__(
        self,
        *,
        start: datetime | date | str = _DEFAULT_START,
        step_length: timedelta | float = timedelta(days=1),
        step: int = 0,
    ) -> None:
        self.start = _as_datetime(start)
        self.step_length = _as_step_length(step_length)
        self._step = _as_step(step, "step")

    @property
    def step(self) -> int:
        """The current step."""
        return self._step

    @property
    def now(self) -> int:
        """The current step (an alias of `step`, the time an `EventQueue` is run to)."""
        return self._step

    @property
    def timestamp(self) -> datetime:
        """The start of the current step as a datetime."""
        return self.time_of(self._step)

    @property
    def elapsed(self) -> timedelta:
        """Time since `start`."""
        return self._step * self.step_length

    def advance(self, n: int = 1) -> int:
        """Move `n` steps forward (``n >= 0``) and return the new step."""
        n = _as_step(n, "n")
        if n < 0:
            msg = f"a clock only moves forward: `n` must be >= 0, got {n}."
            raise ConfigError(msg)
        self._step += n
        return self._step

    def time_of(self, step: int) -> datetime:
        """The datetime at which `step` starts."""
        return self.start + _as_step(step, "step") * self.step_length

    def step_of(self, when: datetime | date | str) -> int:
        """The step whose interval contains `when` (``floor((when - start) / step_length)``)."""
        return (_as_datetime(when) - self.start) // self.step_length

    def timestamps(self, steps: Any) -> np.ndarray:
        """The start times of integer `steps` (an array) as ``datetime64[us]``.

        A timezone-aware `start` is converted to UTC first, since numpy's datetimes carry no
        timezone.
        """
        steps = np.asarray(steps)
        if steps.dtype.kind not in "iu" or steps.dtype == np.bool_:
            msg = f"`steps` must be integers, got an array of dtype {steps.dtype}."
            raise ConfigError(msg)
        start = self.start
        if start.tzinfo is not None:
            start = start.astimezone(UTC).replace(tzinfo=None)
        origin = np.datetime64(start, "us")
        length = np.timedelta64(self.step_length, "us")
        return origin + steps.astype(np.int64) * length

    def __repr__(self) -> str:
        return (
            f"Clock(start={self.start.isoformat()!r}, step_length={self.step_length!r}, "
            f"step={self._step})"
        )


def _as_datetime(value: datetime | date | str) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            msg = (
                f"cannot read {value!r} as a date and time. "
                "Hint: use ISO 8601, e.g. '2025-03-01' or '2025-03-01T06:00'."
            )
            raise ConfigError(msg) from None
    msg = f"expected a datetime, a date or an ISO 8601 string, got {type(value).__name__}."
    raise ConfigError(msg)


def _as_step_length(value: timedelta | float) -> timedelta:
    if isinstance(value, timedelta):
        length = value
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        if not math.isfinite(value):
            msg = f"`step_length` must be a positive number of seconds, got {value!r}."
            raise ConfigError(msg)
        length = timedelta(seconds=float(value))
    else:
        msg = f"`step_length` must be a timedelta or seconds, got {type(value).__name__}."
        raise ConfigError(msg)
    if length <= timedelta(0):
        msg = f"`step_length` must be positive, got {length!r}."
        raise ConfigError(msg)
    return length


class EventHandle:
    """A scheduled event, as returned by `EventQueue.schedule`; pass it to `EventQueue.cancel`.

    Attributes
    ----------
    time, priority : number
        When the event is due, and its rank among events due at the same time (lower first).
    event : object
        What was scheduled.
    """

    __slots__ = ("_queue", "_state", "event", "priority", "seq", "time")

    _PENDING, _POPPED, _CANCELLED = 0, 1, 2

    def __init__(self, queue: EventQueue, time: float, priority: float, seq: int, event: Any):
        self._queue = queue
        self.time = time
        self.priority = priority
        self.seq = seq
        self.event = event
        self._state = self._PENDING

    @property
    def pending(self) -> bool:
        """True until the event is popped or cancelled."""
        return self._state == self._PENDING

    @property
    def cancelled(self) -> bool:
        """True if the event was cancelled before it was popped."""
        return self._state == self._CANCELLED

    def __repr__(self) -> str:
        state = ("pending", "popped", "cancelled")[self._state]
        return (
            f"EventHandle(time={self.time!r}, priority={self.priority!r}, {state}: {self.event!r})"
        )


def _as_time(value: Any, what: str) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        msg = f"`{what}` must be a real number, got {type(value).__name__} {value!r}."
        raise ConfigError(msg)
    if isinstance(value, numbers.Integral):
        return int(value)
    if math.isnan(value):
        msg = f"`{what}` must be a real number, got NaN."
        raise ConfigError(msg)
    return float(value)


class EventQueue:
    """Events ordered by time, then priority (lower first), then the order they were scheduled.

    Times are steps (ints) or any real numbers; events are any objects, never compared. Time
    only moves forward: `pop_due` and `pop` advance ``queue.now``, and scheduling before
    ``queue.now`` is refused. An event scheduled at ``now`` itself while handling events (an
    immediate follow-up) is returned by the next `pop_due` call, so a caller that wants such
    cascades inside one step calls ``pop_due(now)`` until it returns nothing.

    Examples
    --------
    >>> queue = EventQueue()
    >>> _ = queue.schedule(3, "storm")
    >>> _ = queue.schedule(1, "outage", priority=1)
    >>> repair = queue.schedule(1, "repair")
    >>> queue.pop_due(2)
    ['repair', 'outage']
    >>> len(queue), queue.peek_time()
    (1, 3)
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, float, int, EventHandle]] = []
        self._counter = 0  # an int, not itertools.count: models are deep-copied (splitting)
        self._live = 0
        self._now: float | None = None

    @property
    def now(self) -> float | None:
        """The latest time the queue was run to (None before the first pop)."""
        return self._now

    def __len__(self) -> int:
        """The number of pending (not popped, not cancelled) events."""
        return self._live

    def __bool__(self) -> bool:
        return self._live > 0

    def schedule(self, time: float, event: Any, *, priority: float = 0) -> EventHandle:
        """Schedule `event` at `time`; return its handle (for `cancel`).

        Raises
        ------
        ConfigError
            If `time` or `priority` is not a real number (or is NaN), or `time` is before the
            time the queue was already run to.
        """
        time = _as_time(time, "time")
        priority = _as_time(priority, "priority")
        if self._now is not None and time < self._now:
            msg = (
                f"cannot schedule an event at time {time}: the queue has already been run to "
                f"time {self._now}. Hint: schedule at a time >= {self._now}."
            )
            raise ConfigError(msg)
        seq = self._counter
        self._counter += 1
        handle = EventHandle(self, time, priority, seq, event)
        heapq.heappush(self._heap, (time, priority, seq, handle))
        self._live += 1
        return handle

    def cancel(self, handle: EventHandle) -> bool:
        """Cancel a pending event; return False if it was already popped or cancelled."""
        if not isinstance(handle, EventHandle) or handle._queue is not self:
            msg = f"{handle!r} was not scheduled on this queue."
            raise ConfigError(msg)
        if handle._state != EventHandle._PENDING:
            return False
        handle._state = EventHandle._CANCELLED
        self._live -= 1
        # Lazy deletion; rebuild once cancelled entries are most of the heap.
        if len(self._heap) > 64 and self._live < len(self._heap) // 2:
            self._heap = [e for e in self._heap if e[3]._state == EventHandle._PENDING]
            heapq.heapify(self._heap)
        return True

    def _drop_cancelled(self) -> None:
        heap = self._heap
        while heap and heap[0][3]._state != EventHandle._PENDING:
            heapq.heappop(heap)

    def peek_time(self) -> float | None:
        """The time of the next pending event, or None if there is none."""
        self._drop_cancelled()
        return self._heap[0][0] if self._heap else None

    def _advance(self, now: float) -> None:
        if self._now is not None and now < self._now:
            msg = (
                f"time only moves forward: asked for events due by {now}, but the queue "
                f"has already been run to time {self._now}."
            )
            raise ConfigError(msg)
        self._now = now

    def pop_due(self, now: float) -> list[Any]:
        """Remove and return, in order, the events due at or before `now`.

        Raises
        ------
        ConfigError
            If `now` is before the time the queue was already run to.
        """
        now = _as_time(now, "now")
        self._advance(now)
        heap = self._heap
        due = []
        while heap and heap[0][0] <= now:
            handle = heapq.heappop(heap)[3]
            if handle._state == EventHandle._PENDING:
                handle._state = EventHandle._POPPED
                due.append(handle.event)
        self._live -= len(due)
        return due

    def pop(self) -> tuple[float, Any]:
        """Remove and return the next event as ``(time, event)``, running the queue to its time.

        Raises
        ------
        IndexError
            If no event is pending.
        """
        self._drop_cancelled()
        if not self._heap:
            msg = "pop from an empty event queue"
            raise IndexError(msg)
        time, _, _, handle = heapq.heappop(self._heap)
        self._advance(time)
        handle._state = EventHandle._POPPED
        self._live -= 1
        return time, handle.event

    def __repr__(self) -> str:
        return f"EventQueue({self._live} pending, now={self._now!r})"
