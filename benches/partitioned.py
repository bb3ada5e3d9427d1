"""Side-by-side benchmark: partitioned reads and multi-connection ingest of bench_lineitem.

    python benches/partitioned.py [--url URL] [--rows 2000000] [--repeat 5]
        [--reads-only | --ingest-only] [--tools data_bridge,connectorx,duckdb,psql,adbc,pgpq,server]
        [--out bench-results/partitioned.md]

Reads: `SELECT * FROM bench_lineitem` into a pyarrow.Table with data_bridge (1, 2 and 4
partitions, without and with partition_on l_orderkey), ConnectorX (partition_on l_orderkey),
DuckDB's postgres scanner (2 and 4 threads/connections) and psql's binary \\copy as the floor.
Ingest: the same rows, from an Arrow IPC file, into a new table (create mode) with data_bridge
(1, 2 and 4 connections), ADBC, pgpq and the server's own COPY FROM a binary file as the floor.

Every measurement is a fresh subprocess (compare.py's and compare_write.py's children, with
this script's tool variants); tools run round-robin and the report gives medians. While a
measurement runs, the parent samples pg_stat_activity to see how many backends worked at once.
"""

import argparse
import importlib.metadata
import os
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402
import compare_write  # noqa: E402
from compare import markdown_table, number, ratio  # noqa: E402
from tables import ensure_table, expected_rows  # noqa: E402

SOURCE = "bench_lineitem"
TARGET = "bench_partitioned_ingest"
KEY = "l_orderkey"
SQL = f"SELECT * FROM {SOURCE}"
SAMPLE_EVERY_S = 0.05
APP = "bench-partitioned"  # application_name of every benchmark connection, for the sampler


# --------------------------------------------------------------------------- child side: reads


def prepare_data_bridge(url, sql, partitions=1, partition_on=None):
    """data_bridge with a pool big enough for every partition; partitions=1 is a plain read."""
    import data_bridge

    # application_name as a keyword: data_bridge ignores the URL's application_name
    db = data_bridge.connect(url, max_connections=8, application_name=APP)
    db.read_arrow("SELECT 1")  # one pooled connection outside the timed region, as compare.py
    if partitions == 1:
        return lambda: db.read_arrow(sql)
    options = {"partitions": partitions}
    if partition_on:
        options["partition_on"] = partition_on
    return lambda: db.read_arrow(sql, **options)


def prepare_connectorx(url, sql, partitions):
    """ConnectorX splits on the key's min..max range; it connects inside read_sql."""
    import connectorx

    return lambda: connectorx.read_sql(url, sql, return_type="arrow",
                                       partition_on=KEY, partition_num=partitions)


def duckdb_postgres_extension():
    """The postgres extension file from the duckdb-extension-postgres wheel, loadable by path.

    DuckDB finds the entry point from the file name (`<name>_duckdb_cpp_init`); the wheel
    names the file postgres.duckdb_extension but the binary exports
    postgres_scanner_duckdb_cpp_init, so we load it through a link of that name.
    (`INSTALL postgres` would fetch from DuckDB's repository, which is not reachable here.)
    """
    import duckdb_extension_postgres

    package = Path(duckdb_extension_postgres.__file__).parent
    shipped = next(package.glob("extensions/*/postgres.duckdb_extension"))
    link = Path(tempfile.gettempdir(), "duckdb-postgres", "postgres_scanner.duckdb_extension")
    link.parent.mkdir(exist_ok=True)
    link.unlink(missing_ok=True)
    link.symlink_to(shipped)
    return link


def prepare_duckdb(url, sql, connections):
    """DuckDB attaches the database; its ctid-range scan runs one COPY per thread.

    threads caps the parallel scan, pg_pool_max_connections the connections it may use.
    """
    import duckdb

    con = duckdb.connect()
    con.execute(f"LOAD '{duckdb_postgres_extension()}'")
    con.execute(f"SET threads = {connections}")
    con.execute(f"SET pg_pool_max_connections = {connections}")
    con.execute(f"ATTACH '{url}' AS pg (TYPE postgres, READ_ONLY)")
    con.execute("USE pg.public")  # so the same SQL text names the Postgres table
    con.sql(f"{sql} LIMIT 1").fetchall()  # schema cache and a first connection, untimed
    return lambda: con.sql(sql).to_arrow_table()


