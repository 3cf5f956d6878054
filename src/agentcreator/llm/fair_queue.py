"""Generation slots of an embedded model, handed out round-robin by user.

A plain semaphore serves waiters first come, first served: one user with 20 queued turns would push
another user's first turn back by 20 generations. Here every user has their own queue, and a freed
slot goes to the next user in turn (one request per user per round), so a newcomer waits for at most
one request of each other waiting user. Requests without a user share one lane.

Used on the event loop only (the generation thread releases through ``call_soon_threadsafe``).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Hashable


class FairSlots:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.in_use = 0
        self._last_served: Hashable = object()  # whose request got a slot last
        # user -> their waiters, oldest first; the dict's order is the round-robin order.
        self._queues: OrderedDict[Hashable, deque[asyncio.Future[None]]] = OrderedDict()

    @property
    def waiting(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    def locked(self) -> bool:
        """A new request would have to wait."""
        return self.in_use >= self.capacity or bool(self._queues)

    def position(self, user: Hashable) -> int:
        """Where a request of ``user`` joining now would be served (1: next): its own earlier requests,
        and as many of every other user's (each user gets one per round)."""
        own = len(self._queues.get(user, ())) + 1
        return own + sum(min(len(queue), own) for other, queue in self._queues.items() if other != user)

    async def acquire(self, user: Hashable = None) -> None:
        if not self.locked():
            self.in_use += 1
            self._last_served = user
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(user, deque()).append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed over as we were cancelled: pass it on
            else:
                self._forget(user, waiter)
            raise

    def release(self) -> None:
        """Free a slot: it goes to the next waiting user in turn, or back to the pool."""
        while self._queues:
            if len(self._queues) > 1 and next(iter(self._queues)) == self._last_served:
                self._queues.move_to_end(self._last_served)  # they just had a turn: the others first
            user, queue = self._queues.popitem(last=False)
            waiter = queue.popleft()
            if queue:
                self._queues[user] = queue  # this user goes to the back of the round
            if not waiter.done():
                self._last_served = user
                waiter.set_result(None)  # the slot passes on: in_use is unchanged
                return
        self.in_use -= 1

    def _forget(self, user: Hashable, waiter: asyncio.Future[None]) -> None:
        queue = self._queues.get(user)
        if queue is None:
            return
        try:
            queue.remove(waiter)
        except ValueError:
            return
        if not queue:
            del self._queues[user]
