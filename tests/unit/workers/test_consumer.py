"""The consumer's handler for run_completion messages: jobs of a message for now
start on the loop and the message is acked once they are started; everything else
goes Celery's way, to the task."""

import asyncio
import logging
import threading
import uuid
from types import SimpleNamespace

import pytest

from workers.runtime import consumer as consumer_path
from workers.runtime.event_loop import EventLoopThread
from workers.runtime.intake import Intake
from workers.runtime.process import ProcessProvider

pytestmark = pytest.mark.timeout(10)

CONNECTION_ERRORS = (ConnectionError,)
HUB = object()  # the consumer's kombu event hub, never touched here


class Message:
    """A protocol 2 message as kombu hands it to the consumer."""

    def __init__(self, args, *, kwargs=None, embed=None, **headers) -> None:
        self.headers = {"id": "msg-1", "eta": None, "expires": None, **headers}
        self._body = [args, kwargs or {}, embed or {"callbacks": None, "chain": None}]

    def decode(self):
        return self._body


class Acks:
    """The ack promise Celery passes: records its arguments, from any thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.done = threading.Event()

    def __call__(self, *args) -> None:
        self.calls.append(args)
        self.done.set()


class Starts:
    """Stands in for Completions.start: records the job ids, waits for `gate`."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.job_ids: list[list[uuid.UUID]] = []
        self.error = error
        self.gate = threading.Event()
        self.gate.set()

    async def __call__(self, job_ids) -> int:
        self.job_ids.append(list(job_ids))
        await asyncio.to_thread(self.gate.wait, 5)
        if self.error is not None:
            raise self.error
        return len(job_ids)


@pytest.fixture
def loop():
    thread = EventLoopThread()
    yield thread
    thread.stop()


@pytest.fixture
def celery_path(monkeypatch):
    """Celery's default strategy, replaced by a recorder."""
    taken: list[tuple[object, ...]] = []

    def default(task, app, consumer, **options):
        return lambda *args, **more: taken.append(args)

    monkeypatch.setattr(consumer_path.strategy, "default", default)
    return taken


@pytest.fixture
def starts():
    return Starts()


def _handler(loop, starts, *, hub=HUB, events=None, process_factory=None):
    def process():
        return SimpleNamespace(
            loop=loop,
            intake=Intake(extra=0, quiet_s=1),
            completions=SimpleNamespace(start=starts),
        )

    app = SimpleNamespace(worker_process=ProcessProvider(process_factory or process))
    consumer = SimpleNamespace(
        hub=hub,
        event_dispatcher=events,
        controller=SimpleNamespace(state=SimpleNamespace(revoked={"revoked-id"})),
        connection_errors=CONNECTION_ERRORS,
        qos=object(),
    )
    task = SimpleNamespace(send_events=True)
    return consumer_path.completion_strategy(task, app, consumer)


def test_a_message_for_now_is_acked_once_its_jobs_are_started(
    loop, celery_path, starts
):
    job_ids = [uuid.uuid4(), uuid.uuid4()]
    acks = Acks()
    starts.gate.clear()

    _handler(loop, starts)(
        Message([str(job) for job in job_ids]), None, acks, None, None
    )

    assert not acks.done.wait(0.2)  # still claiming: the message stays in hand
    starts.gate.set()
    assert acks.done.wait(5)
    assert acks.calls == [(consumer_path.logger, CONNECTION_ERRORS)]
    assert starts.job_ids == [job_ids]
    assert celery_path == []


@pytest.mark.parametrize(
    "message",
    [
        Message([str(uuid.uuid4())], eta="2026-11-24T12:00:00+00:00"),
        Message([str(uuid.uuid4())], expires="2026-11-24T12:00:00+00:00"),
        Message([str(uuid.uuid4())], id="revoked-id"),
        Message([str(uuid.uuid4())], kwargs={"x": 1}),
        Message([str(uuid.uuid4())], embed={"callbacks": [{"task": "other"}]}),
        Message(["not-a-job-id"]),
        Message([]),
    ],
    ids=["eta", "expires", "revoked", "kwargs", "callbacks", "bad id", "no jobs"],
)
def test_other_messages_go_celerys_way(loop, celery_path, starts, message):
    acks = Acks()

    _handler(loop, starts)(message, None, acks, "reject", "callbacks")

    assert celery_path == [(message, None, acks, "reject", "callbacks")]
    assert starts.job_ids == []


def test_a_protocol_1_message_goes_celerys_way(loop, celery_path, starts):
    message, body = Message([str(uuid.uuid4())]), {"args": [], "task": "x"}

    _handler(loop, starts)(message, body, Acks(), None, None)

    assert len(celery_path) == 1
    assert starts.job_ids == []


def test_task_events_on_or_no_hub_leave_every_message_to_celery(
    loop, celery_path, starts
):
    task_events = SimpleNamespace(enabled=True, groups={"worker", "task"})
    heartbeats_only = SimpleNamespace(enabled=True, groups={"worker"})
    message = Message([str(uuid.uuid4())])

    _handler(loop, starts, events=task_events)(message, None, Acks(), None, None)
    _handler(loop, starts, hub=None)(message, None, Acks(), None, None)
    acks = Acks()
    _handler(loop, starts, events=heartbeats_only)(message, None, acks, None, None)

    assert len(celery_path) == 2
    assert acks.done.wait(5)  # heartbeats alone do not need Celery's path
    assert len(starts.job_ids) == 1


def test_jobs_that_cannot_start_are_logged_and_their_message_acked(
    loop, celery_path, starts, caplog
):
    starts.error = ConnectionError("database away")
    acks = Acks()

    with caplog.at_level(logging.ERROR):
        _handler(loop, starts)(Message([str(uuid.uuid4())]), None, acks, None, None)
        assert acks.done.wait(5)

    assert "run_completion[msg-1]: could not start its jobs" in caplog.text
    assert "database away" in caplog.text


def test_a_start_cancelled_with_the_loop_leaves_the_message_unacked(
    loop, celery_path, starts
):
    starts.error = asyncio.CancelledError()
    acks = Acks()

    _handler(loop, starts)(Message([str(uuid.uuid4())]), None, acks, None, None)

    assert not acks.done.wait(0.3)
    assert len(starts.job_ids) == 1


def test_resources_that_cannot_be_built_leave_the_message_to_the_task(
    loop, celery_path, starts
):
    def unbuildable():
        raise ConnectionError("database away")

    handle = _handler(loop, starts, process_factory=unbuildable)
    message = Message([str(uuid.uuid4())])

    handle(message, None, "ack", "reject", None)

    assert celery_path == [(message, None, "ack", "reject", None)]
    assert starts.job_ids == []
