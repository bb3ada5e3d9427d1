//! Just enough SQL scanning to split a query by ctid: the top-level clauses of a statement,
//! with strings, quoted identifiers, comments and parentheses stepped over.

use std::ops::Range;

use crate::lex::{block_comment_end, dollar_tag, is_ident_byte};

/// One token of a statement, at its parenthesis depth.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Token {
    kind: Kind,
    span: Range<usize>,
    depth: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A keyword or an unquoted identifier.
    Word,
    /// A `"quoted identifier"`.
    Quoted,
    /// A string, dollar-quoted string or number.
    Literal,
    Open,
    Close,
    Comma,
    Dot,
    /// Any other operator or punctuation.
    Other,
}

fn tokens(sql: &str) -> Vec<Token> {
    let bytes = sql.as_bytes();
    let mut tokens = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let kind = match bytes[i] {
            c if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = block_comment_end(bytes, i);
                continue;
            }
            b'\'' => {
                let escapes = i > 0 && matches!(bytes[i - 1], b'e' | b'E');
                i = quoted_end(bytes, i, b'\'', escapes);
                Kind::Literal
            }
            b'"' => {
                i = quoted_end(bytes, i, b'"', false);
                Kind::Quoted
            }
            b'$' if dollar_tag(&bytes[i..]).is_some() => {
                let tag_len = dollar_tag(&bytes[i..]).unwrap_or(1);
                let tag = &sql[i..i + tag_len];
                let body = i + tag_len;
                i = sql[body..].find(tag).map_or(bytes.len(), |end| body + end + tag_len);
                Kind::Literal
            }
            c if c.is_ascii_digit() => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.' || bytes[i] == b'_') {
                    i += 1;
                }
                Kind::Literal
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while i < bytes.len() && is_ident_byte(bytes[i]) {
                    i += 1;
                }
                Kind::Word
            }
            b'(' | b'[' => {
                i += 1;
                depth += 1;
                tokens.push(Token { kind: Kind::Open, span: start..i, depth: depth - 1 });
                continue;
            }
            b')' | b']' => {
                i += 1;
                depth = depth.saturating_sub(1);
                Kind::Close
            }
            b',' => {
                i += 1;
                Kind::Comma
            }
            b'.' => {
                i += 1;
                Kind::Dot
            }
            _ => {
                i += 1;
                Kind::Other
            }
        };
        tokens.push(Token { kind, span: start..i.min(bytes.len()), depth });
    }
    tokens
}

/// The end (just past the closing quote) of a quoted run starting at `i`.
fn quoted_end(bytes: &[u8], mut i: usize, quote: u8, escapes: bool) -> usize {
    i += 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if escapes => i += 2,
            c if c == quote && bytes.get(i + 1) == Some(&quote) => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Top-level words of `sql`, lowercased, with their token positions.
fn top_words<'a>(sql: &'a str, tokens: &'a [Token]) -> impl Iterator<Item = (usize, String)> + 'a {
    tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| t.depth == 0 && t.kind == Kind::Word)
        .map(|(i, t)| (i, sql[t.span.clone()].to_ascii_lowercase()))
}

/// The clause at the top of `sql` that fixes the order or the number of its rows (`ORDER BY`,
/// `LIMIT`, `OFFSET`, `FETCH`), which a partitioned read cannot keep.
pub fn ordering_clause(sql: &str) -> Option<&'static str> {
    let tokens = tokens(sql);
    let words: Vec<(usize, String)> = top_words(sql, &tokens).collect();
    words.iter().enumerate().find_map(|(n, (_, word))| {
        let next = words.get(n + 1).map(|(_, w)| w.as_str());
        match (word.as_str(), next) {
            ("order", Some("by")) => Some("ORDER BY"),
            ("limit", _) => Some("LIMIT"),
            ("offset", _) => Some("OFFSET"),
            ("fetch", Some("first" | "next")) => Some("FETCH"),
            _ => None,
        }
    })
}

/// A `SELECT ... FROM one_table [alias] [WHERE ...]` statement, as positions in its text.
#[derive(Debug, PartialEq, Eq)]
pub struct SingleTable {
    /// The table reference as written (`lineitem`, `public."Orders"`).
    pub table: Range<usize>,
    /// The condition after `WHERE`, if any.
    pub condition: Option<Range<usize>>,
}

