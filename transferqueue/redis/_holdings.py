"""The slots one semaphore object holds: their renewal, their release and the report of
those that were lost."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from transferqueue._log import logger

from ._commands import SemaphoreCommands
from ._errors import RedisBackendError, SlotLostError
from ._keeper import LeaseKeeper
from ._slot import Slot

_ENDED_IN_REDIS = "its lease had ended in Redis"


class Holdings:
    """The held slots of one semaphore object, renewed every third of ``lease`` by a
    :class:`LeaseKeeper` thread while there are any.

    A slot whose lease ran out by this process's clock (counted from when its last
    renewal was *sent*, so never later than Redis's count) is lost, as is one that Redis
    says it does not hold any more; each lost slot is logged at WARNING and reported once
    to ``on_lost(slot, reason)``, outside the lock.
    """

    def __init__(
        self,
        commands: SemaphoreCommands,
        lease: float,
        name: str,
        on_lost: Callable[[Slot, str], None] | None,
    ) -> None:
        self._commands = commands
        self._lease = lease
        self._name = name
        self._on_lost = on_lost
        self._pid = os.getpid()
        # Guards _held, _closed, _renew_error and the state of every Slot handed out. No
        # Redis call and no callback runs under it.
        self.lock = threading.Lock()
        self._held: dict[str, Slot] = {}
        self._closed = False
        self._renew_error: str | None = None  # why the last renewal failed, until one works
        self._keeper = LeaseKeeper(
            f"transferqueue-leases-{name}", lease / 3, self._renew_all, self._holds_any
        )

    def check_process(self) -> None:
        """Refuse use from a child process: the slots belong to the parent."""
        if os.getpid() != self._pid:
            raise RuntimeError(
                "a RedisSemaphore and its slots belong to the process that created them; "
                "create a new semaphore after fork"
            )

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        with self.lock:
            return self._closed

    def check_open(self) -> None:
        """Refuse use once closed, and from a child process."""
        self.check_process()
        if self.closed:
            raise RuntimeError("this RedisSemaphore is closed")

    def add(self, holder_id: str, sent_at: float) -> Slot:
        """A new held slot, whose lease was granted after ``sent_at``; RuntimeError if
        closed meanwhile (the caller gives the slot back)."""
        slot = Slot(self, holder_id, sent_at)
        with self.lock:
            if self._closed:
                raise RuntimeError("this RedisSemaphore was closed while waiting")
            self._held[holder_id] = slot
        self._keeper.wake()
        return slot

    def held(self) -> tuple[Slot, ...]:
        """The slots held now: neither released nor reported lost."""
        with self.lock:
            return tuple(self._held.values())

    def lost_reason_locked(self, slot: Slot) -> str | None:
        """Why ``slot`` is lost (deciding so if its lease ran out), or None."""
        if slot._lost_reason is None and time.monotonic() - slot._renewed_at >= self._lease:
            reason = f"not renewed within its lease of {self._lease:g} s"
            if self._renew_error is not None:
                reason += f" (the last renewal failed: {self._renew_error})"
            slot._lost_reason = reason
        return slot._lost_reason

    def refresh(self, slot: Slot) -> None:
        """Renew ``slot`` now; raise SlotLostError if it is released or lost."""
        self.check_process()
        with self.lock:
            if slot._released:
                raise SlotLostError(slot.holder_id, "it was released")
            reason = self.lost_reason_locked(slot)
        if reason is None:
            sent_at = time.monotonic()
            ended = slot.holder_id in self._commands.renew([slot.holder_id])
            with self.lock:
                if ended:
                    slot._lost_reason = _ENDED_IN_REDIS
                else:
                    slot._renewed_at = sent_at
                reason = self.lost_reason_locked(slot)
        self._report_lost()
        if reason is not None:
            raise SlotLostError(slot.holder_id, reason)

    def release(self, slot: Slot) -> bool:
        """Release ``slot`` (once); True if Redis still counted it as held."""
        self.check_process()
        with self.lock:
            if slot._released:
                return False
            slot._released = True
            self._held.pop(slot.holder_id, None)
        return self._commands.drop(slot.holder_id)

    def close(self) -> None:
        """Stop the keeper and release every slot still held (once). The first Redis error
        is raised after trying every slot."""
        with self.lock:
            if self._closed:
                return
            self._closed = True
        self._keeper.stop()
        error: RedisBackendError | None = None
        for slot in self.held():
            try:
                self.release(slot)
            except RedisBackendError as exc:
                error = error or exc
        if error is not None:
            raise error

    def _holds_any(self) -> bool:
        with self.lock:
            return bool(self._held)

    def _renew_all(self) -> None:
        """The keeper's beat: renew every live slot in one round trip."""
        with self.lock:
            slots = [s for s in self._held.values() if self.lost_reason_locked(s) is None]
        if slots:
            sent_at = time.monotonic()
            try:
                ended = self._commands.renew([slot.holder_id for slot in slots])
            except RedisBackendError as exc:
                logger.warning("could not renew the slots of %s: %s", self._name, exc)
                with self.lock:
                    self._renew_error = str(exc)
            else:
                with self.lock:
                    self._renew_error = None
                    for slot in slots:
                        if slot.holder_id in ended:
                            slot._lost_reason = _ENDED_IN_REDIS
                        elif slot._lost_reason is None:
                            slot._renewed_at = sent_at
        self._report_lost()

    def _report_lost(self) -> None:
        """Stop holding the lost slots; log and report each one once."""
        with self.lock:
            lost = [
                (slot, reason)
                for slot in self._held.values()
                if (reason := self.lost_reason_locked(slot)) is not None
            ]
            for slot, _ in lost:
                del self._held[slot.holder_id]
        for slot, reason in lost:
            logger.warning("slot %s of %s lost: %s", slot.holder_id, self._name, reason)
            if self._on_lost is not None:
                try:
                    self._on_lost(slot, reason)
                except Exception:  # noqa: BLE001 - the other slots are still reported
                    logger.exception("the on_lost callback of %s raised", self._name)
