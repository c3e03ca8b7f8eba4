"""Helpers of the browser tests: a real `assistant serve` on a loopback port with a small
ingested knowledge base and an agent account, and Debian's Chromium driven by Playwright.

Set BROWSER_TEST_URL=http://127.0.0.1:PORT to run the tests against a server already
running (with agent "dana", password "correct horse") while working on the UI.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"
CHROMIUM = "/usr/bin/chromium"
AGENT, PASSWORD = "dana", "correct horse"


@contextlib.contextmanager
def chromium(args: list[str]) -> Iterator[Any]:
    """Debian's Chromium under Playwright; a test skips without it (fails in CI, where it must be)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is missing (CI=true): apt-get install chromium")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        yield browser
        browser.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def small_bitext(path: Path, rows: int = 300, every: int = 15) -> Path:
    """Every 15th Bitext row (so all intents are there), 300 in all."""
    with open(ROOT / "demo/bitext/records.csv", newline="", encoding="utf-8") as src:
        table = list(csv.reader(src))
    with open(path, "w", newline="", encoding="utf-8") as dst:
        csv.writer(dst).writerows([table[0], *table[1::every][:rows]])
    return path


def speech_wav(path: Path) -> Path:
    """tests/data/audio/jfk.flac as 48 kHz mono 16-bit WAV: what Chromium's fake microphone plays."""
    import av
    import numpy as np

    resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
    chunks = []
    with av.open(str(DATA / "audio/jfk.flac")) as container:
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48000)
        out.writeframes(np.concatenate(chunks).astype("<i2").tobytes())
    return path


def _assistant(args: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=True, **kwargs)


class Server:
    """`assistant serve` in a subprocess, with the extractive model (fast, grounded)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
        self.env.update(ASSISTANT_DATA_DIR=str(data_dir), ASSISTANT_LLM__BACKEND="extractive",
                        ASSISTANT_SPEECH__LANGUAGE="en", ASSISTANT_SERVER__TOKEN_SECRET="browser-tests",
                        HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        self.process: subprocess.Popen | None = None
        self._log: Any = None

    def prepare(self) -> None:
        records = small_bitext(self.data_dir.parent / "records.csv")
        _assistant(["kb", "ingest", str(records), str(ROOT / "demo/abcd/guidelines.json")], self.env,
                   timeout=600)
        _assistant(["agents", "add", AGENT, "--password-stdin", "--display-name", "Dana"], self.env,
                   input=PASSWORD + "\n", timeout=120)

    def agents(self, *argv: str, password: str = "") -> None:
        """`assistant agents ...` on this server's data, in a process of its own, while it serves."""
        _assistant(["agents", *argv], self.env, input=f"{password}\n" if password else "", timeout=120)

    def kb(self, *argv: str) -> str:
        """`assistant kb ...` on this server's data, in a process of its own, while it serves: its output."""
        return _assistant(["kb", *argv], self.env, timeout=300).stdout

    def start(self, timeout: float = 240) -> None:
        self._log = open(self.data_dir.parent / "serve.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "assistant", "serve", "--port", str(self.port)],
            env=self.env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"assistant serve exited: {self.log()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"assistant serve was not ready in {timeout} s: {self.log()[-3000:]}")

    @classmethod
    @contextlib.contextmanager
    def running(cls, data_dir: Path) -> Iterator[Server]:
        """A prepared server on this data dir, stopped when the block ends."""
        srv = cls(data_dir)
        srv.prepare()
        srv.start()
        try:
            yield srv
        finally:
            srv.stop()

    def log(self) -> str:
        return (self.data_dir.parent / "serve.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()


def chromium_args(fake_audio: Path) -> list[str]:
    return ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={fake_audio}%noloop",
            # The "other site" of the embedding test and the server are both on loopback, which
            # Local Network Access checks would block; a real site and server are both public.
            "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests"]


class Chat:
    """A customer on /ws/chat through websockets' sync client, with every frame as the JSON
    the widget gets (so a test can read `grounded`, `reason`, ...)."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        from websockets.sync.client import connect

        self.timeout = timeout
        self.frames: list[dict[str, Any]] = []
        self._exit = contextlib.ExitStack()  # websockets wants its connection used in a with block
        self.ws = self._exit.enter_context(connect(url.replace("http", "ws", 1) + "/ws/chat",
                                                   open_timeout=timeout))
        self.ws.send(json.dumps({"type": "hello"}))
        self.conversation_id = str(self.wait("ready")["conversation_id"])

    def ask(self, text: str) -> dict[str, Any]:
        """Send a message; returns what ended the turn: the answer, or the move to a person."""
        start = len(self.frames)
        self.ws.send(json.dumps({"type": "message", "text": text, "client_msg_id": uuid.uuid4().hex}))
        return self.wait(lambda f: f["type"] == "answer" or f.get("state") == "waiting_human", after=start)

    def rate(self, answer: dict[str, Any], rating: str) -> None:
        start = len(self.frames)
        self.ws.send(json.dumps({"type": "feedback", "message_id": answer["message_id"], "rating": rating}))
        self.wait(lambda f: f["type"] == "feedback" and f["message_id"] == answer["message_id"], after=start)

    def wait(self, match: str | Callable[[dict[str, Any]], bool], after: int = 0) -> dict[str, Any]:
        """The first frame from index `after` on of this type (or for which `match` is true)."""
        test = (lambda f: f["type"] == match) if isinstance(match, str) else match
        deadline = time.monotonic() + self.timeout
        seen = after
        while True:
            for frame in self.frames[seen:]:
                if frame["type"] == "error":
                    raise AssertionError(f"the server sent an error: {frame}")
                if test(frame):
                    return frame
            seen = len(self.frames)
            left = deadline - time.monotonic()
            if left <= 0:
                got = [f["type"] for f in self.frames]
                raise TimeoutError(f"no such frame in {self.timeout} s; got {got}")
            self.frames.append(json.loads(self.ws.recv(timeout=left)))

    def close(self) -> None:
        self._exit.close()

    def __enter__(self) -> Chat:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
