"""One typed Settings object, read from config.toml and ASSISTANT_* variables.

Precedence, strongest first: values passed in code (the CLI's --data-dir etc.),
ASSISTANT_* environment variables (nested keys with "__": ASSISTANT_LLM__BACKEND),
the TOML file (--config PATH, $ASSISTANT_CONFIG, or ./config.toml), the defaults
below. Unknown keys and bad values fail at start-up, naming the key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from assistant.errors import ConfigError
from knowledge.config import KnowledgeConfig


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpenAIConfig(_Options):
    base_url: str = "http://127.0.0.1:8000/v1"  # vLLM, Ollama (…:11434/v1), llama.cpp server, a hosted API
    api_key: str = ""  # sent as a Bearer token when set
    model: str = ""  # model name the server knows
    timeout: float = Field(60.0, gt=0)  # seconds to connect and between streamed chunks


class LLMConfig(_Options):
    # extractive: the best record's resolution composed for the customer (the default: nothing is
    # generated, so nothing is invented) | transformers | vlm | openai
    backend: str = "extractive"
    model: str = "packaged:smollm2-135m"  # packaged:smollm2-135m, a hub id, or a local folder
    max_new_tokens: int = Field(200, ge=1)  # longest answer, in tokens
    temperature: float = Field(0.0, ge=0)  # 0 = greedy (reproducible)
    repetition_penalty: float = Field(1.1, ge=1.0)  # local models: >1 keeps small models out of loops
    context_tokens: int = Field(2048, ge=256)  # prompt budget: history is trimmed to fit
    threads: int = Field(2, ge=1)  # torch intra-op threads for local models
    queue_size: int = Field(32, ge=1)  # requests waiting for the local model; more are refused
    concurrency: int = Field(1, ge=1)  # generations running at once on the local model
    prefill_dtype: Literal["auto", "float32", "bfloat16"] = "auto"  # auto: bfloat16 if the CPU has AMX
    # The LoRA adapter of `assistant tune` the local model runs with: auto (the newest one tuned
    # from llm.model under data_dir, unless `assistant tune --base`), none, or an adapter folder.
    adapter: str = "auto"
    openai: OpenAIConfig = OpenAIConfig()


class VisionConfig(_Options):
    backend: str = "ocr"  # ocr (tesseract) | transformers (a vision-language model) | none
    model: str = ""  # hub id or folder of an image-text-to-text model (backend = transformers)
    max_bytes: int = Field(10_000_000, ge=1)  # largest accepted image file
    max_pixels: int = Field(40_000_000, ge=1)  # width * height; larger images are refused
    ocr_lang: str = "eng"  # tesseract language(s), e.g. "eng+deu"
    ocr_timeout: float = Field(20.0, gt=0)  # seconds an image may take; then image_too_complex
    ocr_max_pixels: int = Field(8_000_000, ge=10_000)  # larger images are read scaled down to this
    ocr_concurrency: int = Field(1, ge=1)  # images read at once; the others wait in order


class SpeechConfig(_Options):
    backend: str = "faster-whisper"  # faster-whisper | openai-whisper
    model: str = "base"  # base | tiny.en | small (packaged), a hub name, or a folder/checkpoint
    language: str = ""  # "" detects; or force one, e.g. "en"
    # Detection chooses among the languages customers speak: a synthetic or accented English voice
    # was heard as Latin, Arabic or French when any of Whisper's 99 could win. [] = any.
    languages: list[str] = ["en", "es", "fr", "de", "it", "pt", "nl"]
    beam_size: int = Field(5, ge=1)  # 1 = greedy: about a fifth faster, more mishearings
    threads: int = Field(2, ge=1)  # CPU threads per transcription
    concurrency: int = Field(1, ge=1)  # transcriptions running at once
    max_bytes: int = Field(20_000_000, ge=1)  # largest accepted audio upload
    max_seconds: float = Field(120.0, gt=0)  # longest accepted voice note
    timeout: float = Field(60.0, gt=0)  # seconds a transcription may take; then audio_timeout
    vocabulary: list[str] = []  # words Whisper should expect (products, "invoice", …)
    vad_filter: bool = False  # drop non-speech first (Silero VAD): fewer invented words on noise
    timestamps: bool = False  # per-phrase segment times; off decodes faster (one segment a 30 s)
    trim_window: bool = True  # encode clips under 30 s without most of the padding: ~5x faster


# The demo history's intents (Bitext's 27), as customers read them (the clarifying question, the
# answers' sources) and as the search reads them (knowledge.intents); a company with other
# intents sets its own in config.toml ([dialogue.intent_labels]).
DEMO_INTENT_LABELS = {
    "cancel_order": "cancelling an order",
    "change_order": "changing an order",
    "change_shipping_address": "changing a delivery address",
    "check_cancellation_fee": "the fee for cancelling",
    "check_invoice": "finding an invoice",
    "check_payment_methods": "the ways you can pay",
    "check_refund_policy": "our refund policy",
    "complaint": "making a complaint",
    "contact_customer_service": "contacting customer service",
    "contact_human_agent": "talking to a person",
    "create_account": "opening an account",
    "delete_account": "closing your account",
    "delivery_options": "delivery options",
    "delivery_period": "how long delivery takes",
    "edit_account": "changing your account details",
    "get_invoice": "getting an invoice",
    "get_refund": "asking for a refund",
    "newsletter_subscription": "the newsletter",
    "payment_issue": "a problem with a payment",
    "place_order": "placing an order",
    "recover_password": "a forgotten password",
    "registration_problems": "a problem signing up",
    "review": "leaving a review",
    "set_up_shipping_address": "adding a delivery address",
    "switch_account": "switching account type",
    "track_order": "where your order is",
    "track_refund": "where your refund is",
    # the demo's ABCD conversations, whose intents are their subflows
    "refund_status": "the status of a refund",
    "return_size": "returning an item that doesn't fit",
    "timing_4": "when a promo code expires",
}
# The ways the demo history's customers say its intents (assistant/data/README.md: written from the
# intents' one-line definitions only, by a hand that read none of the evaluation sets).
DEMO_INTENT_EXAMPLES: dict[str, list[str]] = json.loads(
    (Path(__file__).parent / "data" / "demo_intent_examples.json").read_text(encoding="utf-8"))


_TEMPLATE_FIELDS = {"clarify_answer": "options", "no_contact_answer": "contact"}  # the placeholder each holds


class DialogueConfig(_Options):
    system_prompt: str = (
        "You are the customer-service assistant of {company}. Answer the customer's "
        "question briefly and politely, using only the reference records. If they do "
        "not answer it, say so and offer to connect the customer with a person."
    )
    retrieve_k: int = Field(4, ge=1)  # records put in the prompt
    # A composed answer (a backend that reads no prompt) whose best record only asks for details or
    # only acknowledges may choose among this many records of that record's intent (0 = off).
    compose_k: int = Field(50, ge=0)
    reference_tokens: int = Field(300, ge=0)  # reference tokens in the prompt (best record kept; 0 = no cap)
    # Below this similarity the history has no answer: the assistant says so (route "unsure"),
    # and after low_confidence_turns such turns in a row hands over to a person.
    min_score: float = Field(0.55, ge=0, le=1)
    # The two best records of different intents this close (and neither at min_score + 0.1): unsure
    # too. 0 = off: on the dev set it added only false alarms (docs/grounding.md).
    unsure_margin: float = Field(0.0, ge=0, le=1)
    unsure_answer: str = ("I'm sorry, I don't have information on that in our records. "
                          "Shall I connect you with a person?")
    # What a customer who answers that offer with "no thanks" reads (a "yes" hands over).
    declined_answer: str = "All right. Is there anything else I can help you with?"
    # What a customer reads whose message is nearest to the history's requests for a person
    # (handoff_intents) when the classifier did not read it as one: a question, not a handoff.
    offer_answer: str = "Would you like me to connect you with a person?"
    # What a customer reads who asks for the phone number or e-mail address the history's answer
    # gives when [company] does not set it ({contact}: "phone number", "e-mail address"): the
    # answer would promise it and never give it. An offer of a person too.
    no_contact_answer: str = ("I'm sorry, I don't have our {contact} to give you here. "
                              "Shall I connect you with a person?")
    # What a customer reads who gives the details an answer from the history asked for (an order
    # number): its agent could look them up, the assistant cannot. An offer of a person too.
    lookup_answer: str = ("Thank you. I can't look that up from here. "
                          "Shall I connect you with a person who can?")
    # Asking back instead of guessing (assistant.clarify): the two likeliest intents closer than
    # clarify_margin in probability (0 = never), or one intent at least clarify_confident likely
    # while the best record is too weak to answer from or is of another intent (its records looked
    # up when the search missed them) (1 = never), or at least clarify_likely while the weak record
    # is of that intent and at least clarify_near similar (either 1 = never). Chosen on
    # benchmarks/data/dev.jsonl.
    clarify_margin: float = Field(0.2, ge=0, le=1)
    clarify_confident: float = Field(0.9, ge=0, le=1)
    clarify_likely: float = Field(0.7, ge=0, le=1)
    clarify_near: float = Field(0.45, ge=0, le=1)
    # Intents whose answers walk the customer through what cannot be undone (the demo history's:
    # cancelling an order, closing an account): answered only when the intent head gives the intent
    # at least confirm_sure and no nearer record found is of another intent; otherwise asked first
    # ("Just to be sure: is your question about closing an account?"). [] = never ask; an id the
    # knowledge base does not hold does nothing.
    confirm_intents: list[str] = ["cancel_order", "delete_account"]
    confirm_sure: float = Field(0.9, ge=0, le=1)
    # The kinds of record a customer's answer is read from (knowledge.records.Record.kind). A
    # "transcript" is one customer's conversation: its agent's outcome was for them ("because it has
    # been more than 90 days we cannot accept the return", "I have let my manager know, they will give
    # you a call"). It still guides the search and serves the agents; when it is the nearest and no
    # record of its intent written for anyone was found, the turn is "unsure" (case_only).
    answer_kinds: list[str] = ["qa", "policy"]
    # {options}: the labels offered, "A, or B"
    clarify_answer: str = "Just to be sure: is your question about {options}?"
    # How the clarifying question names the knowledge base's intents ("track_order" = "where your
    # order is"); an intent without a label is named by its id, "track order".
    intent_labels: dict[str, str] = DEMO_INTENT_LABELS
    # The ways customers say each intent, as a support lead lists them ("do you take bank transfer?"):
    # the search reads them as it reads the labels (knowledge.intents; docs/understanding.md, "The ways
    # customers say it"). The demo history's, as config.toml lists them.
    intent_examples: dict[str, list[str]] = DEMO_INTENT_EXAMPLES
    grounding: Literal["strict", "off"] = "strict"  # strict: a generated sentence its sources lack is dropped
    low_confidence_turns: int = Field(2, ge=1)  # consecutive low-confidence turns before a handoff
    handoff_triggers: list[str] = []  # extra regexes that hand the conversation to a person
    # The learned "asks for a person" classifier (assistant.handoff_model): its calibrated
    # probability at or above this hands over: 0.5 = more likely than not. On
    # benchmarks/data/dev.jsonl 0.3-0.6 tie (precision 1.0, recall 0.967); 0.2 caught one more
    # there but took a German question for a request (docs/understanding.md).
    handoff_threshold: float = Field(0.5, ge=0, le=1)
    # Intents of the knowledge base whose records are requests for a person (`assistant tune --handoff`).
    handoff_intents: list[str] = ["contact_human_agent"]
    history_turns: int = Field(6, ge=0)  # earlier turns considered for follow-up questions

    @field_validator("clarify_answer", "no_contact_answer")
    @classmethod
    def _one_placeholder(cls, value: str, info: ValidationInfo) -> str:
        name = _TEMPLATE_FIELDS[info.field_name or ""]
        try:
            value.format(**{name: "A, or B"})
        except (KeyError, IndexError, ValueError):
            raise ValueError(f"may hold {{{name}}} and no other {{placeholder}}") from None
        return value


class StoreConfig(_Options):
    backend: Literal["sqlite", "postgres"] = "sqlite"  # conversation store
    url: str = ""  # postgres: postgresql://user@host/db; sqlite: file path ("" = data_dir/conversations.db)
    pg_schema: str = "public"  # postgres: schema that holds the tables (created if missing)
    pool_size: int = Field(5, ge=1)  # postgres: connections per worker process
    sqlite_synchronous: Literal["full", "normal"] = "full"  # sqlite: full = fsync every commit
    # A worker that stops renewing its lease this long is dead: its open answers are closed.
    worker_lease_seconds: float = Field(15.0, ge=1.0)


class BusConfig(_Options):
    backend: Literal["memory", "redis"] = "memory"  # in-process, or Redis between workers
    url: str = "redis://127.0.0.1:6379/0"  # Redis URL (backend = redis)


class TuneConfig(_Options):
    """`assistant tune` (the chat model): LoRA on the knowledge base's own records."""

    max_minutes: float = Field(30.0, gt=0)  # training time in all (--max-minutes); resumed runs count
    batch_size: int = Field(4, ge=1)  # examples per optimizer step
    learning_rate: float = Field(2e-4, gt=0)
    lora_rank: int = Field(16, ge=1)  # adapter size: rank of each LoRA update
    checkpoint_minutes: float = Field(5.0, gt=0)  # how often a checkpoint is saved for --resume
    max_tokens: int = Field(1024, ge=64)  # examples longer than this (prompt + answer) are skipped
    holdout: float = Field(0.1, ge=0, lt=1)  # seeded share of the records never trained on
    seed: int = 13  # chooses the held-out records and the order of the examples
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"  # auto: bfloat16 autocast if the CPU has AMX


