"""Service settings, from `EMBEDLAB_*` environment variables or the `embedlab serve` options."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMBEDLAB_", extra="ignore")

    model: str = "all-MiniLM-L6-v2"
    backend: Literal["torch", "onnx", "onnx-int8"] = "torch"
    index_dir: str | None = None
    api_key: str | None = None  # when set, every route but /health, /ready and /metrics needs it
    threads: int = Field(default=2, gt=0)
    max_inputs: int = Field(default=256, gt=0)  # texts per request
    max_chars: int = Field(default=8192, gt=0)  # per text
    too_long: Literal["truncate", "reject"] = "truncate"
    max_body_bytes: int = Field(default=4_000_000, gt=0)
    max_batch_size: int = Field(default=64, gt=0)  # texts per encode call, across requests
    max_wait_ms: float = Field(default=5.0, ge=0)  # how long the first request of a batch waits for others
    queue_size: int = Field(default=1024, gt=0)  # pending requests before 503
    max_k: int = Field(default=100, gt=0)