/// `sql` as a scan of one table with projection and filters, or `None` when it is anything
/// else (a join, grouping, set operation, CTE, ...). Aggregates in the select list are not
/// seen here: the caller checks the plan.
pub fn single_table(sql: &str) -> Option<SingleTable> {
    let tokens = tokens(sql);
    let words: Vec<(usize, String)> = top_words(sql, &tokens).collect();
    if words.first().map(|(i, w)| (*i, w.as_str())) != Some((0, "select")) {
        return None;
    }
    let clause_words = [
        "group",
        "having",
        "window",
        "union",
        "intersect",
        "except",
        "into",
        "order",
        "limit",
        "offset",
        "fetch",
        "for",
        "join",
        "tablesample",
        "only",
        "lateral",
        "natural",
    ];
    if words.iter().any(|(_, w)| clause_words.contains(&w.as_str())) {
        return None;
    }
    if words.get(1).is_some_and(|(_, w)| w == "distinct") {
        return None;
    }
    // `a IS DISTINCT FROM b` has a FROM that is not the clause.
    let froms: Vec<usize> = words
        .iter()
        .enumerate()
        .filter(|(n, (_, w))| w == "from" && (*n == 0 || words[n - 1].1 != "distinct"))
        .map(|(_, (i, _))| *i)
        .collect();
    let [from] = froms[..] else { return None };
    // The table: name parts joined by dots.
    let mut at = from + 1;
    let first = at;
    loop {
        let part = tokens.get(at)?;
        if !matches!(part.kind, Kind::Word | Kind::Quoted) || part.depth != 0 {
            return None;
        }
        at += 1;
        match tokens.get(at) {
            Some(dot) if dot.kind == Kind::Dot => at += 1,
            _ => break,
        }
    }
    let table = tokens[first].span.start..tokens[at - 1].span.end;
    // An optional alias, then the end or WHERE and its condition.
    let word = |t: Option<&Token>| t.filter(|t| t.kind == Kind::Word).map(|t| sql[t.span.clone()].to_ascii_lowercase());
    if word(tokens.get(at)).as_deref() == Some("as") {
        at += 1;
    }
    if tokens.get(at).is_some_and(|t| t.kind == Kind::Quoted) || word(tokens.get(at)).is_some_and(|w| w != "where") {
        at += 1;
    }
    let rest = &tokens[at.min(tokens.len())..];
    let rest: Vec<&Token> = rest.iter().filter(|t| !(t.kind == Kind::Other && &sql[t.span.clone()] == ";")).collect();
    match rest.first() {
        None => Some(SingleTable { table, condition: None }),
        Some(t) if word(Some(t)).as_deref() == Some("where") && rest.len() > 1 => {
            let last = rest.iter().rev().find(|t| &sql[t.span.clone()] != ";")?;
            Some(SingleTable { table, condition: Some(rest[1].span.start..last.span.end) })
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(sql: &str) -> Option<(&str, Option<&str>)> {
        single_table(sql).map(|s| (&sql[s.table], s.condition.map(|c| &sql[c])))
    }

    #[test]
    fn finds_one_table_and_its_condition() {
        assert_eq!(parts("SELECT * FROM lineitem"), Some(("lineitem", None)));
        assert_eq!(parts("select a, b from public.\"Orders\" o;"), Some(("public.\"Orders\"", None)));
        assert_eq!(
            parts("SELECT a FROM t AS x WHERE a > 1 AND b = 'from y' -- note"),
            Some(("t", Some("a > 1 AND b = 'from y'")))
        );
        assert_eq!(
            parts("SELECT extract(year FROM d), a IS DISTINCT FROM b FROM t WHERE x IN (SELECT y FROM u)"),
            Some(("t", Some("x IN (SELECT y FROM u)")))
        );
        assert_eq!(parts("SELECT $$ from a, b $$ FROM t WHERE c = $1"), Some(("t", Some("c = $1"))));
    }

    #[test]
    fn refuses_everything_else() {
        for sql in [
            "SELECT * FROM a, b",
            "SELECT * FROM a JOIN b USING (id)",
            "SELECT k, count(*) FROM t GROUP BY k",
            "SELECT DISTINCT k FROM t",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "SELECT * FROM t UNION ALL SELECT * FROM u",
            "SELECT * FROM t ORDER BY a",
            "SELECT * FROM (SELECT * FROM t) s",
            "SELECT * FROM generate_series(1, 3) g",
            "SELECT 1",
            "TABLE t",
            "SELECT * FROM t WHERE",
            "SELECT * FROM t x y",
        ] {
            assert_eq!(single_table(sql), None, "{sql}");
        }
    }

    #[test]
    fn spots_ordering_clauses_at_the_top_only() {
        assert_eq!(ordering_clause("SELECT * FROM t ORDER BY a"), Some("ORDER BY"));
        assert_eq!(ordering_clause("SELECT * FROM t LIMIT 5"), Some("LIMIT"));
        assert_eq!(ordering_clause("SELECT * FROM t OFFSET 5"), Some("OFFSET"));
        assert_eq!(ordering_clause("SELECT * FROM t FETCH FIRST 5 ROWS ONLY"), Some("FETCH"));
        assert_eq!(ordering_clause("SELECT string_agg(a, ',' ORDER BY a) FROM t"), None);
        assert_eq!(ordering_clause("SELECT * FROM (SELECT * FROM t LIMIT 3) s"), None);
        assert_eq!(ordering_clause("SELECT 'order by' AS \"limit\" FROM t -- limit"), None);
    }
}
