"""Micro-batching with load shedding: concurrent requests share encode calls, and overload is refused fast.

Requests join a queue bounded by *texts* (not requests): one that would overflow it is refused at once
(`Overloaded`, answered 503 with Retry-After). Each request has a deadline; when it passes, or its client goes
away, it leaves the queue before it is encoded: no work is spent on answers nobody reads. One worker
takes queued requests up to `max_batch_size` texts and hands each request its rows. `close()` refuses new
work; what is queued is still served until its deadline.

The encoder runs on the event loop's own thread, one length-sorted chunk of `encode_batch_size` texts at a
time, yielding to the loop between chunks (so requests are accepted, refused and answered every ~0.1 s). An
encode thread beside a busy event loop measured 1.3–2.3× slower on 2 cores (docs/results.md, "Serving").
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np


class Overloaded(Exception):
    """The queue is full; `retry_after` is the seconds it should take to drain."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"queue full; retry in {retry_after} s")
        self.retry_after = retry_after


class DeadlineExceeded(Exception):
    """The request waited longer than its deadline and was dropped unencoded (or its answer discarded)."""


class ShuttingDown(Exception):
    """The service is draining for shutdown and takes no new work."""


@dataclass(eq=False)
class _Job:
    texts: list
    future: asyncio.Future = field(repr=False)
    deadline: float = math.inf  # time.monotonic() after which nobody waits for the answer


