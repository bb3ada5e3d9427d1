//! Column descriptions for the codec, with the structure tokio-postgres learned from the
//! catalog (enums, arrays, composites, ranges, domains).

use data_bridge_arrow_codec::{ColumnSpec, Shape};
use tokio_postgres::types::{Kind, Type};

/// How deep composites and arrays of composites may nest before the rest is read as text.
const MAX_DEPTH: usize = 16;

/// The codec's description of a column of type `ty`.
pub(crate) fn column_spec(name: &str, ty: &Type, typmod: i32, pg_type: String) -> ColumnSpec {
    let mut spec = spec_of(name, ty, typmod, 0);
    spec.pg_type = pg_type;
    spec
}

fn spec_of(name: &str, ty: &Type, typmod: i32, depth: usize) -> ColumnSpec {
    // Domains are read as their base type (the server sends the base type's format).
    if let Kind::Domain(base) = ty.kind() {
        let mut spec = spec_of(name, base, typmod, depth);
        spec.pg_type = ty.name().to_string();
        return spec;
    }
    let mut spec = ColumnSpec::new(name, ty.oid(), typmod, ty.name());
    if depth >= MAX_DEPTH {
        // An OID the codec does not know: the whole column comes back as text.
        spec.type_oid = 0;
        return spec;
    }
    spec.shape = match ty.kind() {
        Kind::Enum(_) => Shape::Enum,
        // Elements carry the array column's type modifier (numeric(10,2)[]).
        Kind::Array(element) => Shape::Array(Box::new(spec_of("item", element, typmod, depth + 1))),
        Kind::Range(subtype) => Shape::Range(Box::new(spec_of("bound", subtype, -1, depth + 1))),
        // tokio-postgres describes built-in multiranges by their range's subtype: rebuild the
        // range around it when it is not a range already.
        Kind::Multirange(inner) => {
            let inner = spec_of("range", inner, -1, depth + 1);
            let range = match inner.shape {
                Shape::Range(_) => inner,
                _ => ColumnSpec { shape: Shape::Range(Box::new(inner.clone())), ..inner },
            };
            Shape::Multirange(Box::new(range))
        }
        Kind::Composite(fields) => {
            Shape::Composite(fields.iter().map(|f| spec_of(f.name(), f.type_(), -1, depth + 1)).collect())
        }
        // hstore is an extension type: known by name (its OID differs per database).
        Kind::Simple if ty.name() == "hstore" => Shape::Hstore,
        _ => Shape::Plain,
    };
    spec
}
