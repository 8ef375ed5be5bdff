"""Which receivers of ``job-updated`` are given ``changed_files``.

``job-updated`` gained the keyword argument ``changed_files`` after receivers had been
written as ``def on_update(sender, job)``; calling those with it would raise
``TypeError`` at every event. So it goes only to a receiver that can take it: one with a
parameter named ``changed_files`` that may be passed by keyword, or with ``**kwargs``.
Every other receiver is called as receivers always were, ``receiver(sender, job=...)``.

A receiver whose signature cannot be read (``inspect.signature`` fails: some callables
written in C, or a ``__signature__`` that raises) is called that old way too: it is the
call that every receiver written before ``changed_files`` existed accepts, and the one the
documented form ``def receiver(sender, *, job, **extra)`` accepts; passing the keyword
could only break such a receiver at every event, leaving it out can at worst deprive one
that wanted it.

The decision is made once per receiver and remembered, keyed weakly so that a receiver
that is dropped (blinker holds receivers weakly by default; the web front connects one per
client) is forgotten with it. A bound method is keyed by its function: blinker makes a new
bound method for each event, and every method bound from one function answers alike (the
parameter bound is always the first). A receiver that cannot be weakly referenced, or
hashed, is not remembered: it is looked at again at each event.
"""

from __future__ import annotations

import inspect
import os
import threading
import types
import weakref
from collections.abc import Callable
from typing import Any

CHANGED_FILES = "changed_files"

_BY_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class _Decisions:
    """Whether each receiver takes ``changed_files``, remembered weakly.

    Rule of the lock: it guards ``_known`` alone and is held only to look up or store a
    decision, never while a signature is read (reading one may run the receiver's own
    code: a ``__signature__`` property, a ``__call__`` descriptor). A forked child gets a
    new one (:meth:`renew_lock`): a thread of the parent that held it is not there to
    let go of it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()

    def renew_lock(self) -> None:
        """In a forked child: a lock of its own. What is known stays true, and a store
        is one dict assignment, never left half-made."""
        self._lock = threading.Lock()

    def takes_changed_files(self, receiver: Callable[..., Any]) -> bool:
        """Whether ``receiver`` is to be called with ``changed_files=``."""
        key = receiver.__func__ if isinstance(receiver, types.MethodType) else receiver
        try:
            with self._lock:
                known = self._known.get(key)
        except TypeError:  # not weakly referable, or not hashable: not remembered
            return _takes_changed_files(receiver)
        if known is not None:
            return known
        decision = _takes_changed_files(receiver)
        with self._lock:  # looked up above, so it can be weakly referenced and hashed
            self._known[key] = decision
        return decision


def _takes_changed_files(receiver: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(receiver).parameters.values()
    except Exception:  # noqa: BLE001 - any failure to read it: the call every receiver takes
        return False
    return any(
        parameter.kind is inspect.Parameter.VAR_KEYWORD
        or (parameter.name == CHANGED_FILES and parameter.kind in _BY_KEYWORD)
        for parameter in parameters
    )


decisions = _Decisions()
"""The decisions of every queue's event thread (they may run at once)."""

os.register_at_fork(after_in_child=decisions.renew_lock)
