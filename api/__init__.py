"""The ASGI app that wires the rest: app factory, authentication, webhooks, health, the CLI."""