class MicroBatcher:
    """Shared encode calls for concurrent requests, with a text-bounded queue and per-request deadlines.

    Example::

        batcher = MicroBatcher(encoder, max_batch_size=64, max_wait_ms=2, max_queue_texts=1024)
        batcher.start()  # inside a running event loop
        vectors, token_counts = await batcher.encode(["a text"], timeout=10)
    """

    def __init__(
        self,
        encoder,
        max_batch_size: int,
        max_wait_ms: float,
        max_queue_texts: int,
        on_batch=None,
        encode_batch_size: int = 32,
        length=len,
    ) -> None:
        self.encoder = encoder
        self.length = length  # what a text's length is, to sort a call's texts by (a pair's: both texts)
        self.max_batch_size = max_batch_size
        self.encode_batch_size = encode_batch_size  # the encoder sorts a call's texts by length, then batches
        self.max_wait = max_wait_ms / 1000
        self.max_queue_texts = max_queue_texts
        self.on_batch = on_batch  # called with (texts, requests, seconds) per encode call
        self.pending: deque[_Job] = deque()
        self.queued_texts = 0
        self.texts_per_second = 100.0  # refined by every encode call; only sizes Retry-After
        self.closing = False
        self._arrived = asyncio.Event()
        self._worker: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        """True while the batcher takes work (started and not shutting down)."""
        return self._worker is not None and not self._worker.done() and not self.closing

    @property
    def full(self) -> bool:
        """True when the queue holds its maximum of texts."""
        return self.queued_texts >= self.max_queue_texts

    def retry_after(self) -> int:
        """Seconds the queued texts should take at the recent encode rate (at least 1): the Retry-After."""
        return max(1, math.ceil(self.queued_texts / self.texts_per_second))

    def start(self) -> None:
        """Start the batching loop on the running event loop."""
        self._worker = asyncio.create_task(self._run())

    def close(self) -> None:
        """Take no new work; queued requests are still served (each within its deadline)."""
        self.closing = True

    async def stop(self, grace: float = 0.0) -> None:
        """Close, wait up to `grace` seconds for the queue to drain, then stop the worker."""
        self.close()
        drained_by = time.monotonic() + grace
        while self.pending and time.monotonic() < drained_by:
            await asyncio.sleep(0.01)
        for job in self.pending:
            if not job.future.done():
                job.future.set_exception(ShuttingDown())
        self.pending.clear()
        if self._worker:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)

    async def encode(self, texts: list[str], timeout: float) -> tuple[np.ndarray, np.ndarray]:
        """Vectors and token counts for `texts`, or `Overloaded` / `DeadlineExceeded` / `ShuttingDown`.

        Cancelling the awaiting task (a client that went away) takes the request out of the queue.
        """
        if self.closing:
            raise ShuttingDown
        if self.queued_texts and self.queued_texts + len(texts) > self.max_queue_texts:
            raise Overloaded(self.retry_after())
        loop = asyncio.get_running_loop()
        job = _Job(texts, loop.create_future(), time.monotonic() + timeout)
        self.pending.append(job)
        self.queued_texts += len(texts)
        self._arrived.set()
        expiry = loop.call_later(timeout, self._expire, job)
        try:
            return await job.future
        except asyncio.CancelledError:
            self._withdraw(job)
            raise
        finally:
            expiry.cancel()

    def _expire(self, job: _Job) -> None:
        self._withdraw(job)
        if not job.future.done():  # also when already in a batch: the caller is answered now
            job.future.set_exception(DeadlineExceeded())

    def _withdraw(self, job: _Job) -> None:
        try:
            self.pending.remove(job)
        except ValueError:
            return  # already taken into a batch: its answer will simply be discarded
        self.queued_texts -= len(job.texts)

    async def _run(self) -> None:
        while True:
            while not self.pending:
                self._arrived.clear()
                await self._arrived.wait()
            # The encoder is idle: give a few more requests a chance to join, and every waiting handler a
            # moment to notice a deadline or a client gone (at least a millisecond, see _encode_in_chunks).
            await asyncio.sleep(max(self.max_wait if self.queued_texts < self.max_batch_size else 0, 0.001))
            batch = self._take()
            if batch:
                await self._encode(batch)

    def _take(self) -> list[_Job]:
        batch: list[_Job] = []
        size = 0
        now = time.monotonic()
        while self.pending and (not batch or size + len(self.pending[0].texts) <= self.max_batch_size):
            job = self.pending.popleft()
            self.queued_texts -= len(job.texts)
            if now > job.deadline and not job.future.done():
                job.future.set_exception(DeadlineExceeded())  # nobody waits for it: never encode it
            elif not job.future.done():
                batch.append(job)
                size += len(job.texts)
        return batch

    async def _encode(self, batch: list[_Job]) -> None:
        texts = [text for job in batch for text in job.texts]
        started = time.perf_counter()
        try:
            vectors, counts = await self._encode_in_chunks(texts)
        except Exception as error:  # every waiting caller gets the failure, the worker keeps going
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(error)
            return
        elapsed = max(time.perf_counter() - started, 1e-6)
        self.texts_per_second = 0.8 * self.texts_per_second + 0.2 * (len(texts) / elapsed)
        if self.on_batch:
            self.on_batch(len(texts), len(batch), elapsed)
        start = 0
        for job in batch:
            end = start + len(job.texts)
            if not job.future.done():
                job.future.set_result((vectors[start:end], counts[start:end]))
            start = end

    async def _encode_in_chunks(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(
            [self.length(text) for text in texts], kind="stable"
        )  # chunks of like lengths pad little
        parts = []
        for start in range(0, len(texts), self.encode_batch_size):
            chosen = order[start : start + self.encode_batch_size]
            parts.append(
                (chosen, *self.encoder.encode_counted([texts[i] for i in chosen], self.encode_batch_size))
            )
            # Let the loop accept, refuse and answer requests between chunks: a millisecond lets a handler's
            # chain of steps (parse, queue or refuse, respond) run to its end, not one step per chunk.
            await asyncio.sleep(0.001)
        first = parts[0][1]
        vectors = np.empty((len(texts), first.shape[1]), dtype=first.dtype)
        counts = np.empty(len(texts), dtype=np.int64)
        for chosen, chunk_vectors, chunk_counts in parts:
            vectors[chosen], counts[chosen] = chunk_vectors, chunk_counts
        return vectors, counts