class ReportsConfig(_Options):
    # A conversation with no handoff that has gone quiet this long counts as resolved by the
    # assistant (unless its last answer was rated down); docs/reports.md.
    resolved_after: float = Field(1800.0, gt=0)  # seconds
    gap_similarity: float = Field(0.6, gt=0, le=1)  # how alike two questions are to share a gap


class ServerConfig(_Options):
    host: str = "127.0.0.1"  # bind address
    port: int = Field(8080, ge=1, le=65535)  # bind port
    workers: int = Field(1, ge=1)  # uvicorn worker processes
    allowed_origins: list[str] = []  # widget origins allowed to connect; [] allows any
    max_frame_bytes: int = Field(65_536, ge=256)  # largest websocket text frame
    # Largest HTTP request body but an upload (uploads: vision/speech max_bytes); refused unread.
    max_body_bytes: int = Field(1_048_576, ge=1024)
    max_message_chars: int = Field(4_000, ge=1)  # longest customer message
    max_attachments: int = Field(4, ge=0)  # attachments per message
    messages_per_minute: int = Field(30, ge=1)  # per connection
    messages_per_minute_ip: int = Field(120, ge=1)  # per client IP
    ping_interval: float = Field(20.0, gt=0)  # seconds between keep-alive pings
    shutdown_grace: float = Field(10.0, ge=0)  # seconds answers in flight get to finish on shutdown
    identity_secret: str = ""  # HMAC secret for verified customer identities ("" = off)
    token_secret: str = ""  # signs agent tokens ("" = a random one per start)
    token_minutes: int = Field(60, ge=1)  # agent token lifetime


