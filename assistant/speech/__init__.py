"""Speech to text behind one interface (`Transcriber.transcribe`)."""

from assistant.registry import Registry

# config speech.backend -> implementation
TRANSCRIBERS = Registry("speech backend", {
    "faster-whisper": "assistant.speech.faster:FasterWhisperTranscriber.from_settings",
    "openai-whisper": "assistant.speech.openai_whisper:OpenAIWhisperTranscriber.from_settings",
})
