"""Peak memory of pipeline runs as the input grows: which jobs stream in bounded memory?

    python -m bench.memory_bench --rows 5000000 20000000

For each size, the bench CSV (bench/data/) and the same rows as Parquet are cleaned into a Parquet
file through execute_steps, in a fresh child process per run, whose peak anonymous memory is sampled
(RssAnon every 10 ms; file-backed pages are left out since the kernel can drop them). Row-wise
cleaning (trim, cast, drop nulls) is measured alone and with remove_duplicates, which must remember
every distinct row it has seen. The last column is direct Polars (scan, sink) of the same input,
for comparison with what the library itself needs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl

from bench.pipeline_bench import generate

CHILD = """
import os, sys, threading, time
import polars as pl
from bench.pipeline_bench import CLEANER, SCHEMA
from server.engine.dataplane import MappingResolver, Policy, RunContext, execute_steps
path, out, mode = sys.argv[1:4]
peak, stop = [0], threading.Event()

def sample():
    while not stop.is_set():
        for line in open("/proc/self/status"):
            if line.startswith("RssAnon:"):
                peak[0] = max(peak[0], int(line.split()[1]))
        time.sleep(0.01)

sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
if mode == "direct":
    scan = pl.scan_parquet(path) if path.endswith(".parquet") else pl.scan_csv(path)
    scan.sink_parquet(out, engine="streaming")
else:
    cleaner = CLEANER if mode == "dedupe" else {k: v for k, v in CLEANER.items() if k != "remove_duplicates"}
    resolve = MappingResolver({"ds": ({"type": "file", "path": path}, SCHEMA)}, {})
    execute_steps([{"id": "input", "type": "data_source", "config": {"dataset_id": "ds"}},
                  {"id": "clean", "type": "data_cleaner", "config": cleaner},
                  {"id": "output", "type": "data_sink", "config": {"path": out}}], resolve, RunContext(),
                 Policy(file_roots=(os.path.dirname(path), os.path.dirname(out))))
stop.set()
sampler.join()
print(peak[0])
"""
MODES = (("row-wise", "plain"), ("+dedupe", "dedupe"), ("direct", "direct"))


def peak_mib(path: Path, out: str, mode: str) -> float:
    """Peak anonymous memory of a child running one pipeline, in MiB."""
    done = subprocess.run([sys.executable, "-c", CHILD, str(path.resolve()), out, mode], check=True,
                          capture_output=True, text=True)
    return int(done.stdout.split()[-1]) / 1024


def as_parquet(csv: Path) -> Path:
    """The same rows as a Parquet file beside the CSV (made once)."""
    target = csv.with_suffix(".parquet")
    if not target.exists():
        pl.scan_csv(csv).sink_parquet(target, row_group_size=100_000)
    return target


def main() -> None:
    """Print one line per input: its size and the peak of each kind of run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[5_000_000, 20_000_000])
    args = parser.parse_args()
    print(f"{'input':32} {'size':>9}   " + "   ".join(f"{label:>10}" for label, _ in MODES) + "   (peak MiB)")
    with tempfile.TemporaryDirectory(prefix="docc-mem-") as tmp:
        for rows in args.rows:
            csv = generate(rows)
            for path in (csv, as_parquet(csv)):
                peaks = [peak_mib(path, f"{tmp}/out.parquet", mode) for _, mode in MODES]
                print(f"{path.name:32} {path.stat().st_size / 2**20:>5,.0f} MiB   "
                      + "   ".join(f"{peak:>10,.0f}" for peak in peaks))


if __name__ == "__main__":
    main()
