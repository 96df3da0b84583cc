"""The prefetch count: wide while no job has waited for tokens for the quiet period,
narrowed by the first wait, widened again only once the waits have been over for
that long."""

import threading

from workers.runtime.intake import Intake


class Count:
    """Celery's QoS as the consumer keeps it: a value changed by increments."""

    def __init__(self, value: int) -> None:
        self.value = value

    def increment_eventually(self, n: int = 1) -> int:
        self.value += n
        return self.value

    def decrement_eventually(self, n: int = 1) -> int:
        self.value = max(self.value - n, 1)
        return self.value


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_messages_widen_the_count_once_while_nothing_waits() -> None:
    intake, count = Intake(extra=4, quiet_s=1.0, clock=Clock()), Count(4)

    intake.on_message(count)
    intake.on_message(count)

    assert count.value == 8


def test_a_wait_narrows_at_once_and_the_count_widens_after_the_quiet_period() -> None:
    clock = Clock()
    intake, count = Intake(extra=4, quiet_s=1.0, clock=clock), Count(4)
    intake.on_message(count)

    with intake.waiting():
        assert count.value == 4
        intake.on_message(count)  # still waiting: stays narrow
        assert count.value == 4
        clock.now += 5
    intake.on_message(count)  # the wait just ended
    narrow_after_the_wait = count.value
    clock.now += 0.5
    intake.on_message(count)
    still_narrow = count.value
    clock.now += 0.6
    intake.on_message(count)

    assert (narrow_after_the_wait, still_narrow, count.value) == (4, 4, 8)


def test_overlapping_waits_keep_it_narrow_until_the_last_ends() -> None:
    clock = Clock()
    intake, count = Intake(extra=2, quiet_s=1.0, clock=clock), Count(2)
    intake.on_message(count)
    first, second = intake.waiting(), intake.waiting()

    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    clock.now += 2
    intake.on_message(count)
    narrow_while_one_waits = count.value
    second.__exit__(None, None, None)
    clock.now += 2
    intake.on_message(count)

    assert (narrow_while_one_waits, count.value) == (2, 4)


def test_after_a_reconnection_the_new_count_is_the_one_widened_and_narrowed() -> None:
    intake, old, new = Intake(extra=4, quiet_s=1.0, clock=Clock()), Count(4), Count(4)
    intake.on_message(old)

    intake.on_message(new)  # the consumer's new QoS starts at the base count
    widened = new.value
    with intake.waiting():
        pass

    assert (widened, new.value, old.value) == (8, 4, 8)


def test_no_extra_never_changes_the_count() -> None:
    intake, count = Intake(extra=0, quiet_s=0.0, clock=Clock()), Count(4)

    intake.on_message(count)
    with intake.waiting():
        pass

    assert count.value == 4


def test_waits_and_messages_from_two_threads_leave_the_count_consistent() -> None:
    intake, count = Intake(extra=4, quiet_s=0.0), Count(4)

    def waits() -> None:
        for _ in range(2000):
            with intake.waiting():
                pass

    waiter = threading.Thread(target=waits)
    waiter.start()
    for _ in range(2000):
        intake.on_message(count)
    waiter.join()
    intake.on_message(count)

    assert count.value == 8  # wide once, whatever the interleaving
