"""Run every benchmark and write BENCHMARKS.md at the repository's root.

    python -m bench [--quick] [--only alert_e2e ingest ...] [--output BENCHMARKS.md]

Each benchmark is a module of this package with `main(argv=None) -> str`, returning
its markdown section; a module may also fill a `TARGETS` list of
{"target", "measured", "met"} after main(), which goes into the summary table. Each
runs in a child process of its own (they set up Django, asyncio and multiprocessing
in their own ways), one after another, so they do not load the machine together.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import support

# (module, title, the item, seconds it may take at most)
BENCHMARKS = [
    ("alert_e2e", "1. Alert end to end, with Daphne and uvicorn side by side", 1, 420),
    ("stall", "2. The stall test", 2, 240),
    ("ingest", "3. Ingest capacity, with Daphne and uvicorn side by side", 3, 480),
    ("relay", "4. Relay: CPU per viewer and added latency", 4, 300),
    ("console_render", "5. The dispatcher console with 1,000 units and 500 open calls", 5, 240),
    ("fanout", "Console fan-out alone (events via Redis)", 6, 300),
]


def run_one(module: str, quick: bool, limit: float) -> dict:
    """Run one benchmark module in a child process; its section, targets and time."""
    out = Path(tempfile.mkstemp(prefix=f"beacon-bench-{module}-", suffix=".json")[1])
    code = (
        "import json, sys, importlib\n"
        f"m = importlib.import_module('bench.{module}')\n"
        f"argv = {['--quick'] if quick else []!r}\n"
        "text = m.main(argv)\n"
        "json.dump({'markdown': text or '', 'targets': list(getattr(m, 'TARGETS', []) or [])},"
        f" open({str(out)!r}, 'w'))\n"
    )
    started = time.monotonic()
    try:
        done = subprocess.run([support.PYTHON, "-c", code], cwd=support.ROOT, timeout=limit, check=False)
        result = json.loads(out.read_text() or "{}") if done.returncode == 0 else {}
        error = None if done.returncode == 0 else f"exited with {done.returncode}"
    except subprocess.TimeoutExpired:
        result, error = {}, f"stopped after {limit:.0f} s"
    finally:
        out.unlink(missing_ok=True)
    if error or not result.get("markdown"):
        error = error or "returned no report"
        result = {
            "markdown": f"Not measured in this run: the benchmark {error} (see the console output).",
            "targets": [],
        }
    return {**result, "seconds": time.monotonic() - started, "error": error}


def write(path: Path, machine: str, quick: bool, sections: list[tuple[tuple, dict]], total: float) -> None:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`); every figure below comes from one run on the machine named "
        "here, next to a baseline measured in the same run. On a shared 2-core machine absolute times move up to "
        "2x between runs; the ratios against the same run's baseline move much less.",
        "",
        f"Machine: {machine}.",
        f"Run: {'quick (`--quick`: shorter windows, fewer repetitions)' if quick else 'full'}, "
        f"{total / 60:.1f} minutes.",
        "",
        "## Summary: the issue's targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for (_module, title, item, _), result in sections:
        if result["targets"]:
            for target in result["targets"]:
                lines.append(f"| {target['target']} | {target['measured']} | {'yes' if target['met'] else '**no**'} |")
        elif item in (2,):
            lines.append(f"| {title} | see section {item} | see section |")
        elif result["error"]:
            lines.append(f"| {title} | not measured ({result['error']}) | **no** |")
    lines.append("")
    for (module, title, _item, _), result in sections:
        lines += [f"## {title}", "", f"`python -m bench.{module}` ({result['seconds']:.0f} s)", ""]
        lines += [result["markdown"].strip(), ""]
    lines += [
        "## Notes: position persistence (fixed with this benchmark)",
        "",
        "With 1,000 units at 1 Hz on SQLite the server kept only about 125 fixes a second. The flush that runs "
        "once a second (`dispatch.avl.flush_positions`) took 1.0-3.5 s for 1,000 fixes, about 2.5 s of it "
        "Python: `bulk_update` of 1,000 units builds a `CASE WHEN` expression per column and resolves thousands "
        "of expression objects, holding the GIL the whole time, so the flusher fell behind and starved the "
        "ingest thread. It now writes the history with one `executemany` INSERT and moves each unit to its "
        "newest fix of the batch with one `executemany` of a plain `UPDATE ... WHERE id = %s AND (position_at "
        "IS NULL OR position_at < %s)` (an old fix still never moves a unit back, also across processes), and "
        "buffers fixes as tuples rather than model instances (record_position: about 10-15 µs -> 1.5 µs). "
        "Measured with 1,000 fixes per flush: SQLite 1,000-3,500 ms -> about 30 ms; PostgreSQL about 130-250 ms "
        "of wall time, 40-75 ms of it CPU (round trips; the thread waits without the GIL). Positions are no "
        "longer what limits ingest (section 3 says what does).",
        "",
        "## How to reproduce",
        "",
        "```sh",
        "make bench                       # every benchmark, then this file (under 15 minutes on 2 cores)",
        ".venv/bin/python -m bench --quick   # shorter windows, a few minutes",
        ".venv/bin/python -m bench --only ingest relay   # some of them",
        ".venv/bin/python -m bench.alert_e2e --consoles 1000 --devices 1000 --cameras 4 --viewers 8",
        ".venv/bin/python -m bench.ingest --servers uvicorn --rates 500 1000 2000",
        ".venv/bin/python -m bench.relay",
        ".venv/bin/python -m bench.console_render --runs 5",
        "```",
        "",
        "Needs Redis at `REDIS_URL` (default redis://127.0.0.1:6379/0) for the fan-out and stall benchmarks, "
        "Chromium (`/usr/bin/chromium`, else Playwright's) for the console. Each benchmark makes its own fresh "
        "SQLite database; with `DATABASE_URL=postgres://...` set, each makes a new database on that PostgreSQL "
        "server instead and drops it afterwards. All traffic stays on 127.0.0.1.",
        "",
    ]
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter windows and fewer repetitions in each benchmark")
    parser.add_argument("--only", nargs="+", choices=[b[0] for b in BENCHMARKS], help="run only these")
    parser.add_argument("--output", default=str(support.ROOT / "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    support.raise_open_file_limit()
    machine = support.machine_line()  # before the load of the benchmarks themselves
    started = time.monotonic()
    sections = []
    chosen = [b for b in BENCHMARKS if not args.only or b[0] in args.only]
    for index, bench in enumerate(chosen, 1):
        module, title, _, limit = bench
        if not (support.ROOT / "bench" / f"{module}.py").exists():
            continue
        print(f"[{index}/{len(chosen)}] {module}: {title} ...", file=sys.stderr, flush=True)
        result = run_one(module, args.quick, limit)
        status = f"failed: {result['error']}" if result["error"] else "done"
        print(f"[{index}/{len(chosen)}] {module}: {status} in {result['seconds']:.0f} s", file=sys.stderr, flush=True)
        for target in result["targets"]:
            met = "met" if target["met"] else "MISSED"
            print(f"      {met}: {target['target']}: {target['measured']}", file=sys.stderr, flush=True)
        sections.append((bench, result))
    write(Path(args.output), machine, args.quick, sections, time.monotonic() - started)
    print(f"Wrote {args.output} in {(time.monotonic() - started) / 60:.1f} minutes.", file=sys.stderr)


if __name__ == "__main__":
    main()
