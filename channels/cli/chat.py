"""`assistant chat`: talk to a running server from the terminal, answers streaming in.

Lines are messages; `/image PATH` and `/voice PATH` upload a file and send it,
`/human` asks for a person, `/new` starts over, `/quit` leaves. The conversation
is kept in <data_dir>/chat-session.json, so the next `assistant chat` resumes
it and shows what was said meanwhile. With stdin not a terminal (a script),
each line waits for the reply to the previous one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.settings import Settings
    from channels.client import ChatClient

SESSION_FILE = "chat-session.json"
REPLY_TIMEOUT = 300.0  # seconds a scripted line waits for its reply
HELP = "commands: /image PATH, /voice PATH, /human, /new, /quit"


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("chat", parents=[common], help="chat with a running server from the terminal",
                              description=f"A terminal client of /ws/chat. {HELP}.")
    p.add_argument("--url", default=None, metavar="URL",
                   help="websocket URL (default: ws://<server.host>:<server.port>/ws/chat)")
    p.add_argument("--new", action="store_true", help="start a new conversation instead of resuming")
    p.add_argument("--inbox", default=None, metavar="INBOX", help="inbox of a new conversation")
    p.set_defaults(handler=cmd_chat)


def default_url(settings: Settings) -> str:
    host = settings.server.host if settings.server.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    return f"ws://{host}:{settings.server.port}/ws/chat"


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    url = args.url or default_url(settings)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per upload would break the chat
    session = Session(settings.data_dir / SESSION_FILE, url)
    from websockets.exceptions import WebSocketException

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(Chat(session, inbox=args.inbox).run(fresh=args.new))
    except (OSError, TimeoutError, WebSocketException) as exc:
        raise AssistantError(f"Cannot talk to {url}: {exc}. Is `assistant serve` running?",
                             code="server_unreachable") from None
    return 0


class Session:
    """The saved conversation of one server URL."""

    def __init__(self, path: Path, url: str) -> None:
        self.path, self.url = path, url

    def load(self) -> dict[str, Any]:
        try:
            saved = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return saved if isinstance(saved, dict) and saved.get("url") == self.url else {}

    def save(self, chat: ChatClient) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"url": self.url, "conversation_id": chat.conversation_id,
                                   "resume_token": chat.resume_token, "last_seq": chat.last_seq}))
        tmp.replace(self.path)

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)


class Chat:
    def __init__(self, session: Session, *, inbox: str | None = None, out: TextIO | None = None) -> None:
        self.session = session
        self.inbox = inbox
        self.out = out or sys.stdout
        self.replied = asyncio.Event()  # the last thing sent got its answer (or an error, or a person)
        self.mine: set[str] = set()  # client_msg_ids sent from here
        self.caught_up = asyncio.Event()  # the log up to `ready.last_seq` has been shown
        self.scripted = not sys.stdin.isatty()

    async def run(self, fresh: bool = False) -> None:
        chat = await self.open(fresh)
        printer = asyncio.create_task(self.show(chat))
        # Show what was said while this terminal was away before taking input.
        waiter = asyncio.create_task(self.caught_up.wait())
        await asyncio.wait({printer, waiter}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        try:
            while True:
                line = await asyncio.to_thread(sys.stdin.readline)
                if not line:
                    break
                if line.strip() == "/new":
                    printer.cancel()
                    chat = await self.restart(chat)
                    printer = asyncio.create_task(self.show(chat))
                    continue
                if not await self.command(chat, line.strip()):
                    break
                if self.scripted and not self.replied.is_set():
                    await asyncio.wait_for(self.replied.wait(), REPLY_TIMEOUT)
        finally:
            printer.cancel()
            self.session.save(chat)
            await chat.close()

    async def open(self, fresh: bool) -> ChatClient:
        from channels.client import ClientError, connect

        saved = {} if fresh else self.session.load()
        if saved.get("conversation_id"):
            try:
                chat = await connect(self.session.url, conversation_id=saved["conversation_id"],
                                     resume_token=saved.get("resume_token"),
                                     last_seq=saved.get("last_seq", 0))
                self.say(f"[resumed conversation {chat.conversation_id}; {HELP}]")
                return chat
            except ClientError as exc:
                if exc.code not in ("forbidden", "conversation_not_found"):
                    raise
                self.say(f"[could not resume ({exc.code}); starting a new conversation]")
        chat = await connect(self.session.url, inbox=self.inbox)
        self.session.save(chat)
        self.say(f"[new conversation {chat.conversation_id}; {HELP}]")
        return chat

    async def command(self, chat: ChatClient, line: str) -> bool:
        """Act on one input line; False to quit."""
        from channels.client import ClientError

        word, _, rest = line.partition(" ")
        try:
            if not line:
                return True
            if word == "/quit":
                return False
            self.replied.clear()
            if word in ("/image", "/voice"):
                path = Path(rest.strip()).expanduser()
                if not rest.strip() or not path.is_file():
                    raise AssistantError(f"usage: {word} PATH (of an existing file)", code="file_not_found")
                self.mine.add(await chat.send_file(path))
            elif word == "/human":
                if chat.state in ("waiting_human", "human"):
                    self.say("[a person is already on the way]" if chat.state == "waiting_human"
                             else "[you are talking with a person]")
                    self.replied.set()
                else:
                    await chat.handoff()
            elif word.startswith("/"):
                self.say(HELP)
                self.replied.set()
            else:
                self.mine.add(await chat.send(line))
        except (ClientError, AssistantError) as exc:
            self.say(f"error [{exc.code}]: {exc.message}")
            self.replied.set()
        return True

    async def restart(self, chat: ChatClient) -> ChatClient:
        from channels.client import connect

        await chat.close()
        fresh = await connect(self.session.url, inbox=self.inbox)
        self.session.save(fresh)
        self.say(f"[new conversation {fresh.conversation_id}]")
        return fresh

    async def show(self, chat: ChatClient) -> None:
        from channels.client import ClientError

        target = chat.ready.last_seq if chat.ready else 0
        try:
            if chat.last_seq >= target:
                self.caught_up.set()
            async for frame in chat.frames():
                self.render(frame, chat)
                if chat.last_seq >= target:
                    self.caught_up.set()
        except ClientError as exc:
            self.say(f"error [{exc.code}]: {exc.message}")
        self.replied.set()

    def render(self, frame: Any, chat: ChatClient) -> None:
        from channels.cli.chat_render import describe

        text, done = describe(frame, self.mine)
        if getattr(frame, "client_msg_id", "") in self.mine and chat.state in ("human", "waiting_human"):
            done = True  # a person answers when they answer: the message arriving is enough
        if text is not None:
            self.out.write(text)
            self.out.flush()
        if getattr(frame, "seq", 0) and frame.type != "delta":
            self.session.save(chat)
        if done:
            self.replied.set()

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()
