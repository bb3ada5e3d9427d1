//! Reads a migrations folder (from disk or embedded at compile time) into [`Migrations`].
//!
//! File names follow sqlx's rules, so checksums and descriptions match what `sqlx migrate` records:
//! `<VERSION>_<NAME>.up.sql` with an optional `<VERSION>_<NAME>.down.sql`, or `<VERSION>_<NAME>.sql`
//! (irreversible). Other files (a README, ...) are ignored.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use sqlx::migrate::{Migration, MigrationType};

use super::MigrateError;

/// One versioned migration: its up file and, when it is reversible, its down file.
#[derive(Debug, Clone)]
pub struct MigrationFile {
    /// The version (the number before the first `_`).
    pub version: i64,
    /// The description recorded in the metadata table (the name with `_` as spaces, like sqlx).
    pub description: String,
    /// The up file's name.
    pub up_file: String,
    /// The down file's name, if there is one.
    pub down_file: Option<String>,
    pub(crate) up: Migration,
    pub(crate) down: Option<Migration>,
}

impl MigrationFile {
    /// The up file's SQL.
    pub fn up_sql(&self) -> &str {
        &self.up.sql
    }

    /// The down file's SQL, if the migration is reversible.
    pub fn down_sql(&self) -> Option<&str> {
        self.down.as_ref().map(|m| &*m.sql)
    }

    /// The SHA-384 of the up file, as recorded in `_sqlx_migrations.checksum`.
    pub fn checksum(&self) -> &[u8] {
        &self.up.checksum
    }

    /// Whether the up file starts with `-- no-transaction` (it then runs outside a transaction).
    pub fn no_transaction(&self) -> bool {
        self.up.no_tx
    }
}

/// The migrations of a folder, in version order.
#[derive(Debug, Clone, Default)]
pub struct Migrations {
    pub(crate) files: Vec<MigrationFile>,
    pub(crate) origin: String,
}

impl Migrations {
    /// Reads the `.sql` files of the folder at `path`.
    pub fn from_dir(path: impl AsRef<Path>) -> Result<Self, MigrateError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let source = |reason: String| MigrateError::Source { path: origin.clone(), reason };
        let entries = std::fs::read_dir(path).map_err(|e| source(e.to_string()))?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| source(e.to_string()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".sql") || !entry.path().is_file() {
                continue;
            }
            let sql = std::fs::read_to_string(entry.path()).map_err(|e| source(format!("{name}: {e}")))?;
            files.push((name, sql));
        }
        Self::from_files(origin.clone(), files)
    }

    /// Reads a folder embedded with [`embed_migrations!`](crate::embed_migrations) (the files at
    /// its top level).
    pub fn from_embedded(dir: &include_dir::Dir<'_>) -> Result<Self, MigrateError> {
        let origin = dir.path().display().to_string();
        let mut files = Vec::new();
        for file in dir.files() {
            let name = file.path().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if !name.ends_with(".sql") {
                continue;
            }
            let sql = file
                .contents_utf8()
                .ok_or_else(|| MigrateError::Source { path: name.clone(), reason: "not UTF-8".into() })?;
            files.push((name, sql.to_owned()));
        }
        Self::from_files(format!("(embedded) {origin}"), files)
    }

    /// Builds the set from `(file name, SQL)` pairs.
    pub fn from_files(
        origin: impl Into<String>,
        files: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, MigrateError> {
        let origin = origin.into();
        let bad = |name: &str, reason: String| MigrateError::Source { path: format!("{origin}/{name}"), reason };
        let mut ups: BTreeMap<i64, (String, Migration)> = BTreeMap::new();
        let mut downs: BTreeMap<i64, (String, Migration)> = BTreeMap::new();
        for (name, sql) in files {
            let Some((version, rest)) = name.split_once('_') else {
                return Err(bad(&name, "expected <VERSION>_<NAME>.up.sql, .down.sql or .sql".into()));
            };
            let version: i64 = match version.parse() {
                Ok(v) if v > 0 => v,
                _ => return Err(bad(&name, "the version (before the first _) must be a positive integer".into())),
            };
            let kind = MigrationType::from_filename(rest);
            let description = rest.trim_end_matches(kind.suffix()).replace('_', " ");
            let no_tx = sql.starts_with("-- no-transaction");
            let migration = Migration::new(version, Cow::Owned(description), kind, Cow::Owned(sql), no_tx);
            let slot = if kind.is_down_migration() { &mut downs } else { &mut ups };
            if let Some((other, _)) = slot.get(&version) {
                return Err(bad(&name, format!("version {version} is also used by {other}")));
            }
            slot.insert(version, (name, migration));
        }
        let mut files = Vec::with_capacity(ups.len());
        for (version, (up_file, up)) in ups {
            let down = downs.remove(&version);
            if down.is_some() && up.migration_type == MigrationType::Simple {
                return Err(bad(&up_file, "a reversible migration's up file must end in .up.sql".into()));
            }
            files.push(MigrationFile {
                version,
                description: up.description.to_string(),
                up_file,
                down_file: down.as_ref().map(|(name, _)| name.clone()),
                up,
                down: down.map(|(_, m)| m),
            });
        }
        if let Some((_, (name, _))) = downs.into_iter().next() {
            return Err(bad(&name, "a down file without its up file".into()));
        }
        Ok(Migrations { files, origin })
    }

    /// The migrations, in version order.
    pub fn iter(&self) -> impl Iterator<Item = &MigrationFile> {
        self.files.iter()
    }

    /// The migration with this version.
    pub fn get(&self, version: i64) -> Option<&MigrationFile> {
        self.files.binary_search_by_key(&version, |f| f.version).ok().map(|i| &self.files[i])
    }

    /// Where the migrations were read from.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// The name for a new migration: the next version (one more than the highest, 4 digits wide at
/// least, or the width the folder already uses) and `name`, with `.up.sql` / `.down.sql` to add.
pub fn next_file_stem(migrations: &Migrations, name: &str, width: usize) -> String {
    let next = migrations.files.last().map_or(1, |f| f.version + 1);
    let name: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    format!("{next:0width$}_{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(names: &[&str]) -> Vec<(String, String)> {
        names.iter().map(|n| (n.to_string(), format!("-- {n}\nSELECT 1;"))).collect()
    }

    #[test]
    fn pairs_up_and_down_files() {
        let set = Migrations::from_files(
            "m",
            files(&[
                "0002_add_items.up.sql",
                "0001_create_orders.up.sql",
                "0001_create_orders.down.sql",
                "0003_seed.sql",
            ]),
        )
        .unwrap();
        let versions: Vec<_> = set.iter().map(|f| (f.version, f.description.as_str(), f.down_file.is_some())).collect();
        assert_eq!(versions, [(1, "create orders", true), (2, "add items", false), (3, "seed", false)]);
        assert_eq!(next_file_stem(&set, "Add Users", 4), "0004_add_users");
    }

    #[test]
    fn rejects_bad_names_and_duplicates() {
        for names in [
            &["x_create.up.sql"][..],
            &["0001_a.up.sql", "1_b.up.sql"],
            &["0001_a.down.sql"],
            &["0001_a.sql", "0001_a.down.sql"],
        ] {
            assert!(Migrations::from_files("m", files(names)).is_err(), "{names:?}");
        }
    }
}
