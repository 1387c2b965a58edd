"""Recordings: the pure rules (rules) and the handler that applies them in the batch's
transaction (handler)."""
