"""Self-hosted multimodal customer-service assistant: dialogue manager, models, CLI."""

__version__ = "0.1.0"
