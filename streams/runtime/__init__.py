"""Faust adaptations: batch sources with the gap repair, tables, the dedup store, metrics, the
dead-letter sender, and every use of faust-streaming internals (faust_internals)."""
