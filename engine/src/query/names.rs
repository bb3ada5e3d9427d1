//! The only names written into SQL unquoted: function names and type names, each checked
//! against a strict pattern first.

/// PostgreSQL's longest identifier (NAMEDATALEN - 1); longer ones are truncated, so two
/// different names could meet.
pub(crate) const MAX_IDENT_BYTES: usize = 63;

/// `[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes.
fn is_word(word: &str) -> bool {
    let mut bytes = word.bytes();
    word.len() <= MAX_IDENT_BYTES
        && bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `name` or `schema.name`, each a word.
pub(crate) fn is_function_name(name: &str) -> bool {
    match name.split_once('.') {
        Some((schema, name)) => is_word(schema) && is_word(name),
        None => is_word(name),
    }
}

/// Words separated by single spaces (the first may be `schema.name`), one optional `(n)` or
/// `(p,s)` after a word, then optional `[]`s: `integer`, `numeric(12,2)`, `double precision`,
/// `timestamp(3) with time zone`, `public.mood[]`, `varchar(20)[]`. Nothing else.
pub(crate) fn is_type_name(name: &str) -> bool {
    let mut base = name;
    while let Some(stripped) = base.strip_suffix("[]") {
        base = stripped;
    }
    let (head, tail) = match base.split_once('(') {
        Some((head, rest)) => {
            let Some((typmod, tail)) = rest.split_once(')') else { return false };
            let digits = |s: &str| !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit());
            let typmod_ok = match typmod.split_once(',') {
                Some((p, s)) => digits(p) && digits(s.strip_prefix(' ').unwrap_or(s)),
                None => digits(typmod),
            };
            if !typmod_ok || !(tail.is_empty() || tail.starts_with(' ')) {
                return false;
            }
            (head, tail.strip_prefix(' ').unwrap_or(tail))
        }
        None => (base, ""),
    };
    let words = |s: &str, first_may_qualify: bool| {
        s.split(' ')
            .enumerate()
            .all(|(i, w)| if i == 0 && first_may_qualify { is_function_name(w) } else { is_word(w) })
    };
    !head.is_empty() && words(head, true) && (tail.is_empty() || words(tail, false))
}

#[cfg(test)]
mod tests {
    use super::{is_function_name, is_type_name};

    #[test]
    fn type_names_follow_the_strict_pattern() {
        for good in [
            "integer",
            "int8",
            "numeric(12,2)",
            "numeric(12, 2)",
            "varchar(20)",
            "double precision",
            "timestamp with time zone",
            "timestamp(3) with time zone",
            "text[]",
            "int4[][]",
            "varchar(20)[]",
            "public.mood",
            "_private_type",
        ] {
            assert!(is_type_name(good), "{good}");
        }
        for bad in [
            "",
            " int",
            "int ",
            "int  4",
            "int)",
            "numeric(12,2",
            "numeric(a)",
            "numeric(12,2,3)",
            "numeric()",
            "text; DROP TABLE x",
            "text) OR (1=1",
            "\"quoted\"",
            "a.b.c",
            "int[",
            "int4[1]",
            "text --",
            "text/**/",
            "1int",
            "tëxt",
        ] {
            assert!(!is_type_name(bad), "{bad}");
        }
    }

    #[test]
    fn function_names_are_words() {
        assert!(is_function_name("date_part"));
        assert!(is_function_name("pg_catalog.lower"));
        for bad in ["", "lower(", "a.b.c", "x y", "\"f\"", "f;", ".f", "f."] {
            assert!(!is_function_name(bad), "{bad}");
        }
    }
}
