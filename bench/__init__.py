"""Benchmarks of what users feel: latency, barge-in, handover, CPU and memory, start-up; run `python -m bench`."""
