#!/usr/bin/env bash
# Captures the golden files of tests/golden.rs from a real PostgreSQL server, so the decoder is
# checked against bytes PostgreSQL itself wrote (binary COPY), never against our own encoder.
#
#   bash arrow-codec/tests/golden/capture.sh      # PostgreSQL 15 on 127.0.0.1:5432, db "test"
#
# Each family gets NAME.bin (`COPY ... (FORMAT binary)`: header, tuples, trailer). The numeric
# families also get NAME.txt: the same rows as `x::text`, one a line (NULL as \N), which the
# test compares with the decoder's text and decimal output. Rows are ordered by the first
# VALUES column, which is not copied. Rerun only when adding cases: the .bin files are
# committed and the expected values in golden.rs are written against them.
set -euo pipefail
cd "$(dirname "$0")"

export PGHOST="${PGHOST:-127.0.0.1}" PGUSER="${PGUSER:-postgres}" PGDATABASE="${PGDATABASE:-test}"
# Fixed session settings, so literals without an offset mean the same on any server.
export PGOPTIONS="-c timezone=UTC -c datestyle=ISO,MDY -c intervalstyle=postgres"

# capture NAME COLUMNS VALUES: copies `SELECT COLUMNS FROM (VALUES ...) v(i, ...) ORDER BY i`.
# COLUMNS casts to the exact type: a VALUES column loses the typmod (numeric(15,2), bpchar(5))
# unless every row has it.
capture() {
    local name=$1 columns=$2 values=$3
    local query="SELECT $columns FROM (VALUES $values) ORDER BY i"
    psql -X -q -v ON_ERROR_STOP=1 -c "\copy ($query) TO '$name.bin' WITH (FORMAT binary)"
    echo "$name.bin: $(wc -c < "$name.bin") bytes"
}

# text_of NAME COLUMN VALUES: the column's text form, as `SELECT x::text` prints it.
text_of() {
    local name=$1 column=$2 values=$3
    psql -X -q -v ON_ERROR_STOP=1 -c "\copy (SELECT $column::text FROM (VALUES $values) ORDER BY i) TO '$name.txt'"
}

capture bool "b" "(1, true), (2, false), (3, NULL)) v(i, b"

