"""Group commit: the chat messages that arrive together are stored with one write, in
arrival order, and each send returns only once its batch is stored.

The first send to arrive while no batch is being written leads: it waits the batching
window (CHAT_COMMIT_WINDOW_MS; 0 only yields once, so that the sends already read from
their sockets join), takes up to CHAT_COMMIT_MAX pending messages, writes them, runs
their after-store steps (the pushes) in the same order, wakes their senders, and hands
the lead to the oldest send still pending. While one batch is written the next one
gathers, so under load the batches grow by themselves and a lone send waits only for
its own write. A batch that fails fails each of its sends with the error.
"""
import threading

from flask import current_app

from realtime_service.extensions import socketio

UNSET = object()
STOPPED = "The message could not be stored, try again"


class Pending:
    """One send waiting for its batch: the item, what to run once it is stored, and
    its outcome (UNSET until its batch is written)."""

    __slots__ = ("item", "after", "done", "outcome")

    def __init__(self, item, after, done):
        self.item, self.after, self.done, self.outcome = item, after, done, UNSET

    def result(self):
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


class GroupCommit:
    """`submit(item, after)` from any number of greenlets; `write(items)` stores a batch
    and answers one outcome per item (a true one: stored), or an exception instance for
    an item it could not store."""

    def __init__(self, write, window_seconds, limit, create_event):
        self.write, self.window, self.limit = write, window_seconds, limit
        self.create_event = create_event
        self.queue, self.leading = [], False
        self.lock = threading.Lock()  # never held across a yield

    def submit(self, item, after=None):
        """Store `item` with the items arriving with it; once it is stored (a true
        outcome), `after(item)` runs in batch order. Returns the outcome, or raises the
        error that failed it."""
        pending = Pending(item, after, self.create_event())
        with self.lock:
            self.queue.append(pending)
            lead, self.leading = not self.leading, True
        if not lead:
            pending.done.wait()
        if pending.outcome is UNSET:  # first in line, or handed the lead
            self._lead()
        return pending.result()

    def _lead(self):
        socketio.sleep(self.window)
        with self.lock:
            batch = self.queue[:self.limit]
            del self.queue[:self.limit]
        try:
            self._store(batch)
        finally:
            for pending in batch:
                if pending.outcome is UNSET:  # the leader was stopped mid-write
                    pending.outcome = RuntimeError(STOPPED)
            with self.lock:
                heir = self.queue[0] if self.queue else None
                self.leading = heir is not None
            for pending in batch:
                pending.done.set()
            if heir is not None:
                heir.done.set()

    def _store(self, batch):
        try:
            outcomes = self.write([pending.item for pending in batch])
        except Exception as error:  # noqa: BLE001 (each send of the batch gets it)
            outcomes = [error] * len(batch)
        for pending, outcome in zip(batch, outcomes, strict=True):
            pending.outcome = outcome
            if pending.after is None or not outcome or isinstance(outcome, BaseException):
                continue
            try:
                pending.after(pending.item)
            except Exception as error:  # noqa: BLE001 (that send fails, not the others)
                pending.outcome = error


class EachAlone:
    """Group commit turned off (CHAT_COMMIT_MAX=0): each item is written on its own, at
    once, concurrently with the others; the same outcomes and after-store step."""

    def __init__(self, write):
        self.write = write

    def submit(self, item, after=None):
        outcome = self.write([item])[0]
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome and after is not None:
            after(item)
        return outcome


def group_commit(name, write):
    """The app's GroupCommit called `name` (made on first use) around `write`."""
    commits = current_app.extensions.setdefault("group_commits", {})
    if name not in commits:
        config = current_app.config
        commits[name] = (GroupCommit(write, config["CHAT_COMMIT_WINDOW_MS"] / 1000,
                                     config["CHAT_COMMIT_MAX"], socketio.server.eio.create_event)
                         if config["CHAT_COMMIT_MAX"] > 0 else EachAlone(write))
    return commits[name]
