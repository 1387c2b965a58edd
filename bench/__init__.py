"""Benchmarks: each figure a ratio against a floor measured in the same run on the same machine.

Run with `scripts/bench` (not part of the test command). Results are appended to
bench/RESULTS.md.
"""
