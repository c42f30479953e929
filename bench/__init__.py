"""Benchmarks for ``make bench`` (``python -m bench``): every ``bench/*_bench.py`` module
exposes ``run(results: list)`` appending {"name", "value", "unit", "baseline", "ratio"}."""
