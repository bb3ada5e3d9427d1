"""Side-by-side benchmark: PostgreSQL `SELECT * FROM t` into a pyarrow.Table.

    python benches/compare.py [--url URL] [--rows 2000000] [--repeat 3]
        [--tools data_bridge,connectorx,adbc,psycopg,psql]
        [--tables lineitem,awkward] [--out bench-results/compare.md]

Every measurement runs in a fresh Python subprocess (this script with --child),
so the reported peak memory belongs to one tool and one read. The child imports
the tool, connects, then times only the read and reports wall time, peak RSS
growth during the read, Arrow nbytes and row count as one JSON line. `psql`
is the floor: a binary \\copy to /dev/null, timed as a whole process.
"""

import argparse
import importlib
import importlib.metadata
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Plain TCP for every tool: TLS costs CPU on both sides of a loopback connection.
FALLBACK_URL = "postgresql://postgres@127.0.0.1:5432/test?sslmode=disable"
ALL_TOOLS = ["data_bridge", "connectorx", "adbc", "psycopg", "psql"]
CHILD_TIMEOUT_S = 3600
# Measuring children run with one OpenBLAS thread: importing pyarrow loads numpy, whose
# OpenBLAS threads spin for about 0.1 s after start-up (seen as 6% of a cold read's CPU
# samples). That would tax whichever tool starts reading soonest after its imports, and no
# tool here calls BLAS.
CHILD_ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}

# Python module each tool needs (checked before running) and its distribution name.
TOOL_MODULES = {
    "data_bridge": ("data_bridge", "data-bridge"),
    "connectorx": ("connectorx", "connectorx"),
    "adbc": ("adbc_driver_postgresql.dbapi", "adbc-driver-postgresql"),
    "psycopg": ("psycopg", "psycopg"),
}

NOTES = [
    "Time is wall clock of the read only, after import and connect "
    "(connectorx has no separate connect, so its time includes opening a connection).",
    "psql floor: `\\copy (SELECT * FROM t) TO '/dev/null' WITH (FORMAT binary)`, "
    "timed as a whole process (startup + connect + COPY, so on small tables it can be "
    "slower than in-process readers); no memory column.",
    "Peak RSS Δ: the child's peak RSS during the read (high-water mark reset just before "
    "it via /proc/self/clear_refs) minus its RSS before the read.",
    "connectorx 0.4.6 `return_type=\"arrow\"` already returns a pyarrow.Table: no conversion.",
    "psycopg: binary cursor, fetchall, one pa.array per column with the Arrow type taken "
    "from the column's OID (jsonb loaded as text; interval becomes duration with months "
    "as 30 days).",
    "Each measurement is a fresh process; tools run round-robin within a round, "
    "rotating the start each round.",
]


# --------------------------------------------------------------------------- child side


def prepare_data_bridge(url, sql):
    """Connect with data_bridge; return the timed read."""
    import data_bridge

    db = data_bridge.connect(url)
    db.read_arrow("SELECT 1")  # open a pooled connection outside the timed region
    return lambda: db.read_arrow(sql)


def prepare_connectorx(url, sql):
    """connectorx connects inside read_sql, so the timed read includes the connect."""
    import connectorx

    return lambda: connectorx.read_sql(url, sql, return_type="arrow")


def prepare_adbc(url, sql):
    """Connect with the ADBC PostgreSQL driver; return the timed execute + fetch."""
    from adbc_driver_postgresql import dbapi

    cursor = dbapi.connect(url).cursor()
    cursor.execute("SELECT 1")
    cursor.fetch_arrow_table()

    def read():
        cursor.execute(sql)
        return cursor.fetch_arrow_table()

    return read


def psycopg_arrow_type(column):
    """Arrow type for a psycopg result column, or None to let pyarrow infer it.

    Explicit types are much faster than inference (decimals especially) and keep
    numeric(p,s) precision; anything not listed here is inferred.
    """
    import pyarrow as pa

    if column.type_code == 1700 and column.precision is not None:  # numeric(p,s)
        return pa.decimal128(column.precision, column.scale)
    by_oid = {
        16: pa.bool_(), 17: pa.binary(), 20: pa.int64(), 21: pa.int16(), 23: pa.int32(),
        25: pa.string(), 700: pa.float32(), 701: pa.float64(), 1042: pa.string(),
        1043: pa.string(), 1082: pa.date32(), 1114: pa.timestamp("us"),
        1184: pa.timestamp("us", tz="UTC"), 1186: pa.duration("us"), 2950: pa.uuid(),
        3802: pa.string(), 1007: pa.list_(pa.int32()), 1009: pa.list_(pa.string()),
    }
    return by_oid.get(column.type_code)


