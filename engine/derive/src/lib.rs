//! `#[derive(Row)]`: maps a struct with named fields to a table, for
//! `data_bridge_postgres::query::Row`. Use it through `data_bridge_postgres::Row`.
//!
//! ```ignore
//! #[derive(data_bridge_postgres::Row)]
//! #[row(table = "sales.orders")]
//! struct Order {
//!     #[row(primary_key)]
//!     id: i64,
//!     #[row(rename = "customer")]
//!     customer_id: i64,
//!     note: Option<String>,
//! }
//! ```
//!
//! Attributes: `#[row(table = "...")]` on the struct (required; a dotted name is
//! schema-qualified); `#[row(primary_key)]` on each key field, in key order;
//! `#[row(rename = "...")]` for a column named differently from its field.
//!
//! Field types are those with `data_bridge_postgres::query::RowField`: `bool`, integers,
//! floats, `String`, `Vec<u8>`, `chrono::NaiveDate`, `chrono::NaiveDateTime`,
//! `chrono::DateTime<chrono::Utc>`, `chrono::NaiveTime` (chrono as re-exported by
//! `data_bridge_postgres::chrono`), and `Option` of each.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::{parse_macro_input, Data, DeriveInput, Fields, LitStr};

/// Implements `data_bridge_postgres::query::Row` for a struct with named fields.
#[proc_macro_derive(Row, attributes(row))]
pub fn derive_row(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// One field of the struct and the column it maps to.
struct Column {
    ident: syn::Ident,
    ty: syn::Type,
    name: String,
    primary_key: bool,
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(&input.generics, "#[derive(Row)] does not support generic structs"));
    }
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(Span::call_site(), "#[derive(Row)] needs a struct with named fields"));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(&data.fields, "#[derive(Row)] needs a struct with named fields"));
    };
    let table = table_name(input)?;
    let columns = fields.named.iter().map(column).collect::<syn::Result<Vec<Column>>>()?;
    if columns.is_empty() {
        return Err(syn::Error::new(Span::call_site(), "#[derive(Row)] needs at least one field"));
    }
    for (i, column) in columns.iter().enumerate() {
        if columns[..i].iter().any(|earlier| earlier.name == column.name) {
            let message = format!("two fields map to column {:?}", column.name);
            return Err(syn::Error::new_spanned(&column.ident, message));
        }
    }

    let name = &input.ident;
    let krate = quote!(::data_bridge_postgres);
    let idents: Vec<&syn::Ident> = columns.iter().map(|c| &c.ident).collect();
    let types: Vec<&syn::Type> = columns.iter().map(|c| &c.ty).collect();
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let vars: Vec<syn::Ident> = columns.iter().map(|c| format_ident!("__column_{}", c.ident)).collect();
    let keys: Vec<&Column> = columns.iter().filter(|c| c.primary_key).collect();
    let key_names: Vec<&str> = keys.iter().map(|c| c.name.as_str()).collect();
    let key_types: Vec<&syn::Type> = keys.iter().map(|c| &c.ty).collect();
    let key_vars: Vec<syn::Ident> = keys.iter().map(|c| format_ident!("__key_{}", c.ident)).collect();
    let (key_type, key_values) = match key_types.as_slice() {
        [single] => (quote!(#single), quote!(::std::vec![#krate::query::RowField::to_value(&key)])),
        _ => (
            quote!((#(#key_types,)*)),
            quote! {
                let (#(#key_vars,)*) = key;
                ::std::vec![#(#krate::query::RowField::to_value(&#key_vars)),*]
            },
        ),
    };

    Ok(quote! {
        impl #krate::query::Row for #name {
            type Key = #key_type;
            const TABLE: &'static str = #table;
            const COLUMNS: &'static [&'static str] = &[#(#names),*];
            const PRIMARY_KEY: &'static [&'static str] = &[#(#key_names),*];

            fn schema() -> #krate::query::__derive::SchemaRef {
                #krate::query::__derive::schema(::std::vec![
                    #(#krate::query::__derive::field::<#types>(#names)),*
                ])
            }

            fn to_values(&self) -> ::std::vec::Vec<#krate::Value> {
                ::std::vec![#(#krate::query::RowField::to_value(&self.#idents)),*]
            }

            #[allow(unused_variables)]
            fn key_to_values(key: Self::Key) -> ::std::vec::Vec<#krate::Value> {
                #key_values
            }

            fn to_batch(
                rows: &[Self],
            ) -> ::std::result::Result<#krate::query::__derive::RecordBatch, #krate::query::QueryError> {
                #krate::query::__derive::batch(
                    <Self as #krate::query::Row>::schema(),
                    ::std::vec![
                        #(<#types as #krate::query::RowField>::to_array(rows.iter().map(|row| &row.#idents))),*
                    ],
                )
            }

            fn from_batch(
                batch: &#krate::query::__derive::RecordBatch,
            ) -> ::std::result::Result<::std::vec::Vec<Self>, #krate::query::QueryError> {
                #(
                    let mut #vars = <#types as #krate::query::RowField>::from_array(
                        #krate::query::__derive::column(batch, #names)?,
                        #names,
                    )?
                    .into_iter();
                )*
                let mut rows = ::std::vec::Vec::with_capacity(batch.num_rows());
                for _ in 0..batch.num_rows() {
                    rows.push(Self { #(#idents: #krate::query::__derive::next(&mut #vars, #names)?),* });
                }
                ::std::result::Result::Ok(rows)
            }
        }
    })
}

