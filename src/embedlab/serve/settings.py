"""Service settings, from `EMBEDLAB_*` environment variables or the `embedlab serve` options."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServeSettings(BaseSettings):
    """Every knob of the service; each field is also the environment variable `EMBEDLAB_<FIELD>`.

    Example::

        settings = ServeSettings(model="my-model", backend="onnx-int8", max_queue_texts=2048)
        app = create_app(settings)
    """

    model_config = SettingsConfigDict(env_prefix="EMBEDLAB_", extra="ignore")

    model: str = "all-MiniLM-L6-v2"  # the embedding model: a name or folder
    backend: Literal["torch", "torch-bf16", "onnx", "onnx-int8"] = "torch"
    index_dir: str | None = None  # an index folder: enables POST /search and the page at /
    classifier_dir: str | None = None  # a `classify train` folder: enables POST /classify
    reranker: str | None = None  # a CrossEncoder folder: enables POST /v1/rerank and POST /search's rerank
    rerank_backend: Literal["torch", "onnx", "onnx-int8"] = "torch"  # onnx-int8: after export onnx --int8
    api_key: str | None = None  # when set, every route but /health, /ready and /metrics needs it
    api_key_file: str | None = None  # a file holding the key (a Docker secret): never on a command line
    public_docs: bool = False  # with an API key: also leave /docs, /redoc and /openapi.json open
    device: str | None = None  # auto (CUDA when present), cpu, cuda, cuda:N; None: EMBEDLAB_DEVICE, else auto
    dtype: Literal["auto", "fp32", "fp16", "bf16"] = "auto"  # on a GPU
    threads: int = Field(default=2, gt=0)  # encoder threads
    max_inputs: int = Field(default=256, gt=0)  # texts per request (documents per rerank request)
    max_chars: int = Field(default=8192, gt=0)  # per text
    too_long: Literal["truncate", "reject"] = "truncate"
    max_body_bytes: int = Field(default=4_000_000, gt=0)  # request bodies above this: 413
    max_batch_size: int = Field(default=128, gt=0)  # texts per batch, across requests
    encode_batch_size: int = Field(default=32, gt=0)  # within a call: texts sorted by length, then batched
    max_wait_ms: float = Field(default=2.0, ge=0)  # how long an idle encoder waits for more requests
    max_queue_texts: int = Field(default=1024, gt=0)  # texts waiting before new requests get 503
    request_timeout_s: float = Field(default=10.0, gt=0)  # a request still waiting then gets 504
    shutdown_grace_s: float = Field(default=10.0, ge=0)  # on SIGTERM: finish in-flight work this long
    max_k: int = Field(default=100, gt=0)  # the most results one /search may ask for
    header_timeout_s: float = Field(default=10.0, gt=0)  # a request's headers must arrive within this
    body_timeout_s: float = Field(default=30.0, gt=0)  # and its body within this, or the connection closes
    max_connections: int = Field(default=512, gt=0)  # open connections; past it requests get 503

    @model_validator(mode="after")
    def _key(self) -> ServeSettings:
        """A blank key would open every route without a word: refused, as is a key file without a key."""
        if self.api_key_file is not None:
            if self.api_key is not None:
                raise ValueError("give api_key or api_key_file, not both")
            try:
                self.api_key = Path(self.api_key_file).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as error:
                raise ValueError(f"api_key_file {self.api_key_file}: unreadable ({error})") from None
            if not self.api_key:
                raise ValueError(f"api_key_file {self.api_key_file} is empty: put the key in it")
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("api_key (EMBEDLAB_API_KEY) is blank: set a key, or unset it to serve open")
        return self
