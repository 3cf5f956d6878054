"""Agent Creator: a self-hosted, multi-user platform to create AI assistants and chat with them."""

__version__ = "0.1.0"
