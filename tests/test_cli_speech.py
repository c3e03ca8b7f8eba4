"""`assistant transcribe FILE [--json]`, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from channels.cli import main

ROOT = Path(__file__).parent.parent
JFK = ROOT / "tests" / "data" / "audio" / "jfk.flac"


@pytest.fixture
def run(data_dir: Path, monkeypatch, capsys):
    for key in [k for k in os.environ if k.startswith("ASSISTANT_")]:
        monkeypatch.delenv(key)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--config", str(ROOT / "config.toml"), "--data-dir", str(data_dir), *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.mark.model
def test_transcribe_json_prints_one_object(data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "--config", str(ROOT / "config.toml"),
         "--data-dir", str(data_dir), "transcribe", str(JFK), "--json"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    transcript = json.loads(result.stdout)
    assert "ask not what your country can do for you" in transcript["text"].lower()
    assert transcript["language"] == "en"
    assert transcript["duration"] == pytest.approx(11.0, abs=0.1)
    assert transcript["segments"][0]["start"] == 0.0


@pytest.mark.model
def test_transcribe_prints_the_text_with_a_forced_language(run) -> None:
    code, out, _ = run("transcribe", str(JFK), "--language", "en", "--model", "tiny.en")
    assert code == 0
    assert "your country" in out.lower() and not out.lstrip().startswith("{")


def test_an_image_is_refused_with_its_code(run) -> None:
    code, out, err = run("transcribe", str(ROOT / "tests" / "data" / "abcd" / "faq_screenshot.png"))
    assert code == 2 and out == ""
    assert "error [audio_unsupported]" in err


def test_a_missing_file_is_a_clear_error(run, tmp_path: Path) -> None:
    code, _, err = run("transcribe", str(tmp_path / "nope.ogg"))
    assert code == 2 and "no such audio file" in err
