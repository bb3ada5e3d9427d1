//! Small pieces of SQL text the engine builds around a caller's query.
//!
//! The caller's query is only ever wrapped, never edited; values never enter SQL text.

/// Quotes an identifier: `a"b` becomes `"a""b"`.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The query without trailing semicolons and whitespace, so it can be wrapped.
pub fn trim_query(sql: &str) -> &str {
    sql.trim_end_matches(|c: char| c == ';' || c.is_whitespace())
}

/// Whether `sql` can run inside `COPY (...) TO STDOUT`: a SELECT, WITH, VALUES or TABLE
/// statement. Anything else (SHOW, EXPLAIN, INSERT ... RETURNING) uses the extended protocol.
pub fn is_copyable(sql: &str) -> bool {
    let keyword: String = skip_comments(sql)
        .trim_start_matches(|c: char| c == '(' || c.is_whitespace())
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(keyword.as_str(), "select" | "with" | "values" | "table")
}

fn skip_comments(mut sql: &str) -> &str {
    loop {
        sql = sql.trim_start();
        if let Some(rest) = sql.strip_prefix("--") {
            sql = rest.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(rest) = sql.strip_prefix("/*") {
            sql = rest.split_once("*/").map_or("", |(_, after)| after);
        } else {
            return sql;
        }
    }
}

/// Wraps `sql` so that each column with an output function in `output` comes back as the
/// text that function prints (`inet_out(x)::text`: a plain `::text` cast adds inet's netmask).
///
/// The columns are renamed positionally (`_1`, `_2`, ...) because result names may repeat;
/// the caller keeps the original names from the unwrapped description. Output function names
/// come from the catalog as `regproc` text, quoted and qualified as needed.
pub fn with_text_output(sql: &str, output: &[Option<&str>]) -> String {
    let aliases: Vec<String> = (1..=output.len()).map(|i| format!("\"_{i}\"")).collect();
    let select: Vec<String> = aliases
        .iter()
        .zip(output)
        .map(|(alias, function)| match function {
            Some(function) => format!("{function}({alias})::text"),
            None => alias.clone(),
        })
        .collect();
    format!(
        "WITH \"data_bridge_q\"({}) AS (\n{}\n) SELECT {} FROM \"data_bridge_q\"",
        aliases.join(", "),
        trim_query(sql),
        select.join(", ")
    )
}

/// `COPY (sql) TO STDOUT (FORMAT binary)`.
pub fn copy_out(sql: &str) -> String {
    format!("COPY (\n{}\n) TO STDOUT (FORMAT binary)", trim_query(sql))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quote_ident("Mixed Case"), "\"Mixed Case\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn classifies_statements() {
        assert!(is_copyable("select 1"));
        assert!(is_copyable("  -- note\n /* c */ (SELECT 1) UNION (SELECT 2)"));
        assert!(is_copyable("WITH x AS (SELECT 1) SELECT * FROM x"));
        assert!(is_copyable("VALUES (1)"));
        assert!(is_copyable("TABLE t"));
        assert!(!is_copyable("SHOW work_mem"));
        assert!(!is_copyable("INSERT INTO t VALUES (1) RETURNING *"));
        assert!(!is_copyable("selectx"));
    }

    #[test]
    fn wraps_with_casts_and_survives_trailing_comments() {
        let wrapped = with_text_output("SELECT a, b FROM t; -- end", &[None, Some("inet_out")]);
        assert!(wrapped.contains("SELECT \"_1\", inet_out(\"_2\")::text FROM"), "{wrapped}");
        assert!(wrapped.contains("\n-- end\n)") || wrapped.contains("-- end\n)"));
        assert_eq!(copy_out("SELECT 1;  "), "COPY (\nSELECT 1\n) TO STDOUT (FORMAT binary)");
    }
}
