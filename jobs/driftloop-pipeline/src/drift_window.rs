//! Which rows a drift check compares, and their profile: the window a job asks for, the
//! id its rows start after, and their profile counted by the database, only the rows
//! since the previous check where that check's report kept the profile of those before.

use driftloop_core::Profile;

use crate::config::DriftWindow;
use crate::db::{ClaimedJob, Database};
use crate::error::{Error, Result};
use crate::objects::ObjectStore;
use crate::snapshot::SnapshotManifest;

/// The window a job asks for (`{"window": "last:500"}` in its payload), else `default`.
pub fn window_of(job: &ClaimedJob, default: DriftWindow) -> Result<DriftWindow> {
    match job.payload.as_ref().and_then(|p| p.get("window")) {
        None | Some(serde_json::Value::Null) => Ok(default),
        Some(serde_json::Value::String(raw)) => {
            DriftWindow::parse(raw).map_err(|e| Error::Config(format!("drift job {}: {e}", job.id)))
        }
        Some(other) => Err(Error::Config(format!(
            "drift job {}: window {other} is not a string",
            job.id
        ))),
    }
}

/// The id after which the window's rows lie: never before the reference's newest row.
pub(crate) fn window_start(db: &dyn Database, window: DriftWindow, reference: &SnapshotManifest) -> Result<i64> {
    let start = match window {
        DriftWindow::SinceSnapshot => reference.max_id,
        DriftWindow::Last(n) => db.id_before_newest(n)?,
        DriftWindow::SinceLastCheck => db
            .latest_drift_report(None)?
            .map_or(reference.max_id, |last| last.current_max_id),
    };
    Ok(start.max(reference.max_id))
}

/// The profile of a window's rows and their largest id.
pub(crate) struct Counted {
    pub profile: Profile,
    pub max_id: i64,
    /// The rows the database counted now (the rest came from an earlier check's report).
    pub counted_rows: u64,
}

/// The profile of the rows after `after_id`. Profiles add up, so every row since the
/// snapshot need not be counted at every check: a `since-snapshot` check takes the
/// profile the previous such check against the same reference kept in its report and
/// has the database count only the rows after that check's newest. Any other window, or
/// a previous report that cannot serve (missing, unreadable, of another window), counts
/// every row of the window.
pub(crate) async fn current_profile(
    db: &dyn Database,
    store: &dyn ObjectStore,
    window: DriftWindow,
    reference: &SnapshotManifest,
    after_id: i64,
) -> Result<Counted> {
    if window == DriftWindow::SinceSnapshot {
        if let Some((mut profile, counted_to)) = previous_profile(db, store, reference, after_id).await? {
            let (more, max_id) = db.profile_rows(counted_to)?;
            let counted_rows = more.rows;
            profile
                .add(&more)
                .map_err(|e| Error::Corrupt(format!("adding the rows after id {counted_to}: {e}")))?;
            return Ok(Counted {
                profile,
                max_id: max_id.unwrap_or(counted_to),
                counted_rows,
            });
        }
    }
    let (profile, max_id) = db.profile_rows(after_id)?;
    Ok(Counted {
        counted_rows: profile.rows,
        profile,
        max_id: max_id.unwrap_or(after_id),
    })
}

/// The profile the newest check against `reference` kept of the rows after `after_id`,
/// and the newest id it covered; `None` when there is no such check or its report cannot
/// serve (it is then counted anew, so a lost or older report costs time, not correctness).
async fn previous_profile(
    db: &dyn Database,
    store: &dyn ObjectStore,
    reference: &SnapshotManifest,
    after_id: i64,
) -> Result<Option<(Profile, i64)>> {
    let Some(last) = db.latest_drift_report(Some(&reference.uri))? else {
        return Ok(None);
    };
    let Some(key) = store.key_of(&last.report_uri) else {
        return Ok(None);
    };
    let document: serde_json::Value = match store.get(&key).await {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(document) => document,
            Err(e) => {
                tracing::warn!(report = %last.report_uri, "drift report does not parse, counting anew: {e}");
                return Ok(None);
            }
        },
        Err(Error::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let current = &document["current"];
    if current["after_id"].as_i64() != Some(after_id) || current["max_id"].as_i64() != Some(last.current_max_id) {
        return Ok(None);
    }
    let Ok(profile) = serde_json::from_value::<Profile>(current["profile"].clone()) else {
        return Ok(None);
    };
    if profile.check(driftloop_core::spec()).is_err() {
        return Ok(None);
    }
    Ok(Some((profile, last.current_max_id)))
}
