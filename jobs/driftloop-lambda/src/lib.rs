//! What driftloop's three Lambda functions share, so that each function's `main.rs` is a
//! handful of lines: [`start`] (settings from the environment, the database URL from its
//! secret, JSON tracing) and [`clients`], the events the drift and train functions accept
//! ([`Request`]), their errors as Lambda diagnostics ([`HandlerError`]), and starting
//! another function asynchronously ([`invoke`]).

mod error;
mod events;
pub mod invoke;
pub mod secrets;

use std::sync::Arc;

use driftloop_pipeline::{open_database, open_store, Database, ObjectStore, Settings};

pub use error::HandlerError;
pub use events::{Action, Request};

/// The start of every function: the settings from the environment (on AWS the database
/// URL from the secret `DRIFTLOOP_DATABASE_SECRET_ARN` names), the dataset file
/// `DRIFTLOOP_DATASET` names (bundled with the function; the shipped dataset when unset)
/// and JSON log lines.
pub async fn start() -> driftloop_pipeline::Result<Settings> {
    driftloop_pipeline::memory::return_freed_memory();
    let mut settings = Settings::from_env()?;
    settings.activate_dataset()?;
    secrets::resolve_database_secret(&mut settings).await?;
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&settings.log_filter))
        .init();
    Ok(settings)
}

/// The database and the object store the settings name, opened once per instance.
pub async fn clients(settings: &Settings) -> driftloop_pipeline::Result<(Arc<dyn Database>, Arc<dyn ObjectStore>)> {
    Ok((
        open_database(&settings.database_url)?,
        open_store(&settings.store).await?,
    ))
}