capture int "a::int2, b::int4, c::int8" "
    (1, 0::int2, 0::int4, 0::int8),
    (2, 1, -1, 42),
    (3, -32768, -2147483648, -9223372036854775808),
    (4, 32767, 2147483647, 9223372036854775807),
    (5, NULL, NULL, NULL)) v(i, a, b, c"

capture oid "o" "(1, 0::oid), (2, 1259), (3, 4294967295), (4, NULL)) v(i, o"

capture float "r::float4, d::float8" "
    (1, 1.5::float4, 1.5::float8),
    (2, '-0', '-0'),
    (3, 'NaN', 'NaN'),
    (4, 'Infinity', 'Infinity'),
    (5, '-Infinity', '-Infinity'),
    (6, 0.1, 0.1),
    (7, '3.4028235e38', '1.7976931348623157e308'),
    (8, '1e-45', '5e-324'),
    (9, NULL, NULL)) v(i, r, d"

NUMERIC_15_2="
    (1, 0::numeric(15,2)), (2, 1.5), (3, -123.45), (4, 0.01), (5, -0.01),
    (6, 9999999999999.99), (7, -9999999999999.99), (8, 1000000), (9, 12345.678),
    (10, NULL)) v(i, x"
capture numeric_15_2 "x::numeric(15,2)" "$NUMERIC_15_2"
text_of numeric_15_2 "x::numeric(15,2)" "$NUMERIC_15_2"

NUMERIC_50_10="
    (1, 0::numeric(50,10)), (2, 1.5), (3, -0.0000000001),
    (4, 1234567890123456789012345678901234567890.0123456789),
    (5, -9999999999999999999999999999999999999999.9999999999),
    (6, 100000000000000000000000000000000000000), (7, NULL)) v(i, x"
capture numeric_50_10 "x::numeric(50,10)" "$NUMERIC_50_10"
text_of numeric_50_10 "x::numeric(50,10)" "$NUMERIC_50_10"

NUMERIC="
    (1, 'NaN'::numeric), (2, 'Infinity'), (3, '-Infinity'), (4, 0), (5, 0.000), (6, 1.500),
    (7, -1.5), (8, 10000), (9, 1000000), (10, 0.0001), (11, 12345.6789), (12, -0.00001234),
    (13, 123456789012345678901234567890.123456789), (14, 1e100), (15, -1e-100),
    (16, 9.99e300), (17, 1e-1000), (18, 12e999), (19, '-0.00'), (20, NULL)) v(i, x"
capture numeric "x" "$NUMERIC"
text_of numeric "x" "$NUMERIC"

capture text "t::text, v::varchar(10), c::bpchar(5), n::name" "
    (1, 'hello'::text, 'hello'::varchar(10), 'ab'::bpchar(5), 'pg_class'::name),
    (2, '', '', '', ''),
    (3, 'héllo wörld ✓ 日本語 🎉', 'ÄÖÜ', 'é', 'имя'),
    (4, E'tab\there\nnewline \\\\ back', 'x', 'abcde', repeat('n', 63)),
    (5, NULL, NULL, NULL, NULL)) v(i, t, v, c, n"

capture json "j::json, b::jsonb" "
    (1, '{\"b\":1,  \"a\":[true,null]}'::json, '{\"b\":1,  \"a\":[true,null]}'::jsonb),
    (2, '\"snö ☃\"', '\"snö ☃\"'),
    (3, '[]', '[]'),
    (4, '1.50', '1.50'),
    (5, NULL, NULL)) v(i, j, b"

capture bytea "b" "
    (1, '\\x'::bytea), (2, '\\x00ff10'), (3, 'abc'), (4, '\\xdeadbeef'), (5, NULL)) v(i, b"

capture date "d" "
    (1, '2000-01-01'::date), (2, '1970-01-01'), (3, '1969-12-31'), (4, '2024-02-29'),
    (5, '0001-01-01 BC'), (6, '4714-11-24 BC'), (7, '5874897-12-31'),
    (8, 'infinity'), (9, '-infinity'), (10, NULL)) v(i, d"

capture time "t" "
    (1, '00:00'::time), (2, '12:34:56.789012'), (3, '23:59:59.999999'), (4, '24:00:00'),
    (5, NULL)) v(i, t"

# Same instants in both columns: the timestamptz literals carry their offset.
capture timestamp "ts::timestamp, tz::timestamptz" "
    (1, '2000-01-01 00:00:00'::timestamp, '2000-01-01 00:00:00+00'::timestamptz),
    (2, '1970-01-01 00:00:00', '1970-01-01 02:00:00+02'),
    (3, '1969-12-31 23:59:59.999999', '1969-12-31 23:59:59.999999+00'),
    (4, '2024-02-29 12:34:56.123456', '2024-02-29 14:34:56.123456+02'),
    (5, '0044-03-15 12:00:00 BC', '0044-03-15 12:00:00+00 BC'),
    (6, '4714-11-24 00:00:00 BC', '4714-11-24 00:00:00+00 BC'),
    (7, 'infinity', 'infinity'),
    (8, '-infinity', '-infinity'),
    (9, NULL, NULL)) v(i, ts, tz"

# Valid PostgreSQL, beyond timestamp[us] since Arrow's epoch is 30 years before PostgreSQL's.
capture timestamp_max "ts" "(1, '294276-12-31 23:59:59.999999'::timestamp)) v(i, ts"

capture interval "x" "
    (1, '1 year 2 months 3 days 04:05:06.789'::interval), (2, '-1 day'),
    (3, '-3 months +5 days -00:00:01'), (4, '0'), (5, '25 hours'), (6, '1 mon'),
    (7, '178000000 years'), (8, '-0.000001 s'), (9, NULL)) v(i, x"

# Valid PostgreSQL, but i64 microseconds do not fit i64 nanoseconds.
capture interval_max "x" "(1, '2562047788:00:54.775807'::interval)) v(i, x"

capture uuid "u" "
    (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid),
    (2, '00000000-0000-0000-0000-000000000000'),
    (3, 'ffffffff-ffff-ffff-ffff-ffffffffffff'), (4, NULL)) v(i, u"

# ---------------------------------------------------------------------------------------------
# Types with parts and the other native mappings: enums, composites, ranges, multiranges,
# timetz, money, bit strings, "char", the oid family, arrays of enums and composites.
#
# Enums and composites need types of their own: they live in a scratch schema, created here and
# dropped on exit. Their OIDs differ on every run and appear inside the captured bytes (the
# attribute and element type OIDs), so they are saved in scratch_types.txt, which golden.rs
# reads to describe the columns as the server would.

# text_rows NAME EXPRESSIONS VALUES: NAME.txt, the expressions' text per row, tab-separated
# (COPY's text format: NULL as \N, backslashes doubled).
text_rows() {
    local name=$1 expressions=$2 values=$3
    psql -X -q -v ON_ERROR_STOP=1 -c "\copy (SELECT $expressions FROM (VALUES $values) ORDER BY i) TO '$name.txt'"
}

SCRATCH=golden_scratch
drop_scratch() { psql -X -q -v ON_ERROR_STOP=1 -c "DROP SCHEMA IF EXISTS $SCRATCH CASCADE"; }
trap drop_scratch EXIT
drop_scratch
psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE SCHEMA $SCRATCH;
CREATE TYPE $SCRATCH.mood AS ENUM ('sad', 'ok', 'happy', 'ünï ☃', 'with "quote", comma');
CREATE TYPE $SCRATCH.inner_t AS (x int4, label text);
-- An attribute dropped after creation: record_send skips it, so the wire has 6 attributes.
CREATE TYPE $SCRATCH.row_t AS (
    id int4, name text, gone int8, m $SCRATCH.mood, missing int4, nested $SCRATCH.inner_t, moods $SCRATCH.mood[]
);
ALTER TYPE $SCRATCH.row_t DROP ATTRIBUTE gone;
-- A composite with no attributes at all (valid: sent as an attribute count of 0).
CREATE TYPE $SCRATCH.empty_t AS ();
SQL
psql -X -q -v ON_ERROR_STOP=1 -c "\copy (SELECT t.typname, t.oid, t.typarray FROM pg_type t
    JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = '$SCRATCH' AND t.typtype IN ('e', 'c')
    ORDER BY t.typname) TO 'scratch_types.txt'"

