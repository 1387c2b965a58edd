"""The raw Zoom webhook path: deliveries, dedup, a batch (decode, dedup, parse, apply, settle),
the apply in one transaction with a savepoint per webhook, and what handling one did."""
