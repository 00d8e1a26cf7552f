"""Benchmarks of the polling triggers against the sandbox: API efficiency, throughput, memory.

Run ``python -m bench --out BENCHMARKS.md`` (``--quick`` for a smaller run). These are not tests:
nothing asserts on timings; each benchmark prints a table with its target and writes the report.
"""
