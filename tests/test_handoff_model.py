"""The handoff classifier runs in onnxruntime from an export of its own adapter, and says
exactly what the PyTorch model says (real weights: the shipped adapter)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import handoff_model
from assistant.handoff_model import SHIPPED, PersonClassifier

TEXTS = ["can I talk to a real person please", "where is my parcel",
         "the agent I spoke to yesterday said it was refunded", "get me someone from your team",
         "no need for an agent. just tell me the fee"]


@pytest.mark.model
def test_the_onnx_export_gives_the_pytorch_probabilities_and_is_made_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    in_torch = PersonClassifier(SHIPPED).probabilities(TEXTS)
    exported = PersonClassifier(SHIPPED, cache=tmp_path)
    assert exported.probabilities(TEXTS) == pytest.approx(in_torch, abs=1e-5)
    assert exported.runs_on == "onnxruntime" and len(list(tmp_path.glob("handoff-*.onnx"))) == 1

    def no_second_export(*_: object) -> None:
        raise AssertionError("exported again")
    monkeypatch.setattr(handoff_model, "_export", no_second_export)
    again = PersonClassifier(SHIPPED, cache=tmp_path)
    assert again.probabilities(TEXTS) == pytest.approx(in_torch, abs=1e-5) and again.runs_on == "onnxruntime"


@pytest.mark.model
def test_a_re_tuned_adapter_gets_its_own_export_which_replaces_the_old_one(tmp_path: Path) -> None:
    tuned = tmp_path / "tuned"
    tuned.mkdir()
    for path in SHIPPED.iterdir():
        (tuned / path.name).write_bytes(path.read_bytes())
    assert handoff_model._fingerprint(tuned) == handoff_model._fingerprint(SHIPPED)  # same files
    cache = tmp_path / "onnx"
    PersonClassifier(SHIPPED, cache=cache).load()
    head = tuned / handoff_model.HEAD_FILE
    head.write_text(head.read_text(encoding="utf-8") + " ", encoding="utf-8")  # any change: re-tuned
    assert handoff_model._fingerprint(tuned) != handoff_model._fingerprint(SHIPPED)
    PersonClassifier(tuned, cache=cache).load()
    only = f"handoff-{handoff_model._fingerprint(tuned)}.onnx"
    assert [p.name for p in cache.glob("handoff-*.onnx")] == [only]  # the old export is gone


@pytest.mark.model
def test_when_the_export_fails_the_classifier_still_runs_in_pytorch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("no exporter here")
    monkeypatch.setattr(handoff_model, "_export", broken)
    person = PersonClassifier(SHIPPED, cache=tmp_path)
    assert person.probabilities(TEXTS[:1])[0] > 0.5 and person.runs_on == "torch"
    assert "no exporter here" in caplog.text
