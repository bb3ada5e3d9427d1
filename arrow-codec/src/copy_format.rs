//! The envelope of PostgreSQL's binary COPY format: header, tuple framing and trailer.
//!
//! ```text
//! header:  "PGCOPY\n\xff\r\n\0" | flags: i32 | extension length: i32 | extension bytes
//! tuple:   field count: i16 | per field: length: i32 (-1 = NULL) | bytes
//! trailer: i16 -1
//! ```

use crate::error::{CodecError, Result};

/// The 11-byte signature every binary COPY stream starts with.
pub const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// The two bytes that end a binary COPY stream (a field count of -1).
pub const TRAILER: [u8; 2] = [0xff, 0xff];

/// Bit 16 of the flags: OIDs are included in each tuple (never sent since PostgreSQL 12).
const FLAG_HAS_OIDS: u32 = 1 << 16;
/// Bits 17-31 are reserved for critical format changes: a reader must refuse them.
const FLAGS_CRITICAL: u32 = 0xFFFE_0000;

/// Parses the header at the start of `buf` and returns how many bytes it takes.
pub fn header_len(buf: &[u8]) -> Result<usize> {
    if buf.len() < SIGNATURE.len() + 8 {
        return Err(CodecError::BadHeader { reason: "shorter than the fixed header" });
    }
    if &buf[..SIGNATURE.len()] != SIGNATURE {
        return Err(CodecError::BadHeader { reason: "missing PGCOPY signature" });
    }
    let flags = read_u32(buf, SIGNATURE.len());
    if flags & FLAG_HAS_OIDS != 0 {
        return Err(CodecError::BadHeader { reason: "tuples with OIDs are not supported" });
    }
    if flags & FLAGS_CRITICAL != 0 {
        return Err(CodecError::BadHeader { reason: "unknown critical flags set" });
    }
    let extension = read_u32(buf, SIGNATURE.len() + 4) as usize;
    let len = SIGNATURE.len() + 8 + extension;
    if buf.len() < len {
        return Err(CodecError::BadHeader { reason: "header extension cut short" });
    }
    Ok(len)
}

/// The header of a stream we write: no flags, no extension.
pub fn header() -> [u8; 19] {
    let mut out = [0u8; 19];
    out[..SIGNATURE.len()].copy_from_slice(SIGNATURE);
    out
}

fn read_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_our_own_header() {
        assert_eq!(header_len(&header()).unwrap(), 19);
    }

    #[test]
    fn skips_a_header_extension() {
        let mut buf = header().to_vec();
        buf[15..19].copy_from_slice(&3u32.to_be_bytes());
        buf.extend_from_slice(b"abc");
        assert_eq!(header_len(&buf).unwrap(), 22);
        assert!(header_len(&buf[..21]).is_err());
    }

    #[test]
    fn rejects_garbage_and_oids() {
        assert!(header_len(b"PGCOPY\n\xff\r\n\x01\0\0\0\0\0\0\0\0").is_err());
        assert!(header_len(b"short").is_err());
        let mut buf = header();
        buf[11..15].copy_from_slice(&FLAG_HAS_OIDS.to_be_bytes());
        assert!(header_len(&buf).is_err());
    }
}