READERS = {
    "data_bridge": prepare_data_bridge,
    "data_bridge partitions=2": partial(prepare_data_bridge, partitions=2),
    "data_bridge partitions=4": partial(prepare_data_bridge, partitions=4),
    f"data_bridge partitions=2 on {KEY}":
        partial(prepare_data_bridge, partitions=2, partition_on=KEY),
    f"data_bridge partitions=4 on {KEY}":
        partial(prepare_data_bridge, partitions=4, partition_on=KEY),
    f"connectorx partition_num=2 on {KEY}": partial(prepare_connectorx, partitions=2),
    f"connectorx partition_num=4 on {KEY}": partial(prepare_connectorx, partitions=4),
    "duckdb threads=2": partial(prepare_duckdb, connections=2),
    "duckdb threads=4": partial(prepare_duckdb, connections=4),
}

# --------------------------------------------------------------------------- child side: ingest


def load_data_bridge(url, table, connections=1):
    """data_bridge creates the table from the Arrow schema; connections=1 is the default call."""
    import data_bridge

    db = data_bridge.connect(url, max_connections=8, application_name=APP)
    db.read_arrow("SELECT 1")  # one pooled connection outside the timed region
    options = {"connections": connections} if connections > 1 else {}
    return lambda: db.write_arrow(TARGET, table, mode="create", **options)


INGESTERS = {
    "data_bridge": load_data_bridge,
    "data_bridge connections=2": partial(load_data_bridge, connections=2),
    "data_bridge connections=4": partial(load_data_bridge, connections=4),
    "adbc": partial(compare_write.load_adbc, target=TARGET, mode="create"),
    "pgpq": partial(compare_write.load_pgpq, target=TARGET, create=True),
}

# --------------------------------------------------------------------------- parent side


def tagged(url):
    """`url` with application_name=APP, so the sampler counts only this benchmark's backends."""
    if "://" not in url:  # a key=value connection string
        return f"{url} application_name={APP}"
    return url + ("&" if "?" in url else "?") + f"application_name={APP}"


class BusyBackends:
    """While the `with` block runs, a thread samples pg_stat_activity every SAMPLE_EVERY_S
    and keeps the peak number of active connections named APP (its own aside).

    Only client backends: parallel workers carry their leader's application_name too.
    """

    QUERY = ("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
             " AND backend_type = 'client backend' AND state = 'active'"
             " AND pid <> pg_backend_pid()")

    def __init__(self, url):
        self.url = url
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self):
        import psycopg

        # autocommit: every sample is its own transaction, so it sees fresh statistics
        self._conn = psycopg.connect(self.url, autocommit=True)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(SAMPLE_EVERY_S):
            self.peak = max(self.peak, self._conn.execute(self.QUERY, (APP,)).fetchone()[0])

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._conn.close()


def with_backends(url, measure):
    """Run measure() while sampling busy backends; add their peak to a successful result."""
    with BusyBackends(url) as busy:
        result = measure()
    if "error" not in result:
        result["backends"] = busy.peak
    return result


def measure_read(name, url):
    """One read (psql's floor, or a child of this script), sampling busy backends meanwhile."""
    if name == "psql":
        read = partial(compare.measure_psql, url, SQL)
    else:
        read = partial(compare.measure_subprocess, name, url, SQL, script=__file__)
    return with_backends(url, read)


def measure_ingest(name, url, source, binary, rows):
    """One ingest into a table that does not exist yet; drop and count are outside the timing
    and the sampling."""
    compare_write.psql(url, f"DROP TABLE IF EXISTS {TARGET}; CHECKPOINT")
    result = with_backends(url, partial(ingest_once, name, url, source, binary, rows))
    if "error" not in result:
        result["loaded"] = loaded_rows(url)
    return result


