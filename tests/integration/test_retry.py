"""S19 retries (issue #3 part 3): the RetryPolicy value object on its own, no queue.

A policy is immutable and compared by value; every field is validated with a message that
names it; ``delay(n, random_fraction)`` is the exponential backoff, capped, shortened by
jitter; ``should_retry`` counts attempts and only transient exceptions, never
``TransferCancelled``.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from typing import Any

import attrs
import pytest

import transferqueue as tq
from tests.conftest import WAIT


class TransientError(Exception):
    """A custom exception class to retry on."""


class SubTransientError(TransientError):
    """A subclass of it: counts as transient too."""


# -- immutability and value semantics ---------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_attempts", 10),
        ("initial_delay", 5.0),
        ("multiplier", 3.0),
        ("max_delay", 1.0),
        ("jitter", 0.0),
        ("retry_on", (ValueError,)),
    ],
)
def test_policy_is_frozen(field: str, value: Any) -> None:
    """S19: a policy is immutable, so one can be shared by queues and jobs: setting
    any field raises FrozenInstanceError and leaves the policy as it was."""
    policy = tq.RetryPolicy()
    before = attrs.asdict(policy)

    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(policy, field, value)

    assert attrs.asdict(policy) == before


def test_no_retry_is_frozen_too() -> None:
    """S19: the shared NO_RETRY policy cannot be changed by one user for all."""
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        tq.NO_RETRY.max_attempts = 5  # type: ignore[misc]
    assert tq.NO_RETRY.max_attempts == 1


def test_retry_on_is_stored_as_a_tuple() -> None:
    """S19: ``retry_on`` given as a list is kept as a tuple, so the caller's list
    changing later does not change the policy."""
    classes: list[type[BaseException]] = [ConnectionError]
    policy = tq.RetryPolicy(retry_on=classes)
    classes.append(ValueError)

    assert policy.retry_on == (ConnectionError,)
    assert isinstance(policy.retry_on, tuple)
    assert not policy.should_retry(ValueError("x"), 1)


def test_policies_are_equal_and_hashable_by_value() -> None:
    """S19: two policies with the same values are equal and hash alike (usable as
    dict keys and in sets); ``retry_on`` as one class, a list or a tuple is the same."""
    a = tq.RetryPolicy(max_attempts=5, initial_delay=0.5, retry_on=ConnectionError)
    b = tq.RetryPolicy(max_attempts=5, initial_delay=0.5, retry_on=(ConnectionError,))
    c = tq.RetryPolicy(
        max_attempts=5,
        initial_delay=0.5,
        retry_on=[ConnectionError],
    )

    assert a == b == c
    assert hash(a) == hash(b) == hash(c)
    assert len({a, b, c}) == 1
    assert {a: "x"}[b] == "x"
    assert tq.RetryPolicy() == tq.RetryPolicy()
    assert tq.RetryPolicy(max_attempts=1) == tq.NO_RETRY


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_attempts", 4),
        ("initial_delay", 2.5),
        ("multiplier", 1.5),
        ("max_delay", 30.0),
        ("jitter", 0.25),
        ("retry_on", (TimeoutError,)),
    ],
)
def test_policies_differing_in_one_field_are_unequal(field: str, value: Any) -> None:
    """S19: equality covers every field: changing any one makes another policy."""
    base = tq.RetryPolicy()
    other = attrs.evolve(base, **{field: value})

    assert other != base
    assert getattr(other, field) == value
    assert getattr(base, field) != value  # evolve made a new policy; base is unchanged


def test_evolve_validates() -> None:
    """S19: a changed copy made with attrs.evolve is validated like a new policy."""
    with pytest.raises(ValueError, match="max_attempts"):
        attrs.evolve(tq.RetryPolicy(), max_attempts=0)


# -- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("max_attempts", 0, ValueError),
        ("max_attempts", -1, ValueError),
        ("max_attempts", 2.0, TypeError),
        ("max_attempts", "3", TypeError),
        ("max_attempts", True, TypeError),
        ("max_attempts", None, TypeError),
        ("initial_delay", -0.1, ValueError),
        ("initial_delay", math.inf, ValueError),
        ("initial_delay", math.nan, ValueError),
        ("initial_delay", "1", TypeError),
        ("initial_delay", True, TypeError),
        ("initial_delay", None, TypeError),
        ("multiplier", 0.5, ValueError),
        ("multiplier", 0, ValueError),
        ("multiplier", -2.0, ValueError),
        ("multiplier", math.inf, ValueError),
        ("multiplier", math.nan, ValueError),
        ("multiplier", "2", TypeError),
        ("multiplier", False, TypeError),
        ("max_delay", -1, ValueError),
        ("max_delay", math.inf, ValueError),
        ("max_delay", math.nan, ValueError),
        ("max_delay", "60", TypeError),
        ("max_delay", True, TypeError),
        ("jitter", -0.01, ValueError),
        ("jitter", 1.01, ValueError),
        ("jitter", 2, ValueError),
        ("jitter", math.nan, ValueError),
        ("jitter", "0.5", TypeError),
        ("jitter", True, TypeError),
        ("retry_on", "OSError", TypeError),
        ("retry_on", None, TypeError),
        ("retry_on", 42, TypeError),
        ("retry_on", OSError("an instance"), TypeError),
        ("retry_on", int, TypeError),
        ("retry_on", object, TypeError),
        ("retry_on", (OSError, int), TypeError),
        ("retry_on", (OSError, "ValueError"), TypeError),
        ("retry_on", [ValueError, None], TypeError),
    ],
)
def test_bad_field_is_rejected_naming_the_field(
    field: str, value: Any, error: type[Exception]
) -> None:
    """S19: every field is checked (type and range, bool is no number); the message
    names the field."""
    with pytest.raises(error, match=rf"\b{field}\b") as info:
        tq.RetryPolicy(**{field: value})
    assert type(info.value) is error


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_attempts", 1),
        ("max_attempts", 10**6),
        ("initial_delay", 0),
        ("initial_delay", 0.0),
        ("initial_delay", 3600),
        ("multiplier", 1),
        ("multiplier", 1.0),
        ("max_delay", 0),
        ("jitter", 0),
        ("jitter", 1),
        ("jitter", 1.0),
    ],
)
def test_boundary_values_are_accepted(field: str, value: Any) -> None:
    """S19: the ends of every range are valid (1 attempt, no delay, multiplier 1,
    cap 0, jitter 0 and 1)."""
    policy = tq.RetryPolicy(**{field: value})
    assert getattr(policy, field) == value


@pytest.mark.parametrize(
    ("retry_on", "expected"),
    [
        (ConnectionError, (ConnectionError,)),
        (KeyboardInterrupt, (KeyboardInterrupt,)),
        ((ConnectionError, TimeoutError), (ConnectionError, TimeoutError)),
        ([TransientError, OSError], (TransientError, OSError)),
        ((), ()),
    ],
)
def test_retry_on_accepts_one_class_or_a_sequence_of_them(
    retry_on: Any, expected: tuple[type[BaseException], ...]
) -> None:
    """S19: ``retry_on`` is one exception class or a tuple (or list) of them."""
    assert tq.RetryPolicy(retry_on=retry_on).retry_on == expected


def test_default_retry_on_is_oserror() -> None:
    """S19: by default the transient failures are OSError and its subclasses."""
    assert (OSError,) == tq.DEFAULT_RETRY_ON
    assert tq.RetryPolicy().retry_on == (OSError,)


# -- delay --------------------------------------------------------------------------------


def test_delay_grows_exponentially() -> None:
    """S19: without jitter the n-th failed attempt waits initial * multiplier**(n-1)."""
    doubling = tq.RetryPolicy(initial_delay=1, multiplier=2, max_delay=1000, jitter=0)
    assert [doubling.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 32, 64]

    tripling = tq.RetryPolicy(initial_delay=0.5, multiplier=3, max_delay=1000, jitter=0)
    assert [tripling.delay(n) for n in range(1, 5)] == pytest.approx([0.5, 1.5, 4.5, 13.5])

    constant = tq.RetryPolicy(initial_delay=7, multiplier=1, max_delay=1000, jitter=0)
    assert [constant.delay(n) for n in range(1, 5)] == [7, 7, 7, 7]


def test_delay_is_capped_by_max_delay() -> None:
    """S19: the backoff never exceeds max_delay, and stays at it."""
    policy = tq.RetryPolicy(initial_delay=1, multiplier=2, max_delay=10, jitter=0)
    assert [policy.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 10, 10, 10]
    assert policy.delay(60) == 10
    assert tq.RetryPolicy(initial_delay=100, max_delay=7, jitter=0).delay(1) == 7
    assert tq.RetryPolicy(initial_delay=5, max_delay=0, jitter=0).delay(3) == 0


def test_jitter_range_ends() -> None:
    """S19: random_fraction 1 gives the full backoff, 0 the backoff shortened by the
    whole jitter share, and values between fall linearly between those ends."""
    policy = tq.RetryPolicy(initial_delay=8, multiplier=2, max_delay=1000, jitter=0.25)
    assert policy.delay(1, 1.0) == 8
    assert policy.delay(1, 0.0) == 6
    assert policy.delay(1, 0.5) == 7
    assert policy.delay(2, 0.0) == 12
    assert policy.delay(2, 1.0) == 16


def test_default_random_fraction_is_the_full_backoff() -> None:
    """S19: delay(n) without a random fraction is the un-jittered backoff."""
    policy = tq.RetryPolicy(initial_delay=8, multiplier=2, max_delay=1000, jitter=0.5)
    assert policy.delay(1) == 8
    assert policy.delay(3) == 32


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.999, 1.0])
def test_zero_jitter_is_exact(fraction: float) -> None:
    """S19: with jitter 0 the random fraction changes nothing."""
    policy = tq.RetryPolicy(initial_delay=3, multiplier=2, max_delay=1000, jitter=0)
    assert policy.delay(1, fraction) == 3
    assert policy.delay(3, fraction) == 12


def test_full_jitter_spans_zero_to_the_backoff() -> None:
    """S19: jitter 1 is "full jitter": anywhere from 0 up to the backoff."""
    policy = tq.RetryPolicy(initial_delay=4, multiplier=2, max_delay=1000, jitter=1)
    assert policy.delay(1, 0.0) == 0
    assert policy.delay(1, 0.25) == 1
    assert policy.delay(1, 1.0) == 4
    assert policy.delay(2, 0.5) == 4


def test_jitter_applies_to_the_capped_delay() -> None:
    """S19: the jitter shortens the capped delay, never extends it beyond the cap."""
    policy = tq.RetryPolicy(initial_delay=1, multiplier=2, max_delay=10, jitter=0.5)
    assert policy.delay(20, 1.0) == 10
    assert policy.delay(20, 0.0) == 5


@pytest.mark.parametrize("attempts", [2000, 10**6, 10**18, sys.maxsize])
def test_huge_attempt_numbers_do_not_overflow(attempts: int) -> None:
    """S19: an absurd attempt number gives the cap, not an OverflowError or inf."""
    policy = tq.RetryPolicy(initial_delay=1.5, multiplier=2.0, max_delay=60, jitter=0.5)
    assert policy.delay(attempts) == 60
    assert policy.delay(attempts, 0.0) == 30
    zero = tq.RetryPolicy(initial_delay=0, multiplier=3.0, max_delay=60, jitter=0)
    assert zero.delay(attempts) == 0


def test_huge_attempt_numbers_with_an_int_multiplier_give_the_cap_at_once() -> None:
    """S19: an int multiplier (the natural way to write 2) must give the cap for a
    huge attempt number too, at once. Run in a child process that a faulthandler
    watchdog ends after 2 s, because the computation holds the GIL."""
    code = textwrap.dedent(
        """
        import faulthandler, sys
        faulthandler.dump_traceback_later(2, exit=True)
        import transferqueue as tq
        print(tq.RetryPolicy(initial_delay=1, multiplier=2, max_delay=60).delay(sys.maxsize))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=WAIT, check=False
    )
    assert result.returncode == 0, result.stderr[-500:]
    assert float(result.stdout) == 60


