//! What a call applied or reverted, and what [`Migrations::status`](super::Migrations::status) reports.

use std::fmt;
use std::time::{Duration, SystemTime};

/// A migration applied or reverted by a call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Applied {
    /// Its version.
    pub version: i64,
    /// Its description.
    pub description: String,
    /// The file that ran (the up file, or the down file for a rollback).
    pub file: String,
    /// How long it took.
    pub elapsed: Duration,
}

/// A row of the metadata table, matched with the folder.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AppliedMigration {
    /// Its version.
    pub version: i64,
    /// The description recorded.
    pub description: String,
    /// Its up file, if the folder still has it.
    pub file: Option<String>,
    /// When it was applied.
    pub installed_on: SystemTime,
    /// How long it took, if recorded.
    pub execution_time: Option<Duration>,
    /// `false` for a migration recorded as partially applied.
    pub success: bool,
    /// Whether the up file still has the checksum recorded (`None` when the file is missing).
    pub checksum_matches: Option<bool>,
    /// Whether the folder has a down file for it.
    pub reversible: bool,
}

/// A migration of the folder not applied yet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PendingMigration {
    /// Its version.
    pub version: i64,
    /// Its description.
    pub description: String,
    /// Its up file.
    pub file: String,
    /// Whether it has a down file.
    pub reversible: bool,
    /// Whether it runs outside a transaction.
    pub no_transaction: bool,
}

/// Something [`Migrations::status`] found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The up file changed after it was applied.
    ChecksumChanged {
        /// Its version.
        version: i64,
        /// Its up file.
        file: String,
    },
    /// Applied, but no longer in the folder.
    Missing {
        /// Its version.
        version: i64,
        /// The description recorded.
        description: String,
    },
    /// Not applied, though a later version is: a hole in the history (a branch merged late).
    /// `run` applies it, in version order.
    Gap {
        /// Its version.
        version: i64,
        /// Its up file.
        file: String,
        /// The latest version applied.
        latest_applied: i64,
    },
    /// Recorded as partially applied (`success = false`).
    Failed {
        /// Its version.
        version: i64,
    },
}

impl Problem {
    /// A short name of the kind: `checksum_changed`, `missing`, `gap` or `failed`.
    pub fn kind(&self) -> &'static str {
        match self {
            Problem::ChecksumChanged { .. } => "checksum_changed",
            Problem::Missing { .. } => "missing",
            Problem::Gap { .. } => "gap",
            Problem::Failed { .. } => "failed",
        }
    }

    /// The version concerned.
    pub fn version(&self) -> i64 {
        match self {
            Problem::ChecksumChanged { version, .. }
            | Problem::Missing { version, .. }
            | Problem::Gap { version, .. }
            | Problem::Failed { version } => *version,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::ChecksumChanged { file, .. } => write!(f, "{file} changed after it was applied"),
            Problem::Missing { version, description } => {
                write!(f, "migration {version} ({description}) was applied but is missing from the folder")
            }
            Problem::Gap { file, latest_applied, .. } => {
                write!(f, "{file} is not applied but the later migration {latest_applied} is")
            }
            Problem::Failed { version } => write!(f, "migration {version} is recorded as partially applied"),
        }
    }
}

/// What [`Migrations::status`] reports.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Status {
    /// The rows of the metadata table, in version order.
    pub applied: Vec<AppliedMigration>,
    /// The folder's migrations not applied yet, in version order.
    pub pending: Vec<PendingMigration>,
    /// What is wrong.
    pub problems: Vec<Problem>,
}
