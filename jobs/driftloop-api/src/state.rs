//! What the handlers share: the database, the store, the champion cache, the limits, and
//! how to wake the drift worker.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use driftloop_pipeline::predict::Champion;
use driftloop_pipeline::{Database, ObjectStore};

use crate::ui::Dashboard;
use crate::writer::RowWriter;

/// Request limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub body_bytes: usize,
    /// Most rows of one `/v1/predict/batch` request.
    pub batch_rows: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            body_bytes: 1024 * 1024,
            batch_rows: 1000,
        }
    }
}

/// Called when an insert made a drift job due (wake the in-process worker, or invoke the
/// drift function asynchronously).
pub type Kick = Arc<dyn Fn() + Send + Sync>;

pub struct AppState {
    pub db: Arc<dyn Database>,
    pub store: Arc<dyn ObjectStore>,
    pub limits: Limits,
    /// How often the champion alias is checked for a change.
    pub refresh_every: Duration,
    pub kick: Kick,
    /// What the dashboard's pages need beyond the database.
    pub dashboard: Dashboard,
    /// Stores the rows of single predictions, concurrent ones in one transaction.
    pub(crate) writer: RowWriter,
    champion: RwLock<Option<Arc<Champion>>>,
    checked_at: tokio::sync::Mutex<Instant>,
}

impl AppState {
    /// The state, with the champion loaded if there is one (its absence is not an error:
    /// the routes that need it answer 503 until one is trained). Starts the row writer
    /// task on the current Tokio runtime.
    pub async fn new(
        db: Arc<dyn Database>,
        store: Arc<dyn ObjectStore>,
        limits: Limits,
        refresh_every: Duration,
        kick: Kick,
    ) -> Arc<AppState> {
        AppState::with_dashboard(db, store, limits, refresh_every, kick, Dashboard::default()).await
    }

    /// [`AppState::new`], with the dashboard's thresholds and links
    /// ([`Dashboard::from_settings`]).
    pub async fn with_dashboard(
        db: Arc<dyn Database>,
        store: Arc<dyn ObjectStore>,
        limits: Limits,
        refresh_every: Duration,
        kick: Kick,
        dashboard: Dashboard,
    ) -> Arc<AppState> {
        let state = Arc::new(AppState {
            writer: RowWriter::start(db.clone()),
            db,
            store,
            limits,
            refresh_every,
            kick,
            dashboard,
            champion: RwLock::new(None),
            checked_at: tokio::sync::Mutex::new(Instant::now()),
        });
        if let Err(e) = state.reload_champion().await {
            tracing::warn!("no champion loaded at start-up: {e}");
        }
        state
    }

    /// The cached champion, checked against the registry at most every `refresh_every`
    /// (one request checks; the others go on with the cached one meanwhile).
    pub async fn champion(&self) -> Result<Arc<Champion>, driftloop_pipeline::Error> {
        let due = match self.checked_at.try_lock() {
            Ok(mut at) if at.elapsed() >= self.refresh_every => {
                *at = Instant::now();
                true
            }
            _ => false,
        };
        if due {
            if let Err(e) = self.reload_champion().await {
                tracing::warn!("checking the champion failed: {e}");
            }
        }
        self.cached()
            .ok_or_else(|| driftloop_pipeline::db::Error::NoChampion(driftloop_core::spec().name.to_string()).into())
    }

    fn cached(&self) -> Option<Arc<Champion>> {
        self.champion.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads the champion alias; loads the artifact when it points elsewhere than the cache.
    pub async fn reload_champion(&self) -> Result<(), driftloop_pipeline::Error> {
        let db = self.db.clone();
        let name = driftloop_core::spec().name.as_str();
        let current = tokio::task::spawn_blocking(move || db.champion(name))
            .await
            .expect("reading the alias does not panic")?;
        let Some(current) = current else {
            *self.champion.write().unwrap_or_else(|p| p.into_inner()) = None;
            return Ok(());
        };
        if self.cached().is_some_and(|c| c.version.version == current.version) {
            return Ok(());
        }
        let champion = Champion::load(self.db.as_ref(), self.store.as_ref()).await?;
        tracing::info!(version = champion.version.version, "champion loaded");
        *self.champion.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(champion));
        Ok(())
    }
}
