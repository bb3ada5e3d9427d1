//! Lexical pieces of PostgreSQL's SQL shared by the scanners that step over strings and
//! comments (the migration splitter, the partition planner).

/// Bytes that continue an identifier or keyword.
pub(crate) fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// The length of a dollar-quote opening tag (`$$` or `$name$`) at the start of `bytes`.
pub(crate) fn dollar_tag(bytes: &[u8]) -> Option<usize> {
    let mut n = 1;
    if bytes.get(n).is_some_and(|b| b.is_ascii_digit()) {
        return None;
    }
    while let Some(&b) = bytes.get(n) {
        if b == b'$' {
            return Some(n + 1);
        }
        if !(b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80) {
            return None;
        }
        n += 1;
    }
    None
}

/// The end (just past `*/`) of the block comment starting at `i`; comments nest.
pub(crate) fn block_comment_end(bytes: &[u8], mut i: usize) -> usize {
    let mut nesting = 0usize;
    while i < bytes.len() {
        if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
            nesting += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
            nesting -= 1;
            i += 2;
            if nesting == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}
