"""Spoken clips for the speech tests, synthesised once per session with espeak-ng."""

from __future__ import annotations

import functools
import os

import pytest

from assistant.speech.synth import espeak_available, speak

SENTENCE = "I want to check my invoice for order number five"


def require_espeak() -> None:
    """Skip without espeak-ng, except in CI (CI=true), where the speech tests must run."""
    if espeak_available():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("espeak-ng is missing (apt-get install espeak-ng); CI must run the speech tests")
    pytest.skip("espeak-ng is not installed")


@functools.cache
def clip(fmt: str, text: str = SENTENCE, voice: str = "en-us") -> bytes:
    require_espeak()
    return speak(text, fmt, voice=voice)