def ingest_once(name, url, source, binary, rows):
    if name == "server":  # the floor: CREATE + COPY FROM a server-side file, one psql call
        start = time.perf_counter()
        compare_write.psql(url, f"CREATE TABLE {TARGET} (LIKE {SOURCE}); "
                                f"COPY {TARGET} FROM '{binary}' (FORMAT binary)")
        return {"seconds": time.perf_counter() - start, "rows": rows}
    return compare.run_child([sys.executable, __file__, "--child", name, "--url", url,
                              "--source", str(source), "--child-rows", str(rows)])


def loaded_rows(url):
    """count(*) of the target, or None if the load left no such table (reported as count NO)."""
    try:
        return int(compare_write.psql(url, f"SELECT count(*) FROM {TARGET}").stdout)
    except subprocess.CalledProcessError:
        return None


def peak_backends(runs):
    seen = [r["backends"] for r in runs if "backends" in r]
    return max(seen) if seen else None


def read_report(results, expected):
    """Markdown table of the reads plus compare.py's row-count check."""
    summary = compare.summarize(results)
    header = ["tool", "median s", "min s", "max s", "vs psql", "vs data_bridge",
              "peak RSS Δ MB", "busy backends", "rows"]
    floor = summary.get("psql", {}).get("median")
    ours = summary.get("data_bridge", {}).get("median")
    rows = []
    for tool, s in summary.items():
        if "error" in s:
            rows.append([tool, f"error: {s['error']}"] + [""] * (len(header) - 2))
            continue
        rows.append([tool, f"{s['median']:.3f}", f"{s['min']:.3f}", f"{s['max']:.3f}",
                     ratio(s["median"], floor), ratio(s["median"], ours),
                     number(s["peak_mb"], ".1f"), number(peak_backends(results[tool]), "d"),
                     "/".join(f"{n:,}" for n in s["rows"])])
    return markdown_table(header, rows) + "\n\n" + compare.row_check(summary, expected)


def ingest_report(results, rows_total):
    """Markdown table of the ingests, ratios against ADBC and the server's COPY."""
    summary = compare_write.summarize(results, rows_total)
    header = ["tool", "median s", "min s", "max s", "vs adbc", "vs server COPY",
              "client CPU s", "peak RSS Δ MB", "busy backends", "count ok"]
    adbc = summary.get("adbc", {}).get("median")
    floor = summary.get("server", {}).get("median")
    rows = []
    for tool, s in summary.items():
        if "error" in s:
            rows.append([tool, f"error: {s['error']}"] + [""] * (len(header) - 2))
            continue
        rows.append([tool, f"{s['median']:.3f}", f"{s['min']:.3f}", f"{s['max']:.3f}",
                     ratio(s["median"], adbc), ratio(s["median"], floor), number(s["cpu"], ".2f"),
                     number(s["peak_mb"], ".1f"), number(peak_backends(results[tool]), "d"),
                     "yes" if s["loaded_ok"] else "NO"])
    return markdown_table(header, rows)


def run_reads(args, log):
    ensure_table(args.url, "lineitem", args.rows, log)
    expected = expected_rows("lineitem", args.rows)
    tools = chosen(args.tools, [*READERS, "psql"])
    compare.measure_psql(args.url, SQL)  # warm the caches; not recorded
    results = compare.run_rounds(tools, partial(measure_read, url=args.url), args.repeat, log)
    return [f"## Reads: `{SQL}` ({expected:,} rows) into a pyarrow.Table", "",
            read_report(results, expected)]


def run_ingest(args, log):
    source, binary = compare_write.source_files(args.url, args.rows, log)
    tools = chosen(args.tools, [*INGESTERS, "server"])
    measure = partial(measure_ingest, url=args.url, source=source, binary=binary, rows=args.rows)
    results = compare.run_rounds(tools, measure, args.repeat, log)
    compare_write.psql(args.url, f"DROP TABLE IF EXISTS {TARGET}")
    return [f"## Ingest: {args.rows:,} lineitem rows from a pyarrow.Table into a new table "
            f"(create mode)", "", ingest_report(results, args.rows)]


def chosen(filters, names):
    """The names whose tool (first word) or full name is in `filters`, in `names` order."""
    return [name for name in names if name in filters or name.split()[0] in filters]