def prepare_psycopg(url, sql):
    """Connect with psycopg; the timed read is fetchall plus conversion to Arrow."""
    import psycopg
    import pyarrow as pa
    from psycopg.adapt import Loader

    class JsonbTextLoader(Loader):
        """Load binary jsonb as its JSON text (skip the version byte), like the other tools."""

        format = psycopg.pq.Format.BINARY

        def load(self, data):
            return bytes(data[1:]).decode()

    conn = psycopg.connect(url)
    conn.adapters.register_loader("jsonb", JsonbTextLoader)
    conn.execute("SELECT 1")
    pa.array([0])  # pyarrow's first conversion imports numpy/pandas: keep it untimed

    def read():
        with conn.cursor(binary=True) as cursor:
            cursor.execute(sql)
            rows = cursor.fetchall()
            description = cursor.description
        columns = list(zip(*rows)) or [()] * len(description)
        return pa.table(
            [pa.array(values, type=psycopg_arrow_type(column))
             for values, column in zip(columns, description)],
            names=[column.name for column in description],
        )

    return read


PREPARE = {
    "data_bridge": prepare_data_bridge,
    "connectorx": prepare_connectorx,
    "adbc": prepare_adbc,
    "psycopg": prepare_psycopg,
}


def vm_rss_kib():
    """Current resident set size of this process in KiB (VmRSS)."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1))


def reset_peak_rss():
    """Reset the kernel's RSS high-water mark so ru_maxrss covers only what follows.

    Without this (clear_refs not writable) ru_maxrss may include an earlier peak.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def short_error(exc):
    """One-line description of an exception: its type and the first line of its message."""
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else ""
    return f"{type(exc).__name__}: {message}"[:160]


def measure_in_child(tool, url, sql, prepare=PREPARE):
    """Run one measurement in this (fresh) process; return a result dict.

    `prepare` maps tool names to setup functions (other bench scripts pass their own).
    """
    import pyarrow as pa

    read = prepare[tool](url, sql)
    reset_peak_rss()
    rss_before = vm_rss_kib()
    start = time.perf_counter()
    table = read()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    if not isinstance(table, pa.Table):
        raise TypeError(f"{tool} returned {type(table).__name__}, not pyarrow.Table")
    return {
        "seconds": seconds,
        "peak_mb": (peak - rss_before) / 1024,
        "nbytes_mb": table.nbytes / 2**20,
        "rows": table.num_rows,
    }


def child_main(tool, url, sql, prepare=PREPARE):
    """Entry point of the measuring subprocess: print one JSON line with the result."""
    try:
        result = measure_in_child(tool, url, sql, prepare)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # reported, not raised (pyo3 panics are BaseExceptions)
        result = {"error": short_error(exc)}
    print(json.dumps(result), flush=True)


# --------------------------------------------------------------------------- parent side


def measure_subprocess(tool, url, sql, script=__file__):
    """Measure `tool` reading `sql` in a fresh Python process running `script` --child."""
    return run_child([sys.executable, script, "--child", tool, "--url", url, "--sql", sql])


def run_child(command):
    """Run a measuring subprocess; return the result dict from its last stdout line."""
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S,
                              env=CHILD_ENV)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {CHILD_TIMEOUT_S} s"}
    lines = proc.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        stderr = proc.stderr.strip().splitlines()
        return {"error": f"exit {proc.returncode}: {stderr[-1] if stderr else 'no output'}"[:160]}


