"""The write side of the API: every mutation returns a payload with `errors`."""
