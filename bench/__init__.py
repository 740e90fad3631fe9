"""Benchmarks (`bench/webhook.py`) and the baseline bot they compare against."""
