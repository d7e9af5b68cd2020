"""The arq worker: sending messages and running reminder events."""
