//! The `data_bridge._native` extension module. The Python package wraps it; see
//! `python/data_bridge/__init__.py` for the public API.

mod aio;
mod database;
mod errors;
mod migrate;
mod params;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<database::Database>()?;
    m.add_class::<database::BatchStream>()?;
    m.add_class::<database::PlanHandle>()?;
    m.add_function(wrap_pyfunction!(migrate::migrate, m)?)?;
    m.add_function(wrap_pyfunction!(migrate::rollback, m)?)?;
    m.add_function(wrap_pyfunction!(migrate::migration_status, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("__all__", ["BatchStream", "Database", "PlanHandle", "migrate", "migration_status", "rollback"])?;
    Ok(())
}
