"""Conversation stores: the event log of every conversation, and attachments."""

from assistant.registry import Registry

# config store.backend -> implementation
STORES = Registry("conversation store", {
    "sqlite": "assistant.store.sqlite:SQLiteStore.from_settings",
    "postgres": "assistant.store.postgres:PostgresStore.from_settings",
})
