"""`assistant agents add|list|remove` on the real stores; the account signs in to the app."""

from __future__ import annotations

import io
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from channel_fakes import FakeRuntimeFactory
from starlette.testclient import TestClient

from channels.app import create_app
from channels.cli import main

MP = pytest.MonkeyPatch
Cap = pytest.CaptureFixture[str]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(data_dir: Path, *argv: str, stdin: str = "", monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(["--data-dir", str(data_dir), "agents", *argv])


def test_an_added_agent_signs_in_with_that_password_and_sees_their_inboxes(
        settings: Any, data_dir: Path, monkeypatch: MP, capsys: Cap) -> None:
    assert run(data_dir, "add", "dana", "--password-stdin", "--display-name", "Dana S.",
               "--inbox", "billing", "--inbox", "vip", stdin="long enough pw\n", monkeypatch=monkeypatch) == 0
    assert "added agent dana (inboxes: billing, vip)" in capsys.readouterr().out
    with TestClient(create_app(settings, FakeRuntimeFactory())) as client:
        ok = client.post("/api/agents/login", json={"name": "dana", "password": "long enough pw"})
        agent = ok.json()["agent"]
        assert agent == {"name": "dana", "display_name": "Dana S.", "inboxes": ["billing", "vip"]}
        bad = client.post("/api/agents/login", json={"name": "dana", "password": "long enough pw\n"})
        assert bad.status_code == 401


def test_the_password_is_asked_twice_on_a_terminal(
        data_dir: Path, settings: Any, monkeypatch: MP, capsys: Cap) -> None:
    answers = iter(["first password", "other password", "same password", "same password"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    monkeypatch.setattr(sys, "stdin", Terminal())
    assert main(["--data-dir", str(data_dir), "agents", "add", "otto"]) == 2
    assert "password_mismatch" in capsys.readouterr().err
    assert main(["--data-dir", str(data_dir), "agents", "add", "otto"]) == 0
    assert main(["--data-dir", str(data_dir), "agents", "list", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()[1:]]
    assert [(a["name"], a["inboxes"]) for a in listed] == [("otto", ["default"])]


def test_bad_input_gets_a_clear_error_and_nothing_is_stored(
        data_dir: Path, settings: Any, monkeypatch: MP, capsys: Cap) -> None:
    assert run(data_dir, "add", "dana", "--password-stdin", stdin="short\n", monkeypatch=monkeypatch) == 2
    assert "password_too_short" in capsys.readouterr().err
    assert run(data_dir, "add", "dana", monkeypatch=monkeypatch) == 2  # stdin is a pipe, no flag
    assert "--password-stdin" in capsys.readouterr().err
    assert run(data_dir, "list", monkeypatch=monkeypatch) == 0
    assert "no agents yet" in capsys.readouterr().out


def test_an_existing_name_needs_replace_and_remove_deletes(
        data_dir: Path, settings: Any, monkeypatch: MP, capsys: Cap) -> None:
    pw = "a good password\n"
    assert run(data_dir, "add", "dana", "--password-stdin", stdin=pw, monkeypatch=monkeypatch) == 0
    assert run(data_dir, "add", "dana", "--password-stdin", stdin=pw, monkeypatch=monkeypatch) == 2
    assert "agent_exists" in capsys.readouterr().err
    assert run(data_dir, "add", "dana", "--password-stdin", "--replace", "--inbox", "*",
               stdin=pw, monkeypatch=monkeypatch) == 0
    assert run(data_dir, "list", monkeypatch=monkeypatch) == 0
    table = capsys.readouterr().out.splitlines()[-1]
    assert table.startswith("dana") and "*" in table and "$argon2" not in table
    assert run(data_dir, "remove", "dana", monkeypatch=monkeypatch) == 0
    assert run(data_dir, "remove", "dana", monkeypatch=monkeypatch) == 2
    assert "agent_not_found" in capsys.readouterr().err


@pytest.mark.service
def test_accounts_go_to_the_configured_postgres_store(
        pg_url: str, data_dir: Path, settings: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    schema = f"cli_agents_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("ASSISTANT_STORE__BACKEND", "postgres")
    monkeypatch.setenv("ASSISTANT_STORE__URL", pg_url)
    monkeypatch.setenv("ASSISTANT_STORE__PG_SCHEMA", schema)
    try:
        assert run(data_dir, "add", "pat", "--password-stdin", stdin="pg password!\n",
                   monkeypatch=monkeypatch) == 0
        assert run(data_dir, "list", "--json", monkeypatch=monkeypatch) == 0
        assert json.loads(capsys.readouterr().out.splitlines()[-1])["name"] == "pat"
        assert not (data_dir / "conversations.db").exists()
    finally:
        import asyncio

        import asyncpg

        async def drop() -> None:
            conn = await asyncpg.connect(pg_url)
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await conn.close()

        asyncio.run(drop())
