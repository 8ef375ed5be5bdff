"""The str-valued enumerations: members compare equal to their values."""

from __future__ import annotations

import enum

import pytest

import transferqueue as tq

CONTRACT_VALUES: list[tuple[type[enum.Enum], set[str]]] = [
    (tq.TransferStatus, {"queued", "active", "paused", "completed", "failed", "cancelled"}),
    (tq.TransferFileStatus, {"queued", "transferring", "completed", "error", "skipped"}),
    (
        tq.TransferType,
        {"s3-upload", "s3-download", "local-upload", "cross-storage", "huggingface"},
    ),
]

ALL_MEMBERS: list[enum.Enum] = [member for cls, _ in CONTRACT_VALUES for member in cls]


@pytest.mark.parametrize(("cls", "values"), CONTRACT_VALUES)
def test_every_contract_value_is_a_member(cls: type[enum.Enum], values: set[str]) -> None:
    """Each enum has exactly the documented values, looked up by value."""
    assert {member.value for member in cls} == values
    for value in values:
        assert cls(value).value == value


@pytest.mark.parametrize("member", ALL_MEMBERS, ids=str)
def test_member_equals_its_value(member: enum.Enum) -> None:
    """``job.status == "completed"`` holds; members are str and hash like their values."""
    assert isinstance(member, str)
    assert member == member.value
    assert member.value == member
    assert hash(member) == hash(member.value)
    assert {member.value: 1}[member] == 1


@pytest.mark.parametrize("member", ALL_MEMBERS, ids=str)
def test_str_and_format_give_the_value(member: enum.Enum) -> None:
    """``str()``, format() and f-strings give the bare value (not "Class.MEMBER")."""
    value = member.value
    assert str(member) == value
    assert format(member) == value
    assert f"{member}" == value
    assert f"{member:>20}" == f"{value:>20}"
    assert "{}".format(member) == value  # noqa: UP032 - str.format is what we test
    assert "%s" % member == value  # noqa: UP031 - %-formatting is what we test


def test_distinct_enums_with_a_shared_value_stay_distinct_types() -> None:
    """ "queued"/"completed" exist in two enums; each compares equal to the string."""
    queued: str = "queued"
    assert queued == tq.TransferStatus.QUEUED
    assert queued == tq.TransferFileStatus.QUEUED
    assert type(tq.TransferStatus("queued")) is tq.TransferStatus
    assert type(tq.TransferFileStatus("queued")) is tq.TransferFileStatus


@pytest.mark.parametrize(
    ("status", "terminal"),
    [
        (tq.TransferStatus.QUEUED, False),
        (tq.TransferStatus.ACTIVE, False),
        (tq.TransferStatus.COMPLETED, True),
        (tq.TransferStatus.FAILED, True),
        (tq.TransferStatus.CANCELLED, True),
    ],
)
def test_is_terminal(status: tq.TransferStatus, terminal: bool) -> None:
    """Completed, failed and cancelled are the terminal statuses."""
    assert status.is_terminal is terminal


def test_unknown_value_is_rejected() -> None:
    """A value outside the documented ones is not a member."""
    with pytest.raises(ValueError, match="s3-sync"):
        tq.TransferType("s3-sync")