@pytest.mark.parametrize("attempts", [0, -1])
def test_delay_needs_a_failed_attempt(attempts: int) -> None:
    """S19: delay(n) is for n >= 1 failed attempts; less is a ValueError."""
    with pytest.raises(ValueError, match="failed_attempts"):
        tq.RetryPolicy().delay(attempts)


@pytest.mark.parametrize("fraction", [-0.01, 1.01, math.nan, math.inf])
def test_delay_random_fraction_must_lie_in_0_1(fraction: float) -> None:
    """S19: random_fraction outside [0, 1] is a ValueError, not a negative or
    lengthened delay."""
    with pytest.raises(ValueError, match="random_fraction"):
        tq.RetryPolicy().delay(1, fraction)


# -- should_retry -------------------------------------------------------------------------


def test_should_retry_counts_attempts() -> None:
    """S19: max_attempts counts every attempt: after the last one, no retry."""
    policy = tq.RetryPolicy(max_attempts=3)
    assert [policy.should_retry(OSError("x"), n) for n in (1, 2, 3, 4)] == [
        True,
        True,
        False,
        False,
    ]


def test_should_retry_only_transient_classes() -> None:
    """S19: only instances of retry_on are retried; with the default, a ValueError
    is not, an OSError is."""
    policy = tq.RetryPolicy(max_attempts=5)
    assert policy.should_retry(OSError("disk"), 1)
    assert not policy.should_retry(ValueError("bad input"), 1)
    assert not policy.should_retry(RuntimeError("bug"), 1)
    assert not policy.should_retry(KeyboardInterrupt(), 1)


