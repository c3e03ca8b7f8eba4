"""`assistant ask` (one turn through the whole pipeline) and `assistant eval` (many turns, scored).

No server is involved: the CLI builds the same runtime the server does, puts
files into the conversation store as attachments, and prints the turn's events.
Exit codes: 0 all good, 1 a turn ended in an error (ask) or a case failed (eval),
2 a fatal error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.evaluation import CaseResult
    from assistant.events import Event
    from assistant.settings import Settings


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("ask", parents=[common], help="ask one question (text, image, voice note)",
                              description="Run one customer turn through the full pipeline, no server.")
    p.add_argument("text", metavar="TEXT", help='what the customer writes ("" for only an image or audio)')
    p.add_argument("--image", action="append", default=[], type=Path, metavar="FILE",
                   help="attach an image (repeatable)")
    p.add_argument("--audio", type=Path, default=None, metavar="FILE", help="attach a voice note")
    p.add_argument("--conversation", default=None, metavar="ID", help="continue this stored conversation")
    p.add_argument("--json", action="store_true", help="one JSON object per event, one a line")
    p.set_defaults(handler=cmd_ask)

    p = subparsers.add_parser("eval", parents=[common], help="run and score many turns from a JSONL file",
                              description="Each line: {id, text?, image?, audio?, expect: {intent?, "
                                          "route?}} (route: answer, handoff or unsure); paths are relative "
                                          "to the file. Models load once. Answers are scored too: grounded, "
                                          "invented, cut_off, looping, on_topic, language_match.")
    p.add_argument("cases", type=Path, metavar="CASES.jsonl")
    p.add_argument("--json", action="store_true", help="one JSON line per case, then a summary line")
    p.add_argument("--retrieve-only", action="store_true",
                   help="stop each turn after routing and retrieval (no generation)")
    p.set_defaults(handler=cmd_eval)


# -- ask ---------------------------------------------------------------------------------


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    for path in [*args.image, *([args.audio] if args.audio else [])]:
        if not path.is_file():
            raise _input_error(f"no such file: {path}")
    if not args.text.strip() and not args.image and not args.audio:
        raise _input_error("give TEXT, --image or --audio")
    return asyncio.run(_ask(args, settings))


async def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.evaluation import attach
    from assistant.events import UserMessage
    from assistant.runtime import build_runtime

    failed = False
    async with build_runtime(settings) as rt:
        if not args.json and rt.fallback_reason:
            print(f"(answering with the extractive backend: {rt.fallback_reason})", file=sys.stderr)
        cid = args.conversation or (await rt.dialogue.new_conversation(inbox="cli")).id
        await rt.store.get(cid)  # an unknown --conversation fails here, before uploading
        files = [*args.image, *([args.audio] if args.audio else [])]
        attachments = tuple([await attach(rt.store, cid, path) for path in files])
        message = UserMessage(conversation_id=cid, text=args.text, attachments=attachments)
        async for event in rt.dialogue.handle(message):
            failed |= event.type == "error"
            if args.json:
                print(json.dumps({**event.to_wire(), "conversation_id": cid}, ensure_ascii=False), flush=True)
            else:
                _print_event(event)
        if not args.json:
            print(f"\n(conversation {cid}: continue with --conversation {cid})", file=sys.stderr)
    return 1 if failed else 0


def _print_event(event: Event) -> None:
    wire: dict[str, Any] = event.to_wire()
    kind = wire["type"]
    if kind == "transcript":
        print(f"(voice note, {wire['language'] or '?'}) {wire['text']}")
    elif kind == "image_text":
        text = " / ".join(line for line in wire["text"].splitlines() if line.strip())
        print(f"(image, {wire['method']}) {text[:300] or '(no text found)'}")
    elif kind == "delta":
        sys.stdout.write(wire["text"])
        sys.stdout.flush()
    elif kind == "answer":
        print(" [interrupted]" if wire["interrupted"] else "")
        if wire["options"]:  # a clarifying question: in a conversation the next message chooses
            print("  (asks which: " + " | ".join(o["label"] for o in wire["options"]) + ")")
        elif not wire["grounded"]:
            print("  (unsure: the history holds no answer to this)")
        for i, s in enumerate(wire["sources"], 1):
            print(f"  [{i}] {s['id']}  {s['intent'] or '-'}  {s['category'] or '-'}  score {s['score']:.3f}")
    elif kind == "status":
        print(f"[conversation is now {wire['state']}: {wire['reason']}]")
    elif kind == "suggestion":
        print(f"(draft for the agent) {wire['text']}")
    elif kind == "error":
        print(f"error [{wire['code']}]: {wire['message']}", file=sys.stderr)


# -- eval --------------------------------------------------------------------------------


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.evaluation import load_cases

    if not args.cases.is_file():
        raise _input_error(f"no such file: {args.cases}")
    cases = load_cases(args.cases)
    return asyncio.run(_eval(args, settings, cases))


async def _eval(args: argparse.Namespace, settings: Settings, cases: list) -> int:
    from assistant.evaluation import TopicJudge, run_case, summarize
    from assistant.runtime import build_runtime

    results: list[CaseResult] = []
    with tempfile.TemporaryDirectory(prefix="assistant-eval-") as tmp:
        # Eval conversations go to a throw-away store, not the service's.
        store = settings.store.model_copy(update={"backend": "sqlite", "url": str(Path(tmp) / "eval.db")})
        settings = settings.model_copy(update={"store": store})
        async with build_runtime(settings, load_llm=not args.retrieve_only) as rt:
            judge = None if args.retrieve_only else TopicJudge(rt.knowledge)
            if not args.json:
                print(f"{'id':<18} {'route':<8} {'expected':<9} {'top intent':<26} {'ok':<3} {'ms':>7}")
            for case in cases:
                result = await run_case(rt.dialogue, rt.store, case, retrieve_only=args.retrieve_only,
                                        judge=judge)
                results.append(result)
                if args.json:
                    print(json.dumps(result.to_json(), ensure_ascii=False), flush=True)
                else:
                    _print_row(case.expect_route or case.expect_intent, result)
    summary = summarize(cases, results)
    if args.json:
        print(json.dumps({"summary": summary}))
    else:
        print()
        for key, value in summary.items():
            print(f"{key:<20} {'-' if value is None else value}")
    return 0 if summary["ok"] == summary["cases"] else 1


def _print_row(expected: str, r: CaseResult) -> None:
    flags = "" if r.check is None else " ".join(
        name for name, bad in (("ungrounded", not r.check.grounded), ("invented", r.check.invented),
                               ("cut-off", r.check.cut_off), ("looping", r.check.looping),
                               ("off-topic", r.on_topic is False)) if bad)
    print(f"{r.id[:18]:<18} {r.route:<8} {expected[:9]:<9} {r.top_intent[:26]:<26} "
          f"{'yes' if r.ok else 'NO':<3} {r.timings.get('total', 0):>7.0f} {flags}".rstrip(), flush=True)


def _input_error(message: str) -> Exception:
    from assistant.errors import InputError

    return InputError(message, code="bad_input")
