"""`assistant tune` for the chat model (assistant.llm.tuning, assistant.llm.adapters), on a tiny
randomly initialised Llama built here with the packaged model's real tokenizer, over a real
knowledge base."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from assistant.errors import ModelUnavailable
from assistant.llm import adapters
from assistant.llm.base import ChatMessage, ChatRequest
from assistant.llm.local import TransformersChat
from assistant.llm.tune_examples import prepare, split
from assistant.llm.tuning import Interrupted, Trainer, TuneOptions
from assistant.llm.weights import packaged_gguf
from assistant.settings import load_settings
from channels.cli import main
from knowledge.base import KnowledgeBase
from knowledge.records import Record

pytestmark = pytest.mark.model

CONFIG = Path(__file__).parent.parent / "config.toml"
TOPICS = {
    "cancel_order": ("I want to cancel order {n}, it was a mistake",
                     "I can help you cancel order {{Order Number}}. Open Your Orders, choose the order and "
                     "select Cancel."),
    "track_order": ("where is my parcel {n}? it has not arrived",
                    "You can follow your parcel on the Order Tracking page. Enter {{Order Number}} there."),
    "change_address": ("I moved, please change my shipping address {n}",
                       "Go to Account Settings, then Addresses, and save the new shipping address."),
}


def records() -> list[Record]:
    rows = [Record(id=f"{intent}-{n}", request=request.format(n=1000 + n), resolution=resolution,
                   intent=intent)
            for intent, (request, resolution) in TOPICS.items() for n in range(12)]
    return rows + [Record(id=f"guide-{n}", request=f"agent guideline {n}", intent="cancel_order",
                          resolution="Internal: refunds above 100 need a supervisor's approval.",
                          audience="internal") for n in range(3)]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama with random weights and SmolLM2's tokenizer and chat template."""
    import torch
    from transformers import AutoTokenizer, GenerationConfig, LlamaConfig, LlamaForCausalLM

    gguf = packaged_gguf("smollm2-135m")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
                                               pad_token_id=tokenizer.eos_token_id)
    folder = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def kb_dir(data_dir: Path) -> Path:
    from knowledge.config import KnowledgeConfig

    with KnowledgeBase(KnowledgeConfig(), data_dir) as kb:
        kb.add_records(records())
    return data_dir


