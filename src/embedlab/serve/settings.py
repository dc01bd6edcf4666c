"""Service settings, from `EMBEDLAB_*` environment variables or the `embedlab serve` options."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServeSettings(BaseSettings):
    """Every knob of the service; each field is also the environment variable `EMBEDLAB_<FIELD>`.

    Example::

        settings = ServeSettings(model="my-model", backend="onnx-int8", max_queue_texts=2048)
        app = create_app(settings)
    """

    model_config = SettingsConfigDict(env_prefix="EMBEDLAB_", extra="ignore")

    model: str = "all-MiniLM-L6-v2"
    backend: Literal["torch", "torch-bf16", "onnx", "onnx-int8"] = "torch"
    index_dir: str | None = None
    classifier_dir: str | None = None  # a `classify train` folder: enables POST /classify
    api_key: str | None = None  # when set, every route but /health, /ready and /metrics needs it
    public_docs: bool = False  # with an API key: also leave /docs, /redoc and /openapi.json open
    device: str | None = None  # auto (CUDA when present), cpu, cuda, cuda:N; None: EMBEDLAB_DEVICE, else auto
    dtype: Literal["auto", "fp32", "fp16", "bf16"] = "auto"  # on a GPU
    threads: int = Field(default=2, gt=0)
    max_inputs: int = Field(default=256, gt=0)  # texts per request
    max_chars: int = Field(default=8192, gt=0)  # per text
    too_long: Literal["truncate", "reject"] = "truncate"
    max_body_bytes: int = Field(default=4_000_000, gt=0)
    max_batch_size: int = Field(default=128, gt=0)  # texts per batch, across requests
    encode_batch_size: int = Field(default=32, gt=0)  # within a call: texts sorted by length, then batched
    max_wait_ms: float = Field(default=2.0, ge=0)  # how long an idle encoder waits for more requests
    max_queue_texts: int = Field(default=1024, gt=0)  # texts waiting before new requests get 503
    request_timeout_s: float = Field(default=10.0, gt=0)  # a request still waiting then gets 504
    shutdown_grace_s: float = Field(default=10.0, ge=0)  # on SIGTERM: finish in-flight work this long
    max_k: int = Field(default=100, gt=0)
