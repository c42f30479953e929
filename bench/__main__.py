"""``make bench``: run every ``bench/*_bench.py`` module, print a table, write bench-results.json.

Each module exposes ``run(results: list)`` and appends {"name", "value", "unit",
"baseline", "ratio"} dicts, the baseline being the simple alternative measured in the
same run (DESIGN §5: these machines are noisy, ratios hold, absolute times do not).

A module that fails to import (another engineer's work in progress) is skipped with a
note; one that raises while running is reported, the others still run, and the exit
status is 1. ``python -m bench outbox daemon`` runs only the modules whose names
start with those words.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path

from bench import print_table

HERE = Path(__file__).resolve().parent
RESULTS_FILE = HERE.parent / "bench-results.json"


def module_names(selected: list[str]) -> list[str]:
    names = sorted(p.stem for p in HERE.glob("*_bench.py"))
    if selected:
        names = [n for n in names if any(n.startswith(s) for s in selected)]
    return names


def main(argv: list[str]) -> int:
    results: list[dict] = []
    failed: list[str] = []
    for name in module_names(argv):
        try:
            module = importlib.import_module(f"bench.{name}")
        except Exception as e:  # someone's work in progress must not stop the others
            print(f"# skipping bench.{name}: it does not import ({type(e).__name__}: {e})",
                  file=sys.stderr)
            continue
        run = getattr(module, "run", None)
        if run is None:
            print(f"# skipping bench.{name}: no run(results)", file=sys.stderr)
            continue
        print(f"# bench.{name} ...", file=sys.stderr, flush=True)
        started_s = time.monotonic()
        try:
            run(results)
        except Exception:
            failed.append(name)
            print(f"# bench.{name} FAILED:\n{traceback.format_exc()}", file=sys.stderr)
        print(f"# bench.{name}: {time.monotonic() - started_s:.0f} s", file=sys.stderr,
              flush=True)
    RESULTS_FILE.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"# {len(results)} figures written to {RESULTS_FILE.name}", file=sys.stderr)
    if failed:
        print(f"# failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
