"""Chat model backends behind one interface (`LLMBackend.stream`)."""

from assistant.registry import Registry

# config llm.backend -> implementation
LLM_BACKENDS = Registry("llm backend", {
    "transformers": "assistant.llm.local:TransformersChat.from_settings",
    "vlm": "assistant.llm.vlm:TransformersVLM.from_settings",
    "openai": "assistant.llm.openai_http:OpenAIChat.from_settings",
    "extractive": "assistant.llm.extractive:ExtractiveBackend.from_settings",
    "fixed": "assistant.llm.fake:FixedLLM.from_settings",  # load tests: a fixed answer, no model
})