ENUM="
    (1, 'happy'::$SCRATCH.mood), (2, 'sad'), (3, 'happy'), (4, NULL), (5, 'ünï ☃'),
    (6, 'with \"quote\", comma'), (7, 'sad')) v(i, e"
capture enum "e" "$ENUM"
text_rows enum "e::text" "$ENUM"

COMPOSITE="
    (1, ROW(1, 'hello', 'happy', NULL, ROW(10, 'in'), '{ok,sad}')::$SCRATCH.row_t),
    (2, ROW(-2147483648, '', 'sad', NULL, NULL, '{}')::$SCRATCH.row_t),
    (3, ROW(NULL, NULL, NULL, NULL, ROW(NULL, NULL), NULL)::$SCRATCH.row_t),
    (4, ROW(2147483647, E'quote \" comma , paren ( back \\\\ end', 'with \"quote\", comma', 7,
            ROW(0, ' '), ARRAY['happy', NULL]::$SCRATCH.mood[])::$SCRATCH.row_t),
    (5, NULL)) v(i, c"
capture composite "c" "$COMPOSITE"
text_rows composite "c::text" "$COMPOSITE"

EMPTY_COMPOSITE="
    (1, ROW()::$SCRATCH.empty_t), (2, NULL), (3, ROW()::$SCRATCH.empty_t)) v(i, e"
capture composite_empty "e" "$EMPTY_COMPOSITE"
text_rows composite_empty "e::text" "$EMPTY_COMPOSITE"

# Discrete ranges come canonical ([lower, upper)); the others keep their brackets. infinity is a
# bound value of dates, timestamps and numerics, unlike an unbounded side.
RANGE="
    (1, 'empty'::int4range, 'empty'::int8range, 'empty'::numrange, 'empty'::daterange,
        'empty'::tsrange, 'empty'::tstzrange),
    (2, '(,)', '(,)', '(,)', '(,)', '(,)', '(,)'),
    (3, '[1,)', '[1,)', '[1.5,)', '[2000-01-01,)', '[2000-01-01 00:00,)', '[2000-01-01 00:00+00,)'),
    (4, '(,5]', '(,5]', '(,5.25]', '(,2024-02-29]', '(,2024-02-29 12:34:56.123456]',
        '(,2024-02-29 14:34:56.123456+02]'),
    (5, '[1,5)', '[1,5)', '[-1.5,1.5)', '[1970-01-01,1970-01-02)', '[1970-01-01 00:00,1970-01-01 00:00:00.000001)',
        '[1970-01-01 00:00+00,1970-01-01 01:00+00)'),
    (6, '(1,5]', '(1,5]', '(0,0.001]', '(1999-12-31,2000-01-01]', '(1999-12-31 23:59:59,2000-01-01 00:00]',
        '(1999-12-31 23:59:59+00,2000-01-01 00:00+00]'),
    (7, '[1,5]', '[1,5]', '[1,1]', '[2000-01-01,2000-01-01]', '[2000-01-01 00:00,2000-01-01 00:00]',
        '[2000-01-01 00:00+00,2000-01-01 00:00+00]'),
    (8, '(1,5)', '(1,5)', '(1,2)', '(2000-01-01,2000-01-05)', '(2000-01-01 00:00,2000-01-05 00:00)',
        '(2000-01-01 00:00+00,2000-01-05 00:00+00)'),
    (9, '[-2147483648,2147483647)', '[-9223372036854775808,9223372036854775807)',
        '[-123456789012345678901234567890.123456789,1e30]', '[4714-11-24 BC,5874897-12-31)',
        '[4714-11-24 00:00 BC,0044-03-15 12:00 BC]', '(0044-03-15 12:00+00 BC,0001-01-01 00:00+00)'),
    (10, '(3,4)', '[7,7)', '[-Infinity,Infinity]', '[-infinity,infinity]', '[-infinity,infinity)',
        '(-infinity,infinity]'),
    (11, NULL, NULL, NULL, NULL, NULL, NULL)) v(i, a, b, c, d, e, f"
capture range "a, b, c, d, e, f" "$RANGE"
text_rows range "a::text, b::text, c::text, d::text, e::text, f::text" "$RANGE"

MULTIRANGE="
    (1, '{}'::int4multirange, '{}'::datemultirange),
    (2, '{[1,3), [5,7)}', '{[2000-01-01,2000-02-01), [2024-02-29,infinity]}'),
    (3, '{(,5), [10,)}', '{(,1970-01-01), [2000-01-01,)}'),
    (4, '{[1,2], [3,4]}', '{[4714-11-24 BC,0001-01-01 BC]}'),
    (5, '{(,)}', '{[-infinity,1999-12-31]}'),
    (6, NULL, NULL)) v(i, a, d"
capture multirange "a, d" "$MULTIRANGE"
text_rows multirange "a::text, d::text" "$MULTIRANGE"

# Offsets up to the limit of ±15:59:59; 24:00:00 is a valid time of day.
TIMETZ="
    (1, '00:00:00+00'::timetz), (2, '12:34:56.789012+05:30'), (3, '23:59:59.999999-15:59'),
    (4, '24:00:00+15:59'), (5, '04:05:06-08'), (6, '01:02:03+01:02:03'), (7, '12:00:00-15:59:59'),
    (8, NULL)) v(i, t"
capture timetz "t" "$TIMETZ"
text_rows timetz "t::text" "$TIMETZ"

# money's text depends on lc_monetary: its numeric text is compared instead.
MONEY="
    (1, '-92233720368547758.08'::money), (2, '92233720368547758.07'), (3, '0'), (4, '-1.23'),
    (5, '12.34'), (6, '0.01'), (7, NULL)) v(i, m"
capture money "m" "$MONEY"
text_rows money "m::numeric::text" "$MONEY"

BITS="
    (1, '00000000'::bit(8), ''::varbit), (2, '10100101', '1'), (3, '11111111', '101'),
    (4, '00000001', (repeat('1100101', 142) || '110100')::varbit), (5, '10000000', '000000001'),
    (6, NULL, NULL)) v(i, b, v"
capture bits "b, v" "$BITS"
text_rows bits "b::text, v::text" "$BITS"

# \"char\": '' is byte 0; bytes >= 0x80 print as \\ooo; 'é' keeps its first byte (0xc3).
CHAR="
    (1, 'a'::\"char\"), (2, ''), (3, E'\\\\200'), (4, E'\\\\377'), (5, E'\\\\'), (6, ' '),
    (7, 'é'), (8, NULL)) v(i, c"
capture char "c" "$CHAR"
text_rows char "c::text" "$CHAR"

OIDS="
    (1, 'pg_class'::regclass, 'integer'::regtype, 'now'::regproc, '0'::xid, '0'::xid8, '0'::cid),
    (2, 'pg_type', 'golden_scratch.mood', 'pg_catalog.int4in', '42', '42', '7'),
    (3, '-', '-', '-', '4294967295', '18446744073709551615', '4294967295'),
    (4, NULL, NULL, NULL, NULL, NULL, NULL)) v(i, rc, rt, rp, x, x8, c"
capture oids "rc, rt, rp, x, x8, c" "$OIDS"
text_rows oids "rc::oid::text, rt::oid::text, rp::oid::text, x::text, x8::text, c::text" "$OIDS"

ARRAYS="
    (1, '{happy,sad,NULL,happy}'::$SCRATCH.mood[], ARRAY[ROW(1, 'a'), NULL, ROW(NULL, NULL)]::$SCRATCH.inner_t[],
        '{\"[1,5)\",empty,NULL,\"(,3]\"}'::int4range[], '{\"{}\",\"{[1,2)}\"}'::int4multirange[]),
    (2, '{}', '{}', '{}', '{}'),
    (3, '{ok}', ARRAY[ROW(-5, E'x,\"y\"')]::$SCRATCH.inner_t[], '{empty}', '{NULL}'),
    (4, NULL, NULL, NULL, NULL)) v(i, e, c, r, m"
capture arrays "e, c, r, m" "$ARRAYS"
text_rows arrays "e::text, c::text, r::text, m::text" "$ARRAYS"
