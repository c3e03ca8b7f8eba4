"""`assistant agents`: the accounts human agents sign in to the console with.

Accounts live in the configured conversation store ([store]); passwords are
hashed with argon2id here and never stored or printed. Removing an account, or
resetting its password with `add --replace`, revokes the tokens it signed in
with: a running server refuses them within ACCOUNT_CHECK_SECONDS (5 s,
channels.accounts) with `token_revoked`, and closes the agent's open console.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.settings import Settings

T = TypeVar("T")
MIN_PASSWORD = 8  # characters


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    agents = subparsers.add_parser("agents", parents=[common], help="agent accounts for the console",
                                   description="Add, list and remove the human agents' accounts.")
    sub = agents.add_subparsers(dest="agents_command", metavar="COMMAND", required=True)

    p = sub.add_parser("add", parents=[common], help="create an account (asks for the password)",
                       description="Create an agent account. The password is asked twice on a "
                                   "terminal, or read from one line of stdin with --password-stdin.")
    p.add_argument("name", metavar="NAME", help="login name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--display-name", default="", metavar="TEXT", help="name the customer sees")
    p.add_argument("--inbox", action="extend", nargs="+", default=[], metavar="INBOX",
                   help="inboxes this agent handles (default: default; '*' = every inbox)")
    p.add_argument("--replace", action="store_true",
                   help="replace an existing account (password reset: its old tokens stop working)")
    p.set_defaults(handler=cmd_add)

    p = sub.add_parser("list", parents=[common], help="list the accounts")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("remove", parents=[common], help="delete an account (its tokens stop working)")
    p.add_argument("name", metavar="NAME", help="login name")
    p.set_defaults(handler=cmd_remove)


def with_store(settings: Settings, job: Callable[[Any], Awaitable[T]]) -> T:
    """Run job(store) on the configured store, opened and closed around it."""
    from assistant.store import STORES

    async def run() -> T:
        store = STORES.create(settings.store.backend, settings)
        await store.open()
        try:
            return await job(store)
        finally:
            await store.close()

    return asyncio.run(run())


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise AssistantError("The two passwords differ.", code="password_mismatch")
    else:
        raise AssistantError("stdin is not a terminal: pass --password-stdin and pipe the password.",
                             code="password_required")
    if len(password) < MIN_PASSWORD:
        raise AssistantError(f"A password has at least {MIN_PASSWORD} characters.", code="password_too_short")
    return password


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.store.base import AgentAccount
    from channels.accounts import hash_password

    inboxes = tuple(dict.fromkeys(args.inbox)) or ("default",)
    password = read_password(args.password_stdin)
    account = AgentAccount(name=args.name, password_hash=hash_password(password),
                           display_name=args.display_name, inboxes=inboxes)

    async def add(store: Any) -> bool:
        existed = await store.get_agent(args.name) is not None
        if existed and not args.replace:
            raise AssistantError(f"There is already an agent {args.name!r}; --replace resets it.",
                                 code="agent_exists")
        await store.put_agent(account)
        return existed

    replaced = with_store(settings, add)
    print(f"{'replaced' if replaced else 'added'} agent {args.name} (inboxes: {', '.join(inboxes)})")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    accounts = with_store(settings, lambda store: store.list_agents())
    if args.json:
        for a in accounts:
            print(json.dumps({"name": a.name, "display_name": a.display_name, "inboxes": list(a.inboxes),
                              "created_at": a.created_at}))
        return 0
    if not accounts:
        print("no agents yet: assistant agents add NAME --inbox default")
        return 0
    width = max(len(a.name) for a in accounts)
    for a in accounts:
        created = time.strftime("%Y-%m-%d", time.localtime(a.created_at)) if a.created_at else "-"
        print(f"{a.name:<{width}}  {created}  {','.join(a.inboxes):<20}  {a.display_name}")
    return 0


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    if not with_store(settings, lambda store: store.delete_agent(args.name)):
        raise AssistantError(f"There is no agent {args.name!r}.", code="agent_not_found")
    print(f"removed agent {args.name}")
    return 0