def versions():
    out = compare.versions(["data_bridge", "connectorx", "adbc", "psql"])
    for dist in ("duckdb", "duckdb-extension-postgres", "pgpq"):
        try:
            out.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{dist} not installed")
    return out


NOTES = [
    "Each measurement is a fresh process (import, connect, then only the read or load is "
    "timed); tools run round-robin, the first tool rotating each round. A tool that fails "
    "shows as `error: ...` and is not retried.",
    "data_bridge: `connect(url, max_connections=8)` and one `SELECT 1` before the timing, so "
    "the connections beyond the first are opened inside it. ConnectorX connects inside "
    "`read_sql` (its time includes all its connections and its min/max query).",
    "DuckDB: in-memory database, the wheel's extension loaded by path, `SET threads = N`, "
    "`SET pg_pool_max_connections = N`, `ATTACH` read-only, one `LIMIT 1` query untimed; "
    "the timed part is `SELECT * FROM bench_lineitem` (ctid-range scan, pg_pages_per_task "
    "1000) and `.to_arrow_table()`.",
    "Busy backends: peak count of client backends (connections; parallel workers not "
    "counted) in state `active` with this benchmark's "
    f"application_name (added to the URL; data_bridge gets it as a keyword), sampled every "
    f"{SAMPLE_EVERY_S * 1000:.0f} ms from the parent during each measurement, max over rounds.",
    "psql floor: `\\copy (SELECT ...) TO '/dev/null' WITH (FORMAT binary)`, timed as a whole "
    "process. server floor: `CREATE TABLE ... (LIKE bench_lineitem); COPY ... FROM "
    "'<file>' (FORMAT binary)` in one psql call.",
    "Ingest: the target is dropped (and a CHECKPOINT run) before each measurement, outside "
    "the timing; `count ok` compares count(*) after each load with the rows sent. pgpq "
    "creates the table from `encoder.schema().ddl()` and COPYs over psycopg; both are timed.",
    "Created column types differ: data_bridge (from the Arrow fields' pg_type metadata) and "
    "the server floor (LIKE) get bench_lineitem's own numeric(15,2)/char(n)/varchar(44); "
    "ADBC and pgpq create numeric and text.",
]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("DATABASE_URL", compare.FALLBACK_URL),
                        help="PostgreSQL URL (default: $DATABASE_URL, else compare.py's "
                             "plain-TCP URL)")
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (default %(default)s)")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--reads-only", action="store_true")
    only.add_argument("--ingest-only", action="store_true")
    parser.add_argument("--tools", default="data_bridge,connectorx,duckdb,psql,adbc,pgpq,server",
                        help="comma-separated tools or full variant names")
    parser.add_argument("--out", default="bench-results/partitioned.md", help="markdown report")
    parser.add_argument("--child", choices=[*READERS, *INGESTERS], help=argparse.SUPPRESS)
    parser.add_argument("--sql", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--child-rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.tools = {tool for tool in args.tools.split(",") if tool}
    if not args.child:
        args.url = tagged(args.url)  # the children get the tagged URL
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv):
    args = parse_args(argv)
    if args.child and args.sql:  # a read (reader and ingester names overlap)
        return compare.child_main(args.child, args.url, args.sql, prepare=READERS)
    if args.child:
        return compare_write.child_main(args.child, args.url, args.source, args.child_rows,
                                        loaders=INGESTERS)
    log = compare.log
    sections = [
        "# Partitioned reads and multi-connection ingest",
        "",
        f"PostgreSQL {compare.server_info(args.url)}; {os.cpu_count()} CPUs; --rows {args.rows:,}; "
        f"--repeat {args.repeat}; {time.strftime('%Y-%m-%d %H:%M')}",
        "Versions: " + ", ".join(versions()),
    ]
    if not args.ingest_only:
        sections += [""] + run_reads(args, log)
    if not args.reads_only:
        sections += [""] + run_ingest(args, log)
    sections += ["", "Notes:", *[f"- {note}" for note in NOTES]]
    report = "\n".join(sections) + "\n"
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    log(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
