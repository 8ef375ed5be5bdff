"""Configuration from the environment (contract S13)."""

from __future__ import annotations

import pytest

import transferqueue as tq

ENV = "MAX_CONCURRENT_TRANSFERS"


def test_unset_gives_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """S13: without MAX_CONCURRENT_TRANSFERS the limit is 2."""
    monkeypatch.delenv(ENV, raising=False)
    assert tq.get_max_concurrent_transfers() == 2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("5", 5), ("  7\n", 7), ("1", 1), ("\t12 ", 12), ("  3 ", 3), ("007", 7), ("1000", 1000)],
)
def test_integer_values(monkeypatch: pytest.MonkeyPatch, raw: str, expected: int) -> None:
    """S13: a whole number from 1 to 1000, surrounding whitespace and leading zeros
    allowed, is the limit."""
    monkeypatch.setenv(ENV, raw)
    value = tq.get_max_concurrent_transfers()
    assert value == expected
    assert type(value) is int


HOSTILE = [
    "",
    "   ",
    "0",
    "000",
    "-1",
    "-0",
    "abc",
    "banana",
    "2.5",
    "3.0",
    "1e3",
    "+3",
    "1_000",
    "1 2",
    "0x3",
    "0x10",
    "0b11",
    "²",
    "٣",  # ARABIC-INDIC DIGIT THREE: int() would read it as 3
    "\uff13",  # FULLWIDTH DIGIT THREE
    "\u00a03",  # NO-BREAK SPACE around: not ASCII whitespace
    "3\u3000",  # IDEOGRAPHIC SPACE
    "1001",
    "99999999999999999999",
    "9" * 5000,  # Python 3.11+ int() refuses it with a message of its own
    "\x1b[31m2",
]


@pytest.mark.parametrize("raw", HOSTILE)
def test_invalid_values_raise_naming_the_variable_and_the_value(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    """S13: any other value than a whole number from 1 to 1000 in ASCII digits raises
    ValueError naming the variable, the range and the value (as repr: escaped)."""
    monkeypatch.setenv(ENV, raw)
    expected = f"{ENV} must be a whole number from 1 to 1000, got "
    with pytest.raises(ValueError, match=f"^{expected}") as caught:
        tq.get_max_concurrent_transfers()
    message = str(caught.value)
    assert repr(raw[:40]) in message
    assert "\x1b" not in message  # escaped, so a terminal shows it as text


def test_a_long_value_is_cut_in_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """S13: the message of a huge value stays short, and says how long the value was."""
    monkeypatch.setenv(ENV, "x" * 100_000)
    with pytest.raises(ValueError, match=r"got 'x{40}'\.\.\. \(100000 characters\)$") as caught:
        tq.get_max_concurrent_transfers()
    assert len(str(caught.value)) < 200


def test_value_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """S13: the variable is read on every call, not cached at import."""
    monkeypatch.setenv(ENV, "3")
    assert tq.get_max_concurrent_transfers() == 3
    monkeypatch.setenv(ENV, "4")
    assert tq.get_max_concurrent_transfers() == 4
