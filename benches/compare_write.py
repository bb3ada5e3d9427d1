"""Side-by-side benchmark: loading a pyarrow Table into PostgreSQL.

    python benches/compare_write.py [--url URL] [--rows 2000000] [--repeat 3]
        [--tools data_bridge,adbc,pgpq,psycopg,pandas,server] [--slice 100000]
        [--out bench-results/compare_write.md]

The source is the lineitem-shaped table of benches/tables.py, read once and kept as an Arrow
IPC file; every measurement runs in a fresh Python process that memory-maps it, connects,
then times only the load into an empty copy of the table (append; TRUNCATE between runs).
`server` is the floor: the server's own `COPY ... FROM` a binary file of the same rows.
psycopg `write_row` and pandas `to_sql` load a `--slice`-row prefix and their time is
scaled to the full row count (reported as such).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import markdown_table, number, ratio, reset_peak_rss, short_error, vm_rss_kib  # noqa: E402
from tables import ensure_table  # noqa: E402

# Plain TCP for every tool: TLS costs CPU on both sides of a loopback connection.
FALLBACK_URL = "postgresql://postgres@127.0.0.1:5432/test?sslmode=disable"
ALL_TOOLS = ["data_bridge", "adbc", "pgpq", "psycopg", "pandas", "server"]
SLICED = {"psycopg", "pandas"}
TARGET = "bench_write_lineitem"
SOURCE = "bench_lineitem"


# --------------------------------------------------------------------------- child side


def load_data_bridge(url, table, target=TARGET, **options):
    import data_bridge

    db = data_bridge.connect(url)
    return lambda: db.write_arrow(target, table, **options)


def load_adbc(url, table, target=TARGET, mode="append"):
    import adbc_driver_postgresql.dbapi as adbc

    conn = adbc.connect(url)

    def load():
        with conn.cursor() as cursor:
            rows = cursor.adbc_ingest(target, table, mode=mode)
        conn.commit()
        return rows

    return load


def load_pgpq(url, table, target=TARGET, create=False):
    import psycopg
    from pgpq import ArrowToPostgresBinaryEncoder

    conn = psycopg.connect(url)

    def load():
        encoder = ArrowToPostgresBinaryEncoder(table.schema)
        with conn.cursor() as cursor:
            if create:  # the table pgpq derives from the Arrow schema (ddl() defaults to TEMP)
                cursor.execute(encoder.schema().ddl(target, temp_table=False))
            with cursor.copy(f"COPY {target} FROM STDIN (FORMAT binary)") as copy:
                copy.write(encoder.write_header())
                for batch in table.to_batches():
                    copy.write(encoder.write_batch(batch))
                copy.write(encoder.finish())
        conn.commit()
        return table.num_rows

    return load


def load_psycopg(url, table):
    import psycopg

    conn = psycopg.connect(url)
    # psycopg has no binary dumper for bpchar: text is what the server receives for char(n).
    types = ["int8", "int8", "int8", "int4", "numeric", "numeric", "numeric", "numeric",
             "text", "text", "date", "date", "date", "text", "text", "text"]

    def load():
        with conn.cursor() as cursor:
            with cursor.copy(f"COPY {TARGET} FROM STDIN (FORMAT binary)") as copy:
                copy.set_types(types)
                for batch in table.to_batches():
                    columns = [column.to_pylist() for column in batch.columns]
                    for row in zip(*columns):
                        copy.write_row(row)
        conn.commit()
        return table.num_rows

    return load


def load_pandas(url, table):
    import pyarrow as pa
    import sqlalchemy

    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    # pandas holds numeric(15,2) as Decimal objects, which to_sql sends as varchar (and the
    # server refuses); a pandas user has them as float64, so that is what we load.
    frame = table.to_pandas()
    for field in table.schema:
        if pa.types.is_decimal(field.type):
            frame[field.name] = frame[field.name].astype("float64")

    def load():
        frame.to_sql(TARGET, engine, if_exists="append", index=False, chunksize=10_000)
        return len(frame)

    return load


LOADERS = {"data_bridge": load_data_bridge, "adbc": load_adbc, "pgpq": load_pgpq,
           "psycopg": load_psycopg, "pandas": load_pandas}


def child_main(tool, url, source, rows, loaders=LOADERS):
    """Entry point of the measuring subprocess: one JSON line with the result.

    `loaders` maps tool names to setup functions (other bench scripts pass their own).
    """
    import pyarrow as pa

    try:
        table = pa.ipc.open_file(pa.memory_map(source)).read_all().slice(0, rows)
        load = loaders[tool](url, table)
        reset_peak_rss()
        rss_before = vm_rss_kib()
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        load()
        seconds = time.perf_counter() - start
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        result = {
            "seconds": seconds,
            "cpu": (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime),
            "peak_mb": (cpu_after.ru_maxrss - rss_before) / 1024,
            "rows": table.num_rows,
        }
    except BaseException as exc:  # reported, not raised
        result = {"error": short_error(exc)}
    print(json.dumps(result), flush=True)


# --------------------------------------------------------------------------- parent side


def psql(url, sql):
    return subprocess.run(["psql", url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          capture_output=True, text=True, check=True)


def prepare(url, rows, log):
    """The source table, its Arrow IPC file and binary COPY file, and the empty target."""
    source, binary = source_files(url, rows, log)
    psql(url, f"DROP TABLE IF EXISTS {TARGET}; CREATE TABLE {TARGET} (LIKE {SOURCE})")
    return source, binary


def source_files(url, rows, log):
    """The source table and, made once and kept, its Arrow IPC file and binary COPY file."""
    import data_bridge
    import pyarrow as pa

    ensure_table(url, "lineitem", rows, log)
    out = Path("bench-results")
    out.mkdir(exist_ok=True)
    source = out / f"lineitem-{rows}.arrow"
    if not source.exists():
        table = data_bridge.connect(url).read_arrow(f"SELECT * FROM {SOURCE}")
        with pa.ipc.new_file(source, table.schema) as writer:
            writer.write_table(table)
    binary = Path(f"/tmp/data_bridge_{SOURCE}_{rows}.bin")
    if not binary.exists():
        psql(url, f"COPY {SOURCE} TO '{binary}' (FORMAT binary)")
    return source, binary


def measure(tool, url, source, binary, rows):
    psql(url, f"TRUNCATE {TARGET}; CHECKPOINT")
    if tool == "server":
        start = time.perf_counter()
        psql(url, f"COPY {TARGET} FROM '{binary}' (FORMAT binary)")
        return {"seconds": time.perf_counter() - start, "rows": rows}
    command = [sys.executable, __file__, "--child", tool, "--url", url, "--source", str(source),
               "--child-rows", str(rows)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:160]}
    if "error" not in result:
        result["loaded"] = int(psql(url, f"SELECT count(*) FROM {TARGET}").stdout.strip())
    return result


def summarize(results, full_rows):
    summary = {}
    for tool, runs in results.items():
        errors = [r["error"] for r in runs if "error" in r]
        if errors:
            summary[tool] = {"error": errors[0]}
            continue
        scale = full_rows / runs[0]["rows"]
        times = [r["seconds"] * scale for r in runs]
        summary[tool] = {
            "median": statistics.median(times), "min": min(times), "max": max(times),
            "cpu": statistics.median(r["cpu"] * scale for r in runs) if "cpu" in runs[0] else None,
            "peak_mb": max(r["peak_mb"] for r in runs) if "peak_mb" in runs[0] else None,
            "rows": runs[0]["rows"], "loaded_ok": all(r.get("loaded", r["rows"]) == r["rows"] for r in runs),
        }
    return summary


def report(summary):
    header = ["tool", "median s", "min s", "max s", "vs server COPY", "vs data_bridge",
              "client CPU s", "peak RSS Δ MB", "rows loaded", "count ok"]
    floor = summary.get("server", {}).get("median")
    ours = summary.get("data_bridge", {}).get("median")
    rows = []
    for tool, s in summary.items():
        if "error" in s:
            rows.append([tool, f"error: {s['error']}"] + [""] * (len(header) - 2))
            continue
        name = f"{tool} (scaled from {s['rows']:,})" if tool in SLICED else tool
        rows.append([name, f"{s['median']:.3f}", f"{s['min']:.3f}", f"{s['max']:.3f}",
                     ratio(s["median"], floor), ratio(s["median"], ours), number(s["cpu"], ".2f"),
                     number(s["peak_mb"], ".1f"), f"{s['rows']:,}", "yes" if s["loaded_ok"] else "NO"])
    return markdown_table(header, rows)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--slice", type=int, default=100_000, help="rows for psycopg and pandas")
    parser.add_argument("--tools", default=",".join(ALL_TOOLS))
    parser.add_argument("--out", default="bench-results/compare_write.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--child-rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    url = args.url or os.environ.get("DATABASE_URL") or FALLBACK_URL
    if args.child:
        return child_main(args.child, url, args.source, args.child_rows)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    tools = args.tools.split(",")
    source, binary = prepare(url, args.rows, log)
    results = {tool: [] for tool in tools}
    for round_no in range(args.repeat):
        shift = round_no % len(tools)
        for tool in tools[shift:] + tools[:shift]:
            if any("error" in r for r in results[tool]):
                continue
            rows = min(args.slice, args.rows) if tool in SLICED else args.rows
            result = measure(tool, url, source, binary, rows)
            results[tool].append(result)
            outcome = result.get("error") or f"{result['seconds']:.3f} s"
            log(f"  round {round_no + 1}/{args.repeat} {tool:<12} {outcome}")
    text = f"## load {args.rows:,} lineitem rows from a pyarrow Table (append into an empty table)\n\n"
    text += report(summarize(results, args.rows)) + "\n"
    print(text)
    Path(args.out).parent.mkdir(exist_ok=True)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
