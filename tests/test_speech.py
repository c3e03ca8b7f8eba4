"""Transcribing real speech with the packaged Whisper weights, and the service around it."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from speech_clips import clip

from assistant.errors import AudioError
from assistant.speech.base import Transcript
from assistant.speech.faster import FasterWhisperTranscriber
from assistant.speech.openai_whisper import OpenAIWhisperTranscriber
from assistant.speech.options import WhisperOptions
from assistant.speech.service import SpeechService
from assistant.speech.synth import speak, tone

JFK = Path(__file__).parent / "data" / "audio" / "jfk.flac"
JFK_WORDS = "ask not what your country can do for you ask what you can do for your country"


def words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data_dir for the module: the packaged weights are joined (and exported) once."""
    return tmp_path_factory.mktemp("speech-data")


@pytest.fixture(scope="module")
def faster(model_dir: Path) -> FasterWhisperTranscriber:
    return FasterWhisperTranscriber(WhisperOptions(model="base"), model_dir)


@pytest.mark.model
def test_jfk_is_transcribed_with_language_and_duration(faster: FasterWhisperTranscriber) -> None:
    transcript = faster.transcribe(JFK.read_bytes())
    assert JFK_WORDS in words(transcript.text)
    assert transcript.language == "en"
    assert transcript.language_probability is not None and transcript.language_probability > 0.5
    assert transcript.duration == pytest.approx(11.0, abs=0.1)
    assert transcript.segments and transcript.segments[-1].end == pytest.approx(11.0, abs=0.5)


@pytest.mark.model
@pytest.mark.parametrize("fmt", ["webm", "ogg", "m4a", "mp3"])
def test_a_voice_note_from_the_browser_or_a_phone(faster: FasterWhisperTranscriber, fmt: str) -> None:
    transcript = faster.transcribe(clip(fmt), language="en")
    assert "check my invoice" in words(transcript.text)
    assert "order number" in words(transcript.text)


@pytest.mark.model
def test_the_customers_language_is_detected_and_passed_on(faster: FasterWhisperTranscriber) -> None:
    german = clip("ogg", "Ich möchte meine Rechnung für die Bestellung sehen", voice="de")
    transcript = faster.transcribe(german)
    assert transcript.language == "de"
    assert "rechnung" in words(transcript.text)


@pytest.mark.model
def test_detection_chooses_among_the_languages_customers_speak(model_dir: Path) -> None:
    """One word in a Caribbean English voice: among all 99 languages Whisper hears French;
    among the configured ones (speech.languages) it hears English."""
    operator = speak("operator", "ogg", voice="en-029", speed=165)
    anything = FasterWhisperTranscriber(WhisperOptions(model="base"), model_dir).transcribe(operator)
    served = FasterWhisperTranscriber(WhisperOptions(model="base", languages=("en", "es", "de")), model_dir)
    heard = served.transcribe(operator)
    assert anything.language != "en"
    assert heard.language == "en" and heard.text  # the words: Whisper base still mishears this one


@pytest.mark.model
def test_a_forced_language_is_kept(faster: FasterWhisperTranscriber) -> None:
    transcript = faster.transcribe(clip("webm"), language="en")
    assert transcript.language == "en" and transcript.language_probability is None


@pytest.mark.model
def test_vocabulary_fixes_check_in_voice(model_dir: Path) -> None:
    """Primed with the domain words, Whisper hears "check invoice". Unprimed it heard
    "check in voice" (greedy) on one machine and "check invoice" on another (int8 kernels
    differ by CPU), and "take in rice" with the default beam of 5, so only the primed result
    is pinned; benchmarks/speech.py measures the gain."""
    note = clip("webm", "please check invoice")
    primed = FasterWhisperTranscriber(WhisperOptions(language="en", vocabulary=("invoice", "refund")),
                                      model_dir)
    assert words(primed.transcribe(note).text).endswith("check invoice")
    greedy = FasterWhisperTranscriber(WhisperOptions(language="en", vocabulary=("invoice", "refund"),
                                                     beam_size=1), model_dir)
    assert words(greedy.transcribe(note).text).endswith("check invoice")


@pytest.mark.model
def test_bad_audio_keeps_its_code_through_the_backend(faster: FasterWhisperTranscriber) -> None:
    with pytest.raises(AudioError) as caught:
        faster.transcribe(tone(2.0))
    assert caught.value.code == "audio_silent"


@pytest.mark.model
def test_openai_whisper_from_the_exported_checkpoint_hears_the_same(
        model_dir: Path, faster: FasterWhisperTranscriber) -> None:
    reference = OpenAIWhisperTranscriber(WhisperOptions(model="base", language="en"), model_dir)
    transcript = reference.transcribe(JFK.read_bytes())
    assert Path(reference.checkpoint()) == model_dir / "models" / "whisper-base-openai.pt"
    assert words(transcript.text) == words(faster.transcribe(JFK.read_bytes(), language="en").text)
    assert transcript.language == "en" and transcript.duration == pytest.approx(11.0, abs=0.1)


@pytest.mark.model
async def test_the_event_loop_keeps_ticking_while_whisper_works(faster: FasterWhisperTranscriber) -> None:
    service = SpeechService(faster, concurrency=1)
    await service.warm_up()
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    transcript = await service.transcribe(JFK.read_bytes())
    done.set()
    await ticking
    service.close()
    assert JFK_WORDS in words(transcript.text)
    assert ticks >= 10  # a blocked loop would have ticked once