@pytest.fixture
def tiny_env(tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ASSISTANT_LLM__BACKEND", "transformers")
    monkeypatch.setenv("ASSISTANT_LLM__MODEL", str(tiny_model))
    monkeypatch.setenv("ASSISTANT_TUNE__LEARNING_RATE", "0.05")  # a few steps must change the output
    monkeypatch.setenv("ASSISTANT_TUNE__BATCH_SIZE", "2")
    monkeypatch.setenv("ASSISTANT_TUNE__HOLDOUT", "0.25")
    return tiny_model


def tune(data_dir: Path, *args: str) -> int:
    return main(["--config", str(CONFIG), "--data-dir", str(data_dir), "tune", *args])


def answer(model: Path, data_dir: Path, adapter: str) -> tuple[str, str]:
    """(greedy answer, adapter loaded) of the local backend as the service builds it."""
    chat = TransformersChat(str(model), data_dir, adapter=adapter, max_new_tokens=8)
    request = ChatRequest((ChatMessage("system", "You are a shop assistant."),
                           ChatMessage("user", "where is my parcel 1234?")), max_new_tokens=8)

    async def run() -> str:
        try:
            return "".join([d.text async for d in chat.stream(request)])
        finally:
            await chat.aclose()

    return asyncio.run(run()), chat.adapter


def readiness(data_dir: Path) -> dict:
    """What /readyz reports of the runtime the service builds from config.toml and the env."""
    from assistant.runtime import build_runtime

    async def run() -> dict:
        async with build_runtime(load_settings(CONFIG, data_dir=data_dir)) as rt:
            return rt.readiness()

    return asyncio.run(run())


def test_held_out_records_are_never_trained_on(kb_dir: Path, tiny_env: Path) -> None:
    from transformers import AutoTokenizer

    settings = load_settings(CONFIG, data_dir=kb_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_env)
    with KnowledgeBase(settings.knowledge, kb_dir) as kb:
        stored = kb.records()
        data = prepare(settings, kb, tokenizer, TuneOptions(seed=settings.tune.seed), settings.tune.holdout)
    train, held = split(stored, seed=settings.tune.seed, share=settings.tune.holdout)
    assert data.held_ids == {r.id for r in held} and data.train_ids == {r.id for r in train}
    assert not data.held_ids & data.train_ids
    assert 3 <= len(data.held_ids) <= 16  # a quarter of 36, give or take the seeded draw
    internal = {i for i in data.train_ids | data.held_ids if i.startswith("guide-")}
    assert not internal  # an internal record is never a target
    assert len(data.train) == len(train) and data.skipped == 0
    # The same seed holds out the same records, whatever their order.
    assert split(list(reversed(stored)), seed=settings.tune.seed, share=0.25)[1] == held
    # Each prompt is a live one: the system prompt, the request; the answer alone is learned.
    ids, labels = data.train[0]
    prompt = tokenizer.decode(ids[:labels.index(next(t for t in labels if t != -100))])
    assert "You are the customer-service assistant" in prompt and "<reference" in prompt
    assert "Internal: refunds" not in prompt  # an internal record is never a reference either


def test_an_adapter_is_trained_saved_loaded_and_changes_the_output(
        kb_dir: Path, tiny_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before, loaded = answer(tiny_env, kb_dir, "auto")
    assert loaded == ""  # nothing tuned yet: the model as shipped
    assert tune(kb_dir, "--steps", "3") == 0
    out = capsys.readouterr()
    summary = json.loads(out.out)
    assert summary["steps"] == 3 and summary["base_model"] == str(tiny_env)
    assert summary["held_out_loss_before"] is not None and summary["held_out_loss_after"] is not None
    assert "tune chat: step 1/3" in out.err and "tokens/s" in out.err and "ETA" in out.err
    folder = Path(summary["out"])
    assert folder.parent == adapters.adapters_dir(kb_dir)
    assert json.loads((folder / adapters.MARKER).read_text())["steps"] == 3
    after, loaded = answer(tiny_env, kb_dir, "auto")
    assert loaded == str(folder)
    assert after != before
    assert readiness(kb_dir)["llm_adapter"] == str(folder)  # /readyz says which adapter runs
    assert answer(tiny_env, kb_dir, "none") == (before, "")  # llm.adapter = "none": untuned
    assert tune(kb_dir, "--base") == 0  # back to the untuned model
    assert answer(tiny_env, kb_dir, "auto") == (before, "")


def test_an_interrupted_run_keeps_its_checkpoint_and_resumes(
        kb_dir: Path, tiny_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    settings = load_settings(CONFIG, data_dir=kb_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_env)
    options = TuneOptions(steps=10, batch_size=2, seed=settings.tune.seed)
    with KnowledgeBase(settings.knowledge, kb_dir) as kb:
        data = prepare(settings, kb, tokenizer, options, settings.tune.holdout)
    trainer = Trainer(AutoModelForCausalLM.from_pretrained(tiny_env), data.train, data.held, options,
                      root=adapters.adapters_dir(kb_dir), base_model=str(tiny_env), resume=False)

    def ctrl_c_at_step_2(p: object) -> None:
        if getattr(p, "step", 0) == 2:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted) as stopped:
        trainer.run(progress=ctrl_c_at_step_2)
    assert stopped.value.state.step == 2
    assert tune(kb_dir, "--steps", "4") == 2  # a fresh run would lose it: refused
    assert "error [checkpoint_exists]" in capsys.readouterr().err
    assert tune(kb_dir, "--resume", "--steps", "4") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 4  # two before the interruption, two after
    assert tune(kb_dir, "--steps", "1") == 0  # a finished run's checkpoint may be replaced


def test_a_half_written_adapter_is_never_loaded(tmp_path: Path) -> None:
    root = adapters.adapters_dir(tmp_path)
    done = adapters.publish(root / "20260101-000000", lambda tmp: {"base_model": "m", "created": "2026"})
    (root / "20270101-000000").mkdir()  # newer, but its marker was never written
    other = adapters.publish(root / "20280101-000000", lambda tmp: {"base_model": "other", "created": "2028"})
    assert adapters.choose("auto", tmp_path, "m") == done  # the other one was tuned from another model
    assert adapters.choose("auto", tmp_path, "other") == other
    with pytest.raises(ModelUnavailable, match="not a finished chat adapter"):
        adapters.choose(str(root / "20270101-000000"), tmp_path, "m")
    adapters.use_base(tmp_path, True)
    assert adapters.choose("auto", tmp_path, "m") is None
    assert adapters.choose(str(done), tmp_path, "m") == done  # a folder named in config still loads
