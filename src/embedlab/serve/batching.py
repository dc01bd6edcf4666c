"""Micro-batching: concurrent requests share one encode call.

Requests join a bounded queue; one worker takes the first, waits up to `max_wait_ms` for more until
`max_batch_size` texts, encodes them together in a thread (the event loop stays free), and hands each
request back its own rows, in order.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import numpy as np


class QueueFull(Exception):
    """More requests are waiting than the queue holds; the caller should answer 503."""


@dataclass
class _Request:
    texts: list[str]
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    def __init__(self, encoder, max_batch_size: int, max_wait_ms: float, queue_size: int, on_batch=None):
        self.encoder = encoder
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000
        self.queue: asyncio.Queue[_Request] = asyncio.Queue(maxsize=queue_size)
        self.on_batch = on_batch  # called with (number of texts, number of requests) per encode call
        self._worker: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        return self._worker is not None and not self._worker.done()

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._worker:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)

    async def encode(self, texts: list[str]) -> np.ndarray:
        request = _Request(texts, asyncio.get_running_loop().create_future())
        try:
            self.queue.put_nowait(request)
        except asyncio.QueueFull:
            raise QueueFull from None
        return await request.future

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            size = len(batch[0].texts)
            deadline = time.monotonic() + self.max_wait
            while size < self.max_batch_size:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    request = await asyncio.wait_for(self.queue.get(), remaining)
                except TimeoutError:
                    break
                batch.append(request)
                size += len(request.texts)
            await self._encode(batch, size)

    async def _encode(self, batch: list[_Request], size: int) -> None:
        texts = [text for request in batch for text in request.texts]
        try:
            vectors = await asyncio.to_thread(self.encoder.encode, texts, self.max_batch_size)
        except Exception as error:  # every waiting caller gets the failure, the worker keeps going
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(error)
            return
        if self.on_batch:
            self.on_batch(size, len(batch))
        start = 0
        for request in batch:
            if not request.future.done():
                request.future.set_result(vectors[start : start + len(request.texts)])
            start += len(request.texts)
