"""Configuration from the environment (contract S13)."""

from __future__ import annotations

import pytest

import transferqueue as tq

ENV = "MAX_CONCURRENT_TRANSFERS"


def test_unset_gives_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """S13: without MAX_CONCURRENT_TRANSFERS the limit is 2."""
    monkeypatch.delenv(ENV, raising=False)
    assert tq.get_max_concurrent_transfers() == 2


@pytest.mark.parametrize(("raw", "expected"), [("5", 5), ("  7\n", 7), ("1", 1), ("\t12 ", 12)])
def test_integer_values(monkeypatch: pytest.MonkeyPatch, raw: str, expected: int) -> None:
    """S13: an integer >= 1, surrounding whitespace allowed, is the limit."""
    monkeypatch.setenv(ENV, raw)
    value = tq.get_max_concurrent_transfers()
    assert value == expected
    assert type(value) is int


@pytest.mark.parametrize("raw", ["", "   ", "0", "-1", "abc", "2.5", "+3", "²", "1 2", "0x3"])
def test_invalid_values_raise_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    """S13: any other value than an integer >= 1 raises ValueError naming the variable."""
    monkeypatch.setenv(ENV, raw)
    with pytest.raises(ValueError, match=ENV):
        tq.get_max_concurrent_transfers()


def test_value_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """S13: the variable is read on every call, not cached at import."""
    monkeypatch.setenv(ENV, "3")
    assert tq.get_max_concurrent_transfers() == 3
    monkeypatch.setenv(ENV, "4")
    assert tq.get_max_concurrent_transfers() == 4
