"""Benchmarks for cognito-verify: ``make bench`` (or ``python -m benchmarks``)."""
