"""The Ray engine of `embed_corpus`: the same shards, encoded by a pool of Ray Data actors (one model each,
a GPU each where the cluster has GPUs). Without an address a local Ray starts by itself and stops after.

The driver streams the source and hands Ray a window of shards at a time (at least twice as many as there
are actors, and about 100k texts), so its memory stays bounded by the window, whatever the corpus size;
each window's actors load the model once for a hundred thousand texts.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterator

import numpy as np

from embedlab.embed.corpus import pieces
from embedlab.errors import ConfigError


class Embedder:
    """A Ray Data actor: loads the model once, then encodes batches of the `text` column into `vector`."""

    def __init__(self, model: str, backend: str, batch_size: int, threads: int, device: str) -> None:
        from embedlab.runtime.encoder import load_encoder

        self.encoder = load_encoder(model, backend, threads=threads, device=device)
        self.batch_size = batch_size

    def __call__(self, batch: dict) -> dict:
        """Encode one piece of a shard (a row holding its texts) into one row per text."""
        texts = [str(t) for t in batch["texts"][0]]
        vectors = np.asarray(self.encoder.encode(texts, self.batch_size), dtype=np.float32)
        return {
            "piece": np.full(len(texts), batch["piece"][0]),
            "position": np.arange(len(texts)),
            "vector": vectors,
        }


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """One clear error, in seconds, for a Ray address that does not answer (instead of Ray's long retries).

    Example::

        check_reachable("ray://head:10001")
    """
    if address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"address={address}: expected ray://HOST:PORT or HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise ConfigError(f"address={address}: no Ray cluster answers there ({error})") from None


class RayEngine:
    """Encodes windows of shards with Ray Data's `map_batches` over an actor pool.

    Example::

        engine = RayEngine("all-MiniLM-L6-v2", actors=2)  # starts a local Ray
        [vectors] = list(engine.encode([["a text", "another"]], progress=lambda n: None))
        engine.close()
    """

    def __init__(
        self,
        model: str,
        backend: str = "torch",
        batch_size: int = 64,
        *,
        address: str | None = None,
        actors: int | None = None,
        shard_size: int = 10_000,
    ) -> None:
        import ray

        if address is not None:
            check_reachable(address)
        self.started_ray = not ray.is_initialized()
        if self.started_ray:
            os.environ.setdefault("RAY_DEDUP_LOGS", "1")
            ray.init(
                address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR
            )
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
        self.gpus_per_actor = 1 if gpus else 0
        self.actors = actors or gpus or max(1, cpus // 2)  # CPU actors: two threads each
        self.threads = max(1, cpus // self.actors) if not gpus else 2
        # shards per Ray Data job: enough for every actor twice, and ~100k texts so that each job's actor
        # start (a model load) is spread over minutes of work even for fast models
        self.window = max(2 * self.actors, -(-100_000 // shard_size))
        self.model, self.backend, self.batch_size = model, backend, batch_size

    def encode(self, shards: list[list[str]], progress: Callable[[int], None]) -> Iterator[np.ndarray]:
        """The vectors of each shard's texts, in order (each row carries its place: Ray may reorder)."""
        import ray.data

        logging.getLogger("ray.data").setLevel(logging.WARNING)  # after Ray Data set up its own logging
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # ours counts the texts
        parts = [piece for shard in shards for piece in pieces(shard, self.batch_size)]
        starts = np.cumsum([0] + [len(piece) for piece in parts])
        dataset = ray.data.from_items([{"piece": i, "texts": piece} for i, piece in enumerate(parts)])
        device = "cuda" if self.gpus_per_actor else "cpu"
        vectors = np.empty((int(starts[-1]), 0), dtype=np.float32)
        encoded = dataset.map_batches(
            Embedder,
            fn_constructor_kwargs={
                "model": self.model,
                "backend": self.backend,
                "batch_size": self.batch_size,
                "threads": self.threads,
                "device": device,
            },
            batch_size=1,  # one piece: the same `encode` calls as the local engine
            compute=ray.data.ActorPoolStrategy(size=self.actors),
            num_gpus=self.gpus_per_actor,
            num_cpus=0 if self.gpus_per_actor else self.threads,
        )
        for batch in encoded.iter_batches(batch_size=None, batch_format="numpy"):
            if vectors.shape[1] == 0:
                vectors = np.empty((len(vectors), batch["vector"].shape[1]), dtype=np.float32)
            vectors[starts[batch["piece"]] + batch["position"]] = batch["vector"]
            progress(len(batch["piece"]))
        start = 0
        for shard in shards:
            yield vectors[start : start + len(shard)]
            start += len(shard)

    def close(self) -> None:
        """Stop the local Ray this engine started (a cluster it joined keeps running)."""
        import ray

        if self.started_ray:
            ray.shutdown()
