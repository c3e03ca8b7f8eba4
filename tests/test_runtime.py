"""The runtime: everything built from Settings, and the extractive fallback when no model loads."""

from __future__ import annotations

from pathlib import Path

from assistant.events import UserMessage
from assistant.runtime import build_runtime


def with_llm(settings, **llm):
    return settings.model_copy(update={"llm": settings.llm.model_copy(update=llm)})


async def test_a_model_that_cannot_load_falls_back_to_extractive(settings, tmp_path: Path, caplog) -> None:
    broken = with_llm(settings, backend="transformers", model=str(tmp_path / "no-such-model"))
    async with build_runtime(broken) as rt:
        assert rt.llm.name == "extractive" and rt.fallback_reason
        ready = rt.readiness()
        assert all(ready.values()) and "fallback" in ready["llm"]
        conv = await rt.dialogue.new_conversation()
        hello = UserMessage(conversation_id=conv.id, text="hello there")
        events = [e async for e in rt.dialogue.handle(hello)]
        assert events[-1].type == "answer"  # still answers (from an empty knowledge base)
    assert "extractive" in caplog.text


async def test_runtime_builds_the_configured_parts(settings) -> None:
    async with build_runtime(with_llm(settings, backend="extractive")) as rt:
        ready = rt.readiness()
        assert ready["llm"] == "extractive" and ready["vision"] == "ocr" and ready["store"] == "SQLiteStore"
        assert rt.dialogue.store is rt.store
        # the search reads what customers call the intents (knowledge.intents)
        assert rt.knowledge.retriever.intent_labels == settings.dialogue.intent_labels
    assert (settings.data_dir / "conversations.db").exists()


async def test_voice_notes_are_primed_with_the_knowledge_bases_words(settings) -> None:
    demo = Path(__file__).parent.parent / "demo" / "abcd" / "guidelines.json"
    async with build_runtime(with_llm(settings, backend="extractive")) as rt:
        rt.knowledge.ingest([demo])
        await rt.speech._load_vocabulary()  # what the first voice note does
        words = {w.lower() for w in rt.speech.vocabulary}
    assert len(words) >= 10 and {"billing", "cart"} <= words


async def test_a_warm_runtime_has_loaded_the_knowledge_base_and_settled_the_heap(settings) -> None:
    import gc

    demo = Path(__file__).parent.parent / "demo" / "abcd" / "guidelines.json"
    async with build_runtime(with_llm(settings, backend="extractive")) as rt:
        rt.knowledge.ingest([demo])
    gc.unfreeze()
    try:
        async with build_runtime(with_llm(settings, backend="extractive")) as cold:
            assert not cold.knowledge.embedder.loaded  # loads on the first question
            assert gc.get_freeze_count() == 0
        async with build_runtime(with_llm(settings, backend="extractive"), warm=True) as warm:
            # the server's runtime: the model and Chroma are loaded before /readyz says ready,
            # and the objects of loading are out of the collector's sight
            assert warm.knowledge.embedder.loaded and warm.knowledge._store is not None
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()


async def test_warming_an_empty_knowledge_base_does_not_stop_the_server(settings) -> None:
    async with build_runtime(with_llm(settings, backend="extractive"), warm=True) as rt:
        assert rt.readiness()["knowledge"]


async def test_a_generating_backend_answers_through_the_grounding_guard(settings) -> None:
    from assistant.guard import GroundedBackend

    async with build_runtime(with_llm(settings, backend="fixed")) as rt:
        assert isinstance(rt.llm, GroundedBackend) and rt.llm.name == "fixed"
    off = settings.model_copy(update={"dialogue": settings.dialogue.model_copy(update={"grounding": "off"})})
    async with build_runtime(with_llm(off, backend="fixed")) as rt:
        assert not isinstance(rt.llm, GroundedBackend)
    async with build_runtime(with_llm(settings, backend="extractive")) as rt:  # says only what records say
        assert not isinstance(rt.llm, GroundedBackend)
