"""docs/compose.yaml and docs/deploy.md: docker does not run here, so check what can be
checked: the YAML parses, the topology is complete, and every worker's environment is a
valid configuration of this code."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from assistant.settings import Settings, load_settings

DOCS = Path(__file__).parent.parent / "docs"
COMPOSE = yaml.safe_load((DOCS / "compose.yaml").read_text())
WORKERS = ["assistant-1", "assistant-2"]


def interpolate(value: str, given: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} with these variables set."""
    def one(m: re.Match[str]) -> str:
        name, op, rest = m.group(1), m.group(2) or "", m.group(3) or ""
        if name in given:
            return given[name]
        assert op != ":?", f"${{{name}}} is required: {rest}"
        return rest if op == ":-" else ""

    return re.sub(r"\$\{(\w+)(:[-?])?([^}]*)\}", one, value)


def worker_env(service: str, **given: str) -> dict[str, str]:
    env = COMPOSE["services"][service]["environment"]
    return {k: interpolate(str(v), given) for k, v in env.items()}


def test_the_topology_has_every_part() -> None:
    services = COMPOSE["services"]
    assert set(services) == {*WORKERS, "proxy", "postgres", "redis", "chroma", "vllm"}
    for name in WORKERS:
        assert set(services[name]["depends_on"]) == {"postgres", "redis", "chroma", "vllm"}
    caddyfile = COMPOSE["configs"]["caddyfile"]["content"]
    assert re.search(r"reverse_proxy assistant-1:8080 assistant-2:8080", caddyfile)
    assert "health_uri /readyz" in caddyfile


def test_every_worker_environment_is_a_valid_scale_out_config(monkeypatch: pytest.MonkeyPatch) -> None:
    given = {"TOKEN_SECRET": "s3cret", "POSTGRES_PASSWORD": "pw"}
    envs = [worker_env(name, **given) for name in WORKERS]
    assert envs[0] == envs[1]  # the same store, bus, model and token secret
    for key in [k for k in os.environ if k.startswith("ASSISTANT_")]:
        monkeypatch.delenv(key)
    for key, value in envs[0].items():
        monkeypatch.setenv(key, value)
    s = load_settings(DOCS.parent / "config.toml")
    assert (s.store.backend, s.bus.backend, s.knowledge.chroma.mode, s.llm.backend) == \
           ("postgres", "redis", "http", "openai")
    assert s.store.url == "postgresql://assistant:pw@postgres:5432/assistant"
    assert s.server.token_secret == "s3cret" and s.server.allowed_origins == []
    assert s.llm.openai.base_url == "http://vllm:8000/v1"


def test_the_compose_file_refuses_to_start_without_the_shared_secrets() -> None:
    with pytest.raises(AssertionError, match="TOKEN_SECRET"):
        worker_env("assistant-1", POSTGRES_PASSWORD="pw")


def test_the_variables_deploy_md_names_are_real_config_keys() -> None:
    names = set(re.findall(r"ASSISTANT_[A-Z_]+[A-Z]", (DOCS / "deploy.md").read_text()))
    assert len(names) > 15
    for name in names:
        node: Any = Settings
        for part in name.removeprefix("ASSISTANT_").lower().split("__"):
            fields = node.model_fields
            assert part in fields, f"{name}: no key {part!r}"
            node = fields[part].annotation
    dockerfile = (DOCS / "Dockerfile").read_text()
    for copied in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M):
        for path in copied.split():
            assert (DOCS.parent / path).exists(), f"Dockerfile copies a missing {path}"
