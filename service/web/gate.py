"""Slots for requests in flight in one worker, shared fairly between client addresses.

A worker past its bound only answers everyone later, and without a share per address one
client (a script in a retry loop, credential stuffing) could hold every slot. A request
takes a slot if the worker has one free and its address holds fewer than its share;
otherwise it waits in its address's queue. A freed slot goes to the queues in turn (round
robin over addresses, first come first served within one), so a flooding address waits
behind its own requests, never in front of another's."""

from __future__ import annotations

import asyncio
import collections
import enum

# Requests one address may leave waiting, per slot of the worker: a bound on memory only.
QUEUE_PER_SLOT = 4


class Refused(enum.Enum):
    ADDRESS = "address"  # the address held its share for the whole wait
    WORKER = "worker"  # every slot of the worker was taken for the whole wait


class Gate:
    def __init__(self, slots: int, per_address: int, wait: float) -> None:
        self.slots, self.per_address, self.wait = slots, per_address, wait
        self.total = 0
        self.busy: dict[str, int] = {}
        # Insertion ordered: the address served last moves to the end (round robin).
        self._queues: dict[str, collections.deque[asyncio.Future[None]]] = {}

    async def enter(self, address: str) -> Refused | None:
        """None once the request holds a slot (give it back with leave()), else why not.
        Waits at most `wait` seconds; an address already queueing QUEUE_PER_SLOT x `slots`
        requests is refused at once."""
        if address not in self._queues and self._free_for(address):
            self._take(address)
            return None
        queue = self._queues.get(address)
        if self.wait <= 0 or (queue is not None and len(queue) >= QUEUE_PER_SLOT * self.slots):
            return self._why(address)
        waiter = asyncio.get_running_loop().create_future()
        self._queues.setdefault(address, collections.deque()).append(waiter)
        try:
            await asyncio.wait((waiter,), timeout=self.wait)
        except BaseException:  # cancelled: give back a slot handed over meanwhile
            if waiter.done():
                self.leave(address)
            else:
                self._drop(address, waiter)
            raise
        if waiter.done():  # leave() took the slot for us
            return None
        self._drop(address, waiter)
        return self._why(address)

    def leave(self, address: str) -> None:
        self.total -= 1
        held = self.busy[address] - 1
        if held:
            self.busy[address] = held
        else:
            del self.busy[address]
        self._hand_over()

    def _free_for(self, address: str) -> bool:
        return self.total < self.slots and self.busy.get(address, 0) < self.per_address

    def _take(self, address: str) -> None:
        self.total += 1
        self.busy[address] = self.busy.get(address, 0) + 1

    def _why(self, address: str) -> Refused:
        if self.busy.get(address, 0) >= self.per_address:
            return Refused.ADDRESS
        return Refused.WORKER

    def _hand_over(self) -> None:
        while self.total < self.slots:
            address = next((a for a in self._queues if self._free_for(a)), None)
            if address is None:
                return
            queue = self._queues.pop(address)
            waiter = queue.popleft()
            if queue:
                self._queues[address] = queue  # to the end of the round
            self._take(address)
            waiter.set_result(None)

    def _drop(self, address: str, waiter: asyncio.Future[None]) -> None:
        waiter.cancel()
        queue = self._queues.get(address)
        if queue is not None:
            queue.remove(waiter)
            if not queue:
                del self._queues[address]