class Settings(BaseSettings):
    """Everything the service reads at start-up (build it with load_settings)."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Path("data")  # all state: Chroma, databases, model caches, uploads
    log_level: str = "info"  # debug | info | warning | error
    company: dict[str, str] = {}  # fills {{Placeholders}} in answers: website_name = "…"
    knowledge: KnowledgeConfig = KnowledgeConfig()
    llm: LLMConfig = LLMConfig()
    vision: VisionConfig = VisionConfig()
    speech: SpeechConfig = SpeechConfig()
    dialogue: DialogueConfig = DialogueConfig()
    store: StoreConfig = StoreConfig()
    bus: BusConfig = BusConfig()
    reports: ReportsConfig = ReportsConfig()
    tune: TuneConfig = TuneConfig()
    server: ServerConfig = ServerConfig()

    def path(self, *parts: str) -> Path:
        """A path under data_dir, its parent created."""
        p = self.data_dir.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p


def _config_path() -> Path | None:
    env = os.environ.get("ASSISTANT_CONFIG")
    if env:
        return Path(env)
    default = Path("config.toml")
    return default if default.exists() else None


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Read settings; a missing file or any bad key raises ConfigError naming it."""
    path = Path(config) if config else _config_path()
    if path is not None and not path.is_file():
        raise ConfigError(f"config file not found: {path}")

    class _FromFile(Settings):
        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            toml = TomlConfigSettingsSource(settings_cls, toml_file=path)
            return (init_settings, env_settings, toml)

    try:
        return _FromFile(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"unknown config key '{key}'")
        else:
            lines.append(f"config key '{key}': {err['msg']}")
    return "; ".join(lines)
