"""Pick an implementation by name from config, importing only the one picked.

Each registry maps a config name to "module:factory"; the factory takes the
Settings. A new backend is one line here and a module, not a new `elif`.
"""

from __future__ import annotations

import importlib
from typing import Any

from assistant.errors import ConfigError


class Registry:
    def __init__(self, kind: str, entries: dict[str, str]) -> None:
        self.kind = kind
        self.entries = dict(entries)

    def names(self) -> list[str]:
        return sorted(self.entries)

    def create(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            target = self.entries[name]
        except KeyError:
            raise ConfigError(
                f"unknown {self.kind} '{name}'; choose one of: {', '.join(self.names())}"
            ) from None
        module_name, _, attr = target.partition(":")
        factory: Any = importlib.import_module(module_name)
        for part in attr.split("."):  # "Class.from_settings" names a classmethod
            factory = getattr(factory, part)
        return factory(*args, **kwargs)
