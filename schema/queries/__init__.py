"""The read side of the API."""