/// The `table = "..."` of the struct's `#[row(...)]`.
fn table_name(input: &DeriveInput) -> syn::Result<String> {
    let mut table = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("row")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("table") {
                table = Some(meta.value()?.parse::<LitStr>()?.value());
                Ok(())
            } else {
                Err(meta.error("expected `table = \"...\"`"))
            }
        })?;
    }
    match table {
        Some(name) if !name.is_empty() => Ok(name),
        _ => Err(syn::Error::new(Span::call_site(), "#[derive(Row)] needs #[row(table = \"...\")] on the struct")),
    }
}

fn column(field: &syn::Field) -> syn::Result<Column> {
    let Some(ident) = field.ident.clone() else {
        return Err(syn::Error::new_spanned(field, "#[derive(Row)] needs named fields"));
    };
    let mut name = ident.to_string().trim_start_matches("r#").to_string();
    let mut primary_key = false;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("row")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("primary_key") {
                primary_key = true;
                Ok(())
            } else if meta.path.is_ident("rename") {
                name = meta.value()?.parse::<LitStr>()?.value();
                Ok(())
            } else {
                Err(meta.error("expected `primary_key` or `rename = \"...\"`"))
            }
        })?;
    }
    Ok(Column { ident, ty: field.ty.clone(), name, primary_key })
}

#[cfg(test)]
mod tests {
    use super::expand;

    fn error(input: syn::DeriveInput) -> String {
        expand(&input).expect_err("is refused").to_string()
    }

    #[test]
    fn generates_the_mapping() {
        let code = expand(&syn::parse_quote! {
            #[row(table = "sales.orders")]
            struct Order {
                #[row(primary_key)]
                id: i64,
                #[row(rename = "type")]
                kind: Option<String>,
            }
        })
        .expect("expands")
        .to_string();
        assert!(code.contains(r#"const TABLE : & 'static str = "sales.orders""#), "{code}");
        assert!(code.contains(r#"& ["id" , "type"]"#), "{code}");
        assert!(code.contains("type Key = i64"), "{code}");
    }

    #[test]
    fn generic_field_types_keep_their_paths() {
        let code = expand(&syn::parse_quote! {
            #[row(table = "events")]
            struct Event {
                #[row(primary_key)]
                at: chrono::DateTime<chrono::Utc>,
                day: Option<chrono::NaiveDate>,
            }
        })
        .expect("expands")
        .to_string();
        assert!(code.contains("type Key = chrono :: DateTime < chrono :: Utc >"), "{code}");
        assert!(code.contains("field :: < Option < chrono :: NaiveDate > >"), "{code}");
    }

    #[test]
    fn misuse_is_a_compile_error() {
        assert!(error(syn::parse_quote!(
            struct Order {
                id: i64,
            }
        ))
        .contains("table"));
        assert!(error(syn::parse_quote!(
            #[row(table = "t")]
            struct Order(i64);
        ))
        .contains("named fields"));
        assert!(error(syn::parse_quote!(
            #[row(table = "t")]
            struct Order<T> {
                id: T,
            }
        ))
        .contains("generic"));
        assert!(error(syn::parse_quote!(
            #[row(table = "t")]
            struct Order {
                #[row(key)]
                id: i64,
            }
        ))
        .contains("expected"));
        assert!(error(syn::parse_quote!(
            #[row(tabel = "t")]
            struct Order {
                id: i64,
            }
        ))
        .contains("expected"));
        let twice = error(syn::parse_quote!(
            #[row(table = "t")]
            struct Order {
                a: i64,
                #[row(rename = "a")]
                b: i64,
            }
        ));
        assert!(twice.contains("two fields"), "{twice}");
    }
}