@pytest.mark.parametrize(
    "error",
    [ConnectionResetError("reset"), TimeoutError("slow"), BrokenPipeError("pipe")],
)
def test_subclasses_of_transient_classes_count(error: BaseException) -> None:
    """S19: subclasses of a retry_on class are transient (ConnectionResetError is an
    OSError)."""
    assert tq.RetryPolicy().should_retry(error, 1)


@pytest.mark.parametrize(
    "error",
    [
        FileNotFoundError("gone"),
        FileExistsError("there"),
        IsADirectoryError("folder"),
        NotADirectoryError("not a folder"),
        PermissionError("denied"),
    ],
)
def test_permanent_os_errors_are_never_retried_by_default(error: BaseException) -> None:
    """S19: by default the OSErrors that another attempt would only repeat (missing file,
    existing destination, folder mix-ups, refused permission) are not transient."""
    assert error.__class__ in tq.DEFAULT_NEVER_RETRY_ON
    assert not tq.RetryPolicy().should_retry(error, 1)


def test_never_retry_on_can_be_changed() -> None:
    """S19: never_retry_on is a field like retry_on: emptied, a PermissionError (an
    OSError) is retried; given ConnectionResetError, that one is not."""
    assert tq.RetryPolicy(never_retry_on=()).should_retry(PermissionError("denied"), 1)
    policy = tq.RetryPolicy(never_retry_on=ConnectionResetError)
    assert policy.never_retry_on == (ConnectionResetError,)
    assert not policy.should_retry(ConnectionResetError("reset"), 1)
    assert policy.should_retry(ConnectionAbortedError("aborted"), 1)