def measure_psql(url, sql):
    """Time psql's binary \\copy of the query to /dev/null; rows from its 'COPY n' line."""
    copy = f"\\copy ({sql}) TO '/dev/null' WITH (FORMAT binary)"
    start = time.perf_counter()
    proc = subprocess.run(["psql", url, "-X", "-v", "ON_ERROR_STOP=1", "-c", copy],
                          capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    seconds = time.perf_counter() - start
    match = re.search(r"^COPY (\d+)", proc.stdout, re.MULTILINE)
    if proc.returncode != 0 or not match:
        stderr = proc.stderr.strip().splitlines()
        return {"error": (stderr[0] if stderr else f"exit {proc.returncode}")[:160]}
    return {"seconds": seconds, "rows": int(match.group(1))}


def measure(tool, url, sql):
    """One measurement of `tool` reading `sql`."""
    return measure_psql(url, sql) if tool == "psql" else measure_subprocess(tool, url, sql)


def run_rounds(tools, measure_one, repeat, log):
    """Call measure_one(tool) `repeat` times per tool, round-robin, rotating the first tool.

    A tool that fails is not retried in later rounds. Returns {tool: [result, ...]}.
    """
    results = {tool: [] for tool in tools}
    for round_no in range(repeat):
        shift = round_no % len(tools)
        for tool in tools[shift:] + tools[:shift]:
            if any("error" in r for r in results[tool]):
                continue
            result = measure_one(tool)
            results[tool].append(result)
            outcome = result.get("error") or f"{result['seconds']:.3f} s"
            log(f"  round {round_no + 1}/{repeat} {tool:<12} {outcome}")
    return results


def summarize(results):
    """Reduce each tool's measurements to one summary dict (or {'error': ...})."""
    summary = {}
    for tool, runs in results.items():
        errors = [r["error"] for r in runs if "error" in r]
        if errors:
            summary[tool] = {"error": errors[0]}
            continue
        times = [r["seconds"] for r in runs]
        peaks = [r["peak_mb"] for r in runs if "peak_mb" in r]  # psql has none
        summary[tool] = {
            "median": statistics.median(times),
            "min": min(times),
            "max": max(times),
            "peak_mb": max(peaks) if peaks else None,
            "nbytes_mb": runs[0].get("nbytes_mb"),
            "rows": sorted({r["rows"] for r in runs}),
        }
    return summary


def ratio(value, reference):
    """'1.23x' for value/reference, '–' when either is missing."""
    return f"{value / reference:.2f}x" if value is not None and reference else "–"


def number(value, fmt):
    """Format a number, or '–' when it is missing."""
    return format(value, fmt) if value is not None else "–"


def markdown_table(header, rows):
    """A markdown table with padded columns (readable as plain text too)."""
    rows = [[str(cell).replace("|", "\\|") for cell in row] for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]

    def line(cells):
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths)) + " |"

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def report_table(summary):
    """Markdown table of one benchmark table's summary, tools in the order given."""
    header = ["tool", "median s", "min s", "max s", "vs psql", "vs data_bridge",
              "peak RSS Δ MB", "Arrow MB", "peak/nbytes", "rows"]
    floor = summary.get("psql", {}).get("median")
    ours = summary.get("data_bridge", {}).get("median")
    rows = []
    for tool, s in summary.items():
        if "error" in s:
            rows.append([tool, f"error: {s['error']}"] + [""] * (len(header) - 2))
            continue
        has_memory = s["peak_mb"] is not None and s["nbytes_mb"]
        peak_per_byte = s["peak_mb"] / s["nbytes_mb"] if has_memory else None
        rows.append([
            tool,
            f"{s['median']:.3f}", f"{s['min']:.3f}", f"{s['max']:.3f}",
            ratio(s["median"], floor), ratio(s["median"], ours),
            number(s["peak_mb"], ".1f"), number(s["nbytes_mb"], ".1f"),
            number(peak_per_byte, ".2f"),
            "/".join(f"{n:,}" for n in s["rows"]),
        ])
    return markdown_table(header, rows)


def row_check(summary, expected):
    """Correctness check: every tool (data_bridge included) returned the server's row count."""
    counts = {tool: s["rows"] for tool, s in summary.items() if "rows" in s}
    wrong = {tool: rows for tool, rows in counts.items() if rows != [expected]}
    if not counts:
        return "Row check: no tool succeeded."
    if wrong:
        detail = ", ".join(f"{tool} {'/'.join(map(str, rows))}" for tool, rows in wrong.items())
        return f"Row check: MISMATCH vs count(*) = {expected:,}: {detail}"
    checked = ", ".join(counts)
    return f"Row check: OK, {checked} all returned {expected:,} rows (= count(*))."


