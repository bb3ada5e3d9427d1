//! Encoders from values into PostgreSQL's binary formats (the write path builds on these).

mod numeric;

pub use numeric::numeric_from_str;
