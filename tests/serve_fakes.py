"""Run the real app under uvicorn (DrainingServer) with FakeDialogue on the real store.

    python tests/serve_fakes.py PORT DATA_DIR

Answers are 40 words, one every 50 ms, so a test can stop the server mid-answer.
ASSISTANT_* variables override the config as usual.
"""

from __future__ import annotations

import sys
from contextlib import asynccontextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from channel_fakes import FakeAuthenticator, FakeRuntimeFactory  # noqa: E402

from assistant.settings import load_settings  # noqa: E402
from channels.app import create_app  # noqa: E402
from channels.serving import serve  # noqa: E402


def main() -> None:
    port, data_dir = int(sys.argv[1]), sys.argv[2]
    settings = load_settings(Path(__file__).parent.parent / "config.toml", data_dir=data_dir)
    inner = FakeRuntimeFactory()

    @asynccontextmanager
    async def slow_runtime(s):  # type: ignore[no-untyped-def]
        async with inner(s) as runtime:
            runtime.dialogue.words = tuple(f"w{i} " for i in range(40))
            runtime.dialogue.delay = 0.05
            yield runtime

    app = create_app(settings, slow_runtime, authenticator=FakeAuthenticator())
    serve(app, settings, host="127.0.0.1", port=port)


if __name__ == "__main__":
    main()
