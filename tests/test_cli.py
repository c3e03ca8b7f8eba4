"""The `assistant` entry point: --help everywhere, clear errors for bad config."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from channels.cli import build_parser, main


def _leaf_commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix
        return
    for name, child in subs[0].choices.items():
        yield from _leaf_commands(child, (*prefix, name))


def test_every_command_has_help(capsys):
    commands = list(_leaf_commands(build_parser()))
    assert ("kb", "ingest") in commands
    for command in commands:
        with pytest.raises(SystemExit) as exit_:
            main([*command, "--help"])
        assert exit_.value.code == 0
        assert "usage: assistant " + " ".join(command) in capsys.readouterr().out


def test_python_dash_m_runs_the_same_cli():
    out = subprocess.run([sys.executable, "-m", "assistant", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "kb" in out


def test_bad_config_exits_2_naming_the_key(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[knowledge]\nchunk_sise = 3\n")
    assert main(["--config", str(cfg), "kb", "stats"]) == 2
    assert "knowledge.chunk_sise" in capsys.readouterr().err
