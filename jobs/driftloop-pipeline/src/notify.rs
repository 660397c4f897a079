//! The notifier port: tells people what the loop did. The default writes a log line;
//! webhook and SNS adapters plug in behind the same trait.

use async_trait::async_trait;
use serde::Serialize;

/// Something people want to hear about.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    DriftDetected {
        job_id: i64,
        drift_share: f64,
        drifted_columns: Vec<String>,
        report_uri: String,
    },
}

impl Event {
    /// One line for people.
    pub fn text(&self) -> String {
        match self {
            Event::DriftDetected {
                job_id,
                drift_share,
                drifted_columns,
                report_uri,
            } => format!(
                "drift detected by drift job {job_id}: {} drifted ({:.0} % of columns); report {report_uri}",
                drifted_columns.join(", "),
                drift_share * 100.0
            ),
        }
    }
}

/// Delivers events. A notifier failure must never fail the job that sent the event, so
/// delivery problems are the notifier's to log, not to return.
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn notify(&self, event: &Event);
}

/// Writes each event as a log line (target `driftloop::notify`).
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    async fn notify(&self, event: &Event) {
        tracing::warn!(target: "driftloop::notify", event = %serde_json::to_string(event).unwrap_or_default(), "{}", event.text());
    }
}
