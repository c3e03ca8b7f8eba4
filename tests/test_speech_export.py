"""Packaged Whisper weights: joined once, and converted into an openai-whisper checkpoint."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.errors import DependencyMissing
from assistant.speech.export import export_whisper
from assistant.speech.weights import PACKAGED, ct2_model
from channels.cli import main

BASE_BYTES = 145_217_532


@pytest.mark.model
def test_base_is_joined_once_into_the_data_dir(data_dir: Path) -> None:
    folder = Path(ct2_model("base", data_dir))
    assert folder == data_dir / "models" / "whisper-base-ct2"
    assert (folder / "model.bin").stat().st_size == BASE_BYTES
    assert {"config.json", "tokenizer.json", "vocabulary.txt"} <= {p.name for p in folder.iterdir()}
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert Path(ct2_model("base", data_dir)) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == stamp  # reused, not rewritten
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temp left


@pytest.mark.model
def test_a_broken_cache_is_rebuilt(data_dir: Path) -> None:
    folder = Path(ct2_model("base", data_dir))
    with open(folder / "model.bin", "r+b") as f:
        f.truncate(1000)  # an interrupted copy from an older version, say
    assert Path(ct2_model("base", data_dir)) == folder
    assert (folder / "model.bin").stat().st_size == BASE_BYTES


def test_tiny_en_is_used_where_it_is_installed(data_dir: Path) -> None:
    folder = Path(ct2_model("tiny.en", data_dir))
    assert (folder / "model.bin").is_file()
    assert not (data_dir / "models").exists()  # nothing copied


def test_small_without_its_packages_names_the_install(data_dir: Path, monkeypatch) -> None:
    monkeypatch.setitem(PACKAGED, "small", PACKAGED["small"].__class__(("no-such-whisper-small-1",)))
    with pytest.raises(DependencyMissing) as caught:
        ct2_model("small", data_dir)
    assert caught.value.code == "dependency_missing"
    assert "pip install no-such-whisper-small-1" in caught.value.message


def test_other_names_are_hub_names_or_folders(data_dir: Path) -> None:
    assert ct2_model("Systran/faster-whisper-large-v3", data_dir) == "Systran/faster-whisper-large-v3"
    assert ct2_model("/srv/my-whisper-ct2", data_dir) == "/srv/my-whisper-ct2"


@pytest.mark.model
@pytest.mark.parametrize(("model", "dims"), [
    ("tiny.en", {"n_mels": 80, "n_vocab": 51864, "n_audio_state": 384, "n_audio_head": 6,
                 "n_audio_layer": 4, "n_text_layer": 4, "n_audio_ctx": 1500, "n_text_ctx": 448}),
    ("base", {"n_mels": 80, "n_vocab": 51865, "n_audio_state": 512, "n_audio_head": 8,
              "n_audio_layer": 6, "n_text_layer": 6, "n_text_head": 8, "n_text_state": 512}),
])
def test_the_checkpoint_loads_strictly_into_openai_whisper(data_dir: Path, model: str, dims: dict) -> None:
    import torch
    import whisper

    path = export_whisper(model, data_dir)
    assert path == data_dir / "models" / f"whisper-{model}-openai.pt"
    checkpoint = torch.load(path, weights_only=True)
    assert dims.items() <= checkpoint["dims"].items()
    loaded = whisper.load_model(str(path), device="cpu")  # load_state_dict is strict
    assert loaded.is_multilingual == (model == "base")
    source = torch.load(path, weights_only=True)["model_state_dict"]
    assert torch.equal(loaded.decoder.token_embedding.weight.half(), source["decoder.token_embedding.weight"])


@pytest.mark.model
def test_the_cli_exports_where_it_is_told(data_dir: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    for key in [k for k in os.environ if k.startswith("ASSISTANT_")]:
        monkeypatch.delenv(key)
    out = tmp_path / "tiny.pt"
    config = Path(__file__).parent.parent / "config.toml"
    code = main(["--config", str(config), "--data-dir", str(data_dir),
                 "models", "export-whisper", "--model", "tiny.en", "--out", str(out)])
    assert code == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert out.stat().st_size > 50_000_000  # tiny.en's float16 tensors