@pytest.mark.parametrize("value", [{OSError}, "OSError", [OSError, 3]])
def test_never_retry_on_is_validated(value: object) -> None:
    """S19, S12: never_retry_on takes an exception class or a tuple/list of them; the
    message names the field."""
    with pytest.raises(TypeError, match="never_retry_on"):
        tq.RetryPolicy(never_retry_on=value)


def test_subclasses_of_custom_classes_count_but_parents_do_not() -> None:
    """S19: with retry_on=TransientError its subclasses are retried; with
    retry_on=ConnectionError a plain OSError (its parent) is not."""
    custom = tq.RetryPolicy(retry_on=TransientError)
    assert custom.should_retry(SubTransientError("x"), 1)
    assert not custom.should_retry(OSError("x"), 1)

    narrow = tq.RetryPolicy(retry_on=ConnectionError)
    assert narrow.should_retry(ConnectionRefusedError("x"), 1)
    assert not narrow.should_retry(OSError("x"), 1)


@pytest.mark.parametrize(
    "retry_on",
    [(Exception,), BaseException, tq.TransferCancelled, (tq.TransferQueueError, OSError)],
)
def test_transfer_cancelled_is_never_retried(retry_on: Any) -> None:
    """S19: TransferCancelled is never transient, even under a policy that retries on
    Exception, BaseException or TransferCancelled itself."""
    policy = tq.RetryPolicy(max_attempts=10, retry_on=retry_on)
    assert not policy.should_retry(tq.TransferCancelled("job cancelled"), 1)
    assert not policy.is_transient(tq.TransferCancelled("job cancelled"))


@pytest.mark.parametrize("retry_on", [(Exception,), BaseException, tq.TransferQueueError])
def test_only_transfer_cancelled_is_excluded(retry_on: Any) -> None:
    """S19: under a broad retry_on, the library's other exceptions are retried: the
    exclusion is TransferCancelled, not everything of the library's."""
    policy = tq.RetryPolicy(max_attempts=10, retry_on=retry_on)
    assert policy.should_retry(tq.TransferQueueError("other"), 1)
    assert policy.should_retry(tq.QueueShutdownError("closed"), 1)


def test_empty_retry_on_retries_nothing() -> None:
    """S19: retry_on=() names no transient class: nothing is retried."""
    policy = tq.RetryPolicy(max_attempts=5, retry_on=())
    assert not policy.should_retry(OSError("x"), 1)


def test_no_retry_never_retries() -> None:
    """S19: NO_RETRY (one attempt in all) retries nothing, transient or not."""
    assert isinstance(tq.NO_RETRY, tq.RetryPolicy)
    assert tq.NO_RETRY.max_attempts == 1
    for error in (OSError("x"), ConnectionResetError("y"), ValueError("z")):
        assert not tq.NO_RETRY.should_retry(error, 1)
