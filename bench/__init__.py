"""Benchmarks for ``make bench`` (``python -m bench``): every ``bench/*_bench.py`` module
exposes ``run(results: list)`` appending {"name", "value", "unit", "baseline", "ratio"}."""

from __future__ import annotations

from typing import Callable


def print_table(results: list[dict]) -> None:
    """The figures as a table (value, unit, baseline, ratio) on stdout."""
    if not results:
        print("no figures")
        return
    width = max(len(r["name"]) for r in results)
    print(f"{'figure':<{width}}  {'value':>12} {'unit':<9} {'baseline':>12}  ratio")
    for r in results:
        ratio = "-" if r.get("ratio") is None else f"{r['ratio']:.3f}"
        baseline = "-" if r.get("baseline") is None else f"{r['baseline']:>12.3f}"
        print(f"{r['name']:<{width}}  {r['value']:>12.3f} {r['unit']:<9} {baseline:>12}  {ratio}")


def run_alone(run: Callable[[list], None]) -> None:
    """``python -m bench.<module>``: run one module's figures and print them."""
    results: list[dict] = []
    run(results)
    print_table(results)