class FakeTranscriber:
    """Blocks until released, and counts how many run at once."""

    name = "fake"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.running = 0
        self.most = 0
        self.prompts: list[str | None] = []
        self._lock = threading.Lock()

    def transcribe(self, audio: bytes, *, language: str | None = None,
                   prompt: str | None = None) -> Transcript:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.prompts.append(prompt)
        self.release.wait(10)
        with self._lock:
            self.running -= 1
        return Transcript(audio.decode(), language or "en", 1.0)


@pytest.mark.parametrize("concurrency", [1, 2])
async def test_at_most_concurrency_transcriptions_run_at_once(concurrency: int) -> None:
    fake = FakeTranscriber()
    service = SpeechService(fake, concurrency=concurrency)
    jobs = [asyncio.create_task(service.transcribe(f"note {i}".encode())) for i in range(4)]
    while fake.running < concurrency:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # room for a wrongly admitted extra one to start
    assert fake.running == concurrency
    fake.release.set()
    results = await asyncio.gather(*jobs)
    service.close()
    assert [r.text for r in results] == [f"note {i}" for i in range(4)]
    assert fake.most == concurrency


async def test_a_transcription_past_the_time_limit_ends_the_turn_with_a_code() -> None:
    """Whisper cannot be stopped mid-way: the turn ends at the limit, the work finishes behind it,
    and the next note waits for it (the pool keeps the concurrency bound)."""
    from assistant.errors import AudioError

    fake = FakeTranscriber()  # holds every note until released
    service = SpeechService(fake, timeout=0.3)
    started = asyncio.get_running_loop().time()
    with pytest.raises(AudioError) as slow:
        await service.transcribe(b"a long note")
    assert slow.value.code == "audio_timeout" and asyncio.get_running_loop().time() - started < 1.0
    assert "Whisper" not in slow.value.message
    nxt = asyncio.create_task(service.transcribe(b"next"))
    await asyncio.sleep(0.1)
    assert fake.running == 1 and not nxt.done()  # still behind the abandoned one
    fake.release.set()
    assert (await nxt).text == "next"
    service.close()


async def test_the_callers_vocabulary_reaches_whisper_as_a_prompt() -> None:
    fake = FakeTranscriber()
    fake.release.set()
    service = SpeechService(fake)
    await service.transcribe(b"x", vocabulary=["ORD-1234", "invoice"], language="de")
    service.close()
    assert fake.prompts == ["ORD-1234, invoice."]


def test_from_settings_picks_the_configured_backend(settings) -> None:
    service = SpeechService.from_settings(settings)
    assert isinstance(service.transcriber, FasterWhisperTranscriber)
    assert service.transcriber.options.limits.max_bytes == settings.speech.max_bytes
    other = settings.model_copy(update={"speech": settings.speech.model_copy(
        update={"backend": "openai-whisper", "concurrency": 3})})
    service = SpeechService.from_settings(other)
    assert isinstance(service.transcriber, OpenAIWhisperTranscriber) and service.concurrency == 3


def test_a_short_clips_window_is_trimmed_to_its_sound_plus_a_margin() -> None:
    from assistant.speech.faster import MIN_WINDOW, TRIM_MARGIN, _trimmed

    window = np.zeros((80, 3000), dtype=np.float32)
    window[:, :300] = -0.7  # 3 s of audio, then pad_or_trim's zeros
    assert _trimmed(window).shape == (80, MIN_WINDOW)
    window[:, :1500] = -0.7
    assert _trimmed(window).shape == (80, 1500 + TRIM_MARGIN)
    window[:, :] = -0.7  # a full window of a long note: nothing to cut
    assert _trimmed(window).shape == (80, 3000)


def test_a_repetition_loop_is_recognised() -> None:
    from assistant.speech.base import Segment
    from assistant.speech.faster import _runaway

    loop = (Segment(0.0, 1.3, "Please check invoice. " * 40),)
    assert _runaway(loop, 1.3)
    assert not _runaway((Segment(0.0, 11.0, "ask not what your country can do for you " * 3),), 11.0)


@pytest.mark.model
def test_the_trimmed_window_hears_what_the_full_window_hears(model_dir: Path) -> None:
    full = FasterWhisperTranscriber(WhisperOptions(language="en", trim_window=False), model_dir)
    trimmed = FasterWhisperTranscriber(WhisperOptions(language="en", trim_window=True), model_dir)
    for note in (JFK.read_bytes(), clip("webm")):
        assert words(trimmed.transcribe(note).text) == words(full.transcribe(note).text)


async def test_the_services_vocabulary_follows_the_callers() -> None:
    fake = FakeTranscriber()
    fake.release.set()
    service = SpeechService(fake, vocabulary=["invoice", "refund"])
    await service.transcribe(b"x", vocabulary=["ORD-1234"])
    service.close()
    assert fake.prompts == ["ORD-1234, invoice, refund."]


async def test_a_vocabulary_source_is_read_once_before_the_first_note() -> None:
    fake = FakeTranscriber()
    fake.release.set()
    calls: list[int] = []

    def from_the_knowledge_base() -> list[str]:
        calls.append(1)
        return ["invoice", "refund"]

    service = SpeechService(fake, vocabulary=["ORD-1234"], vocabulary_source=from_the_knowledge_base)
    assert calls == []  # nothing read at start-up
    await service.transcribe(b"x")
    await service.transcribe(b"y")
    service.close()
    assert calls == [1]
    assert fake.prompts == ["ORD-1234, invoice, refund."] * 2


async def test_a_failing_vocabulary_source_does_not_stop_transcription() -> None:
    fake = FakeTranscriber()
    fake.release.set()

    def broken() -> list[str]:
        raise RuntimeError("collection is empty")

    service = SpeechService(fake, vocabulary=["invoice"], vocabulary_source=broken)
    transcript = await service.transcribe(b"x")
    service.close()
    assert transcript.text and fake.prompts == ["invoice."]
