//! Splits a migration file into statements, the way psql does, so each runs (and fails) on its own
//! and an error can name the statement and the line it starts on.
//!
//! Semicolons inside quotes (`'...'`, `E'...'`, `"..."`, `$tag$...$tag$`), comments (`--`, nested
//! `/* */`) and SQL-standard routine bodies (`CREATE FUNCTION ... BEGIN ATOMIC ...; ...; END`) do
//! not end a statement.

use crate::lex::{block_comment_end, dollar_tag, is_ident_byte};

/// One statement of a file: its text (without the closing `;`) and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    /// The statement's text, from its first character of code (comments before it are left out)
    /// up to its `;` (excluded).
    pub text: &'a str,
    /// Byte offset of `text` in the file.
    pub start: usize,
    /// 1-based line of the file where the statement starts.
    pub line: usize,
}

impl Statement<'_> {
    /// The 1-based (line, column) in the file of a server error position, given in characters
    /// (1-based) into this statement.
    pub fn file_position(&self, file: &str, position: usize) -> (usize, usize) {
        let in_statement: usize =
            self.text.char_indices().nth(position.saturating_sub(1)).map_or(self.text.len(), |(at, _)| at);
        let at = self.start + in_statement;
        let before = &file[..at];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(before, |newline| &before[newline + 1..]).chars().count() + 1;
        (line, column)
    }
}

/// Splits `sql` into its statements; blank ones (only spaces and comments) are dropped.
pub fn split(sql: &str) -> Vec<Statement<'_>> {
    let bytes = sql.as_bytes();
    let mut statements = Vec::new();
    let mut start = 0;
    let mut i = 0;
    // Words seen at the top level of the current statement, to spot CREATE FUNCTION/PROCEDURE.
    let mut words = 0usize;
    let mut routine = false;
    let mut or_replace = false;
    let mut depth = 0usize;
    let mut has_code = false;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = block_comment_end(bytes, i);
                continue;
            }
            b'\'' => {
                has_code = true;
                let escapes = i > 0 && matches!(bytes[i - 1], b'e' | b'E') && (i < 2 || !is_ident_byte(bytes[i - 2]));
                i += 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' if escapes => i += 2,
                        b'\'' if bytes.get(i + 1) == Some(&b'\'') => i += 2,
                        b'\'' => break,
                        _ => i += 1,
                    }
                }
                i += 1;
                continue;
            }
            b'"' => {
                has_code = true;
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == b'"' {
                        if bytes.get(i + 1) == Some(&b'"') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
                continue;
            }
            b'$' if i == 0 || !is_ident_byte(bytes[i - 1]) => {
                if let Some(tag_len) = dollar_tag(&bytes[i..]) {
                    has_code = true;
                    let tag = &sql[i..i + tag_len];
                    let body = i + tag_len;
                    i = sql[body..].find(tag).map_or(bytes.len(), |end| body + end + tag_len);
                    continue;
                }
                has_code = true;
                i += 1;
                continue;
            }
            b';' if depth == 0 => {
                push(sql, start, i, has_code, &mut statements);
                i += 1;
                start = i;
                words = 0;
                routine = false;
                or_replace = false;
                has_code = false;
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                has_code = true;
                let from = i;
                while i < bytes.len() && is_ident_byte(bytes[i]) {
                    i += 1;
                }
                let word = sql[from..i].to_ascii_lowercase();
                match (words, word.as_str()) {
                    (0, _) => routine = word == "create",
                    (1, "or") if routine => or_replace = true,
                    (1, "function" | "procedure") if routine => {}
                    (1, _) => routine = false,
                    (2, "replace") if or_replace => {}
                    (3, "function" | "procedure") if or_replace => {}
                    (2 | 3, _) if or_replace => routine = false,
                    _ if routine && words >= 2 => match word.as_str() {
                        "begin" => depth += 1,
                        "case" if depth > 0 => depth += 1,
                        "end" if depth > 0 => depth -= 1,
                        _ => {}
                    },
                    _ => {}
                }
                words += 1;
                continue;
            }
            c if c.is_ascii_whitespace() => {}
            _ => has_code = true,
        }
        i += 1;
    }
    push(sql, start, bytes.len(), has_code, &mut statements);
    statements
}

fn push<'a>(sql: &'a str, from: usize, to: usize, has_code: bool, statements: &mut Vec<Statement<'a>>) {
    if !has_code {
        return;
    }
    let begin = from + code_start(&sql[from..to]);
    let line = sql[..begin].matches('\n').count() + 1;
    statements.push(Statement { text: sql[begin..to].trim_end(), start: begin, line });
}

/// The offset of the first character of `text` that is neither blank nor in a comment.
fn code_start(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
        } else if text[i..].starts_with("--") {
            i = text[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
        } else if text[i..].starts_with("/*") {
            let mut nesting = 0usize;
            while i < bytes.len() {
                if text[i..].starts_with("/*") {
                    nesting += 1;
                    i += 2;
                } else if text[i..].starts_with("*/") {
                    nesting -= 1;
                    i += 2;
                    if nesting == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else {
            break;
        }
    }
    i.min(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<&str> {
        split(sql).into_iter().map(|s| s.text).collect()
    }

    #[test]
    fn plain_statements() {
        assert_eq!(
            texts("CREATE TABLE a (x int);\n\nINSERT INTO a VALUES (1)"),
            ["CREATE TABLE a (x int)", "INSERT INTO a VALUES (1)"]
        );
        assert_eq!(texts("  ;;\n -- only a comment\n;"), Vec::<&str>::new());
    }

    #[test]
    fn quotes_and_comments_hide_semicolons() {
        let sql = "SELECT 'a;b', E'it\\';s', \"we;ird\" -- c;d\n; /* x; /* y; */ z; */ SELECT $$;$$, $f$ $$; $f$;";
        assert_eq!(texts(sql), ["SELECT 'a;b', E'it\\';s', \"we;ird\" -- c;d", "SELECT $$;$$, $f$ $$; $f$"]);
    }

    #[test]
    fn parameters_are_not_dollar_quotes() {
        assert_eq!(texts("PREPARE p AS SELECT $1; SELECT 2"), ["PREPARE p AS SELECT $1", "SELECT 2"]);
    }

    #[test]
    fn begin_atomic_bodies() {
        let sql = "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END;\nBEGIN; SELECT 3; END;";
        assert_eq!(
            texts(sql),
            [
                "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END",
                "BEGIN",
                "SELECT 3",
                "END"
            ]
        );
    }

    #[test]
    fn lines_and_positions() {
        let sql = "-- header\nCREATE TABLE a (x int);\n\n  SELECT\n    nope FROM a;";
        let statements = split(sql);
        assert_eq!(statements[0].line, 2);
        assert_eq!(statements[0].text, "CREATE TABLE a (x int)");
        assert_eq!(statements[1].line, 4);
        // "nope" is character 12 of "SELECT\n    nope FROM a".
        assert_eq!(statements[1].file_position(sql, 12), (5, 5));
    }
}