def unavailable_reason(tool):
    """Why `tool` cannot run here, or None if it can."""
    if tool == "psql":
        return None if shutil.which("psql") else "psql not found on PATH"
    module = TOOL_MODULES[tool][0]
    try:
        importlib.import_module(module)
    except ImportError as exc:
        hint = (" Build and install it first, in release mode (e.g. `maturin develop --release"
                " -m py/Cargo.toml`), or leave it out of --tools.") if tool == "data_bridge" else ""
        return f"cannot import {module} ({short_error(exc)}).{hint}"
    return None


def versions(tools):
    """'tool version' strings for the report header."""
    out = []
    for tool in tools:
        if tool == "psql":
            out.append(subprocess.run(["psql", "--version"], capture_output=True, text=True)
                       .stdout.strip())
            continue
        dist = TOOL_MODULES[tool][1]
        try:
            out.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{dist} (version unknown)")
    return out + [f"pyarrow {importlib.metadata.version('pyarrow')}"]


def server_info(url):
    """PostgreSQL server version string."""
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def parse_args(argv):
    """Command-line options (plus the hidden --child/--sql used by measuring subprocesses)."""
    from tables import TABLES

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("DATABASE_URL", FALLBACK_URL),
                        help=f"PostgreSQL URL (default: $DATABASE_URL, else {FALLBACK_URL})")
    parser.add_argument("--rows", type=int, default=2_000_000,
                        help="rows in bench_lineitem; bench_awkward gets rows/4 (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="measurements per tool (default 3)")
    parser.add_argument("--tools", default=",".join(ALL_TOOLS), help="comma-separated tools")
    parser.add_argument("--tables", default=",".join(TABLES), help="comma-separated tables")
    parser.add_argument("--out", default="bench-results/compare.md", help="markdown report path")
    parser.add_argument("--child", choices=list(PREPARE), help=argparse.SUPPRESS)
    parser.add_argument("--sql", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.tools = [t for t in args.tools.split(",") if t]
    args.tables = [t for t in args.tables.split(",") if t]
    for name, chosen, valid in (("tool", args.tools, ALL_TOOLS), ("table", args.tables, TABLES)):
        unknown = [c for c in chosen if c not in valid]
        if unknown:
            parser.error(f"unknown {name}(s) {', '.join(unknown)}; choose from {', '.join(valid)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def log(message):
    """Progress output (stderr, so stdout carries only the report)."""
    print(message, file=sys.stderr, flush=True)


def main(argv):
    """Parent: prepare tables, run all measurements, print and write the report."""
    args = parse_args(argv)
    if args.child:
        child_main(args.child, args.url, args.sql)
        return

    from tables import ensure_table, expected_rows

    skipped = {}
    for tool in args.tools:
        reason = unavailable_reason(tool)
        if reason:
            log(f"skipping {tool}: {reason}")
            skipped[tool] = reason
    tools = [t for t in args.tools if t not in skipped]
    if not tools:
        sys.exit("no tool to run")

    sections = [
        "# data_bridge vs other PostgreSQL -> Arrow readers",
        "",
        f"PostgreSQL {server_info(args.url)}; {os.cpu_count()} CPUs; --rows {args.rows:,}; "
        f"--repeat {args.repeat}; {time.strftime('%Y-%m-%d %H:%M')}",
        "Versions: " + ", ".join(versions(tools)),
    ]
    sections += [f"Skipped {tool}: {reason}" for tool, reason in skipped.items()]
    for key in args.tables:
        name = ensure_table(args.url, key, args.rows, log=log)
        expected = expected_rows(key, args.rows)  # ensure_table checked count(*)
        sql = f"SELECT * FROM {name}"
        log(f"{name}: {expected:,} rows")
        measure_psql(args.url, sql)  # warm the caches; not recorded
        results = run_rounds(tools, lambda tool: measure(tool, args.url, sql), args.repeat, log)
        summary = summarize(results)
        sections += ["", f"## {name} ({expected:,} rows, `{sql}`)", "",
                     report_table(summary), "", row_check(summary, expected)]
    sections += ["", "Notes:", *[f"- {note}" for note in NOTES]]

    report = "\n".join(sections) + "\n"
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    log(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
