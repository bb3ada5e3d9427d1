//! Column descriptions for the codec, with the structure tokio-postgres learned from the
//! catalog (enums, arrays, composites, ranges, domains) and the type modifiers it does not
//! carry (a domain's own, a composite attribute's), read from the catalog here.

use std::collections::HashMap;

use data_bridge_arrow_codec::{ColumnSpec, Shape};
use tokio_postgres::types::{Kind, Type};
use tokio_postgres::GenericClient;

use crate::error::Result;

/// How deep composites and arrays of composites may nest before the rest is read as text.
const MAX_DEPTH: usize = 16;

/// Type modifiers of user-defined types: a domain's (`numeric(10,2)` under a domain, which an
/// array of the domain does not repeat) and each composite attribute's, by type OID.
#[derive(Debug, Default)]
pub(crate) struct Typmods(HashMap<u32, (i32, Vec<i32>)>);

impl Typmods {
    /// Asks the catalog about the domains and composites inside `types` (no query when none).
    pub(crate) async fn fetch<'a, C: GenericClient>(client: &C, types: impl Iterator<Item = &'a Type>) -> Result<Self> {
        let mut oids = Vec::new();
        for ty in types {
            collect_user_types(ty, &mut oids, 0);
        }
        if oids.is_empty() {
            return Ok(Typmods::default());
        }
        oids.sort_unstable();
        oids.dedup();
        let rows = client
            .query(
                "SELECT t.oid, t.typtypmod, coalesce(array_agg(a.atttypmod ORDER BY a.attnum) \
                   FILTER (WHERE a.attnum > 0 AND NOT a.attisdropped), '{}') \
                 FROM pg_type t LEFT JOIN pg_attribute a ON a.attrelid = t.typrelid AND t.typtype = 'c' \
                 WHERE t.oid = ANY($1) GROUP BY t.oid, t.typtypmod",
                &[&oids],
            )
            .await?;
        let mut typmods = HashMap::new();
        for row in rows {
            typmods.insert(row.try_get(0)?, (row.try_get(1)?, row.try_get(2)?));
        }
        Ok(Typmods(typmods))
    }

    fn domain(&self, ty: &Type) -> i32 {
        self.0.get(&ty.oid()).map_or(-1, |(typmod, _)| *typmod)
    }

    fn attribute(&self, ty: &Type, index: usize) -> i32 {
        self.0.get(&ty.oid()).and_then(|(_, attributes)| attributes.get(index).copied()).unwrap_or(-1)
    }
}

fn collect_user_types(ty: &Type, oids: &mut Vec<u32>, depth: usize) {
    if depth >= MAX_DEPTH {
        return;
    }
    match ty.kind() {
        Kind::Domain(base) => {
            oids.push(ty.oid());
            collect_user_types(base, oids, depth + 1);
        }
        Kind::Composite(fields) => {
            oids.push(ty.oid());
            fields.iter().for_each(|f| collect_user_types(f.type_(), oids, depth + 1));
        }
        Kind::Array(inner) | Kind::Range(inner) | Kind::Multirange(inner) => collect_user_types(inner, oids, depth + 1),
        _ => {}
    }
}

/// The codec's description of a column of type `ty`.
pub(crate) fn column_spec(name: &str, ty: &Type, typmod: i32, pg_type: String, typmods: &Typmods) -> ColumnSpec {
    let mut spec = spec_of(name, ty, typmod, 0, typmods);
    spec.pg_type = pg_type;
    spec
}

fn spec_of(name: &str, ty: &Type, typmod: i32, depth: usize, typmods: &Typmods) -> ColumnSpec {
    // Domains are read as their base type (the server sends the base type's format), with
    // the domain's own modifier when the column has none.
    if let Kind::Domain(base) = ty.kind() {
        let typmod = if typmod == -1 { typmods.domain(ty) } else { typmod };
        let mut spec = spec_of(name, base, typmod, depth, typmods);
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
        Kind::Array(element) => Shape::Array(Box::new(spec_of("item", element, typmod, depth + 1, typmods))),
        Kind::Range(subtype) => Shape::Range(Box::new(spec_of("bound", subtype, -1, depth + 1, typmods))),
        // tokio-postgres describes built-in multiranges by their range's subtype: rebuild the
        // range around it when it is not a range already.
        Kind::Multirange(inner) => {
            let inner = spec_of("range", inner, -1, depth + 1, typmods);
            let range = match inner.shape {
                Shape::Range(_) => inner,
                _ => ColumnSpec { shape: Shape::Range(Box::new(inner.clone())), ..inner },
            };
            Shape::Multirange(Box::new(range))
        }
        Kind::Composite(fields) => Shape::Composite(
            fields
                .iter()
                .enumerate()
                .map(|(i, f)| spec_of(f.name(), f.type_(), typmods.attribute(ty, i), depth + 1, typmods))
                .collect(),
        ),
        // hstore is an extension type: known by name (its OID differs per database).
        Kind::Simple if ty.name() == "hstore" => Shape::Hstore,
        _ => Shape::Plain,
    };
    spec
}
