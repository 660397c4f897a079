//! The notifier port: tells people what the loop did. A log line always; a Slack-
//! compatible webhook and an SNS topic when configured ([`notifier_from_settings`]). A
//! notifier failure never fails the job that sent the event: delivery problems are
//! logged, not returned.

use std::time::Duration;

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
    TrainingStarted {
        job_ids: Vec<i64>,
        /// `database (expert labels)` or the snapshot URI trained from.
        source: String,
    },
    TrainingFinished {
        job_ids: Vec<i64>,
        version: i64,
        family: String,
        params: serde_json::Value,
        cv_macro_f1: f64,
        holdout_accuracy: f64,
        holdout_macro_f1: f64,
        artifact_uri: String,
        snapshot_uri: String,
    },
    TrainingFailed {
        job_ids: Vec<i64>,
        error: String,
    },
    ChampionPromoted {
        version: i64,
        previous: Option<i64>,
        candidate_macro_f1: f64,
        champion_macro_f1: Option<f64>,
    },
    CandidateRejected {
        version: i64,
        champion: i64,
        candidate_macro_f1: f64,
        champion_macro_f1: f64,
        margin: f64,
    },
    PerformanceDegraded {
        job_id: i64,
        version: i64,
        accuracy: f64,
        holdout_accuracy: f64,
        rows: u64,
        p_value: f64,
        report_uri: String,
    },
}

fn jobs_text(job_ids: &[i64]) -> String {
    match job_ids {
        [] => "training".to_string(),
        [one] => format!("train job {one}"),
        many => format!(
            "train jobs {}",
            many.iter().map(|j| j.to_string()).collect::<Vec<_>>().join(", ")
        ),
    }
}

impl Event {
    /// The event's name, as in its JSON `event` field.
    pub fn name(&self) -> &'static str {
        match self {
            Event::DriftDetected { .. } => "drift_detected",
            Event::TrainingStarted { .. } => "training_started",
            Event::TrainingFinished { .. } => "training_finished",
            Event::TrainingFailed { .. } => "training_failed",
            Event::ChampionPromoted { .. } => "champion_promoted",
            Event::CandidateRejected { .. } => "candidate_rejected",
            Event::PerformanceDegraded { .. } => "performance_degraded",
        }
    }

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
            Event::TrainingStarted { job_ids, source } => {
                format!("{} started from {source}", jobs_text(job_ids))
            }
            Event::TrainingFinished {
                job_ids,
                version,
                family,
                holdout_accuracy,
                holdout_macro_f1,
                ..
            } => format!(
                "{} finished: model version {version} ({family}), holdout accuracy {holdout_accuracy:.3}, macro-F1 {holdout_macro_f1:.3}",
                jobs_text(job_ids)
            ),
            Event::TrainingFailed { job_ids, error } => format!("{} failed: {error}", jobs_text(job_ids)),
            Event::ChampionPromoted {
                version,
                previous,
                candidate_macro_f1,
                champion_macro_f1,
            } => match (previous, champion_macro_f1) {
                (Some(previous), Some(champion)) => format!(
                    "model version {version} is the new champion: holdout macro-F1 {candidate_macro_f1:.3} vs {champion:.3} of version {previous}"
                ),
                _ => format!("model version {version} is the first champion (holdout macro-F1 {candidate_macro_f1:.3})"),
            },
            Event::CandidateRejected {
                version,
                champion,
                candidate_macro_f1,
                champion_macro_f1,
                margin,
            } => format!(
                "model version {version} rejected: holdout macro-F1 {candidate_macro_f1:.3} does not beat champion {champion}'s {champion_macro_f1:.3} by {margin}"
            ),
            Event::PerformanceDegraded {
                job_id,
                version,
                accuracy,
                holdout_accuracy,
                rows,
                p_value,
                report_uri,
            } => format!(
                "champion {version} degraded (performance job {job_id}): accuracy {accuracy:.3} on the last {rows} expert-labelled rows against {holdout_accuracy:.3} on its holdout (p = {p_value:.2e}); report {report_uri}"
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
        let json = serde_json::to_string(event).unwrap_or_default();
        match event {
            Event::TrainingFailed { .. } => {
                tracing::error!(target: "driftloop::notify", event = %json, "{}", event.text())
            }
            Event::DriftDetected { .. } | Event::CandidateRejected { .. } | Event::PerformanceDegraded { .. } => {
                tracing::warn!(target: "driftloop::notify", event = %json, "{}", event.text())
            }
            _ => tracing::info!(target: "driftloop::notify", event = %json, "{}", event.text()),
        }
    }
}

/// Posts each event to a Slack-compatible incoming webhook: `{"text": ..., "event": ...,
/// <the event's fields>}`, with a timeout per attempt and retries with back-off.
pub struct WebhookNotifier {
    url: crate::Secret,
    client: reqwest::Client,
    attempts: u32,
    backoff: Duration,
}

impl WebhookNotifier {
    pub fn new(url: crate::Secret) -> WebhookNotifier {
        WebhookNotifier::with_policy(url, Duration::from_secs(5), 3, Duration::from_millis(500))
    }

    /// `attempts` tries, each limited to `timeout`, waiting `backoff`, then twice that,
    /// between them.
    pub fn with_policy(url: crate::Secret, timeout: Duration, attempts: u32, backoff: Duration) -> WebhookNotifier {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .expect("a client with a timeout builds");
        WebhookNotifier {
            url,
            client,
            attempts: attempts.max(1),
            backoff,
        }
    }

    /// The JSON body posted for an event.
    pub fn body(event: &Event) -> serde_json::Value {
        let mut body = serde_json::to_value(event).unwrap_or_default();
        if let Some(map) = body.as_object_mut() {
            map.insert(
                "text".into(),
                serde_json::Value::String(format!("driftloop: {}", event.text())),
            );
        }
        body
    }

    /// Delivers one event; the error of the last attempt when every attempt failed.
    pub async fn deliver(&self, event: &Event) -> Result<(), String> {
        let body = WebhookNotifier::body(event);
        let mut wait = self.backoff;
        let mut last_error = String::new();
        for attempt in 1..=self.attempts {
            match self.client.post(self.url.expose()).json(&body).send().await {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => last_error = format!("HTTP {}", response.status()),
                Err(e) => last_error = without_url(&e),
            }
            if attempt < self.attempts {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
        Err(format!("{last_error} after {} attempt(s)", self.attempts))
    }
}

/// A reqwest error without the URL (a webhook URL is a secret).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    kind.to_string()
}

#[async_trait]
impl Notifier for WebhookNotifier {
    async fn notify(&self, event: &Event) {
        if let Err(e) = self.deliver(event).await {
            tracing::error!(target: "driftloop::notify", event = event.name(), "webhook delivery failed: {e}");
        }
    }
}

/// Publishes each event to an SNS topic: the JSON event as the message, its line as the
/// subject.
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsNotifier {
    pub async fn new(topic_arn: &str) -> SnsNotifier {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        SnsNotifier {
            client: aws_sdk_sns::Client::new(&config),
            topic_arn: topic_arn.to_string(),
        }
    }

    pub async fn deliver(&self, event: &Event) -> Result<String, String> {
        let mut subject = format!("driftloop: {}", event.name().replace('_', " "));
        subject.truncate(100);
        let output = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(serde_json::to_string(event).unwrap_or_default())
            .send()
            .await
            .map_err(|e| format!("{}", aws_sdk_sns::error::DisplayErrorContext(e)))?;
        Ok(output.message_id().unwrap_or_default().to_string())
    }
}

#[async_trait]
impl Notifier for SnsNotifier {
    async fn notify(&self, event: &Event) {
        if let Err(e) = self.deliver(event).await {
            tracing::error!(target: "driftloop::notify", event = event.name(), topic = %self.topic_arn, "SNS publish failed: {e}");
        }
    }
}

/// Sends every event to each notifier in turn.
pub struct Notifiers(pub Vec<Box<dyn Notifier>>);

#[async_trait]
impl Notifier for Notifiers {
    async fn notify(&self, event: &Event) {
        for notifier in &self.0 {
            notifier.notify(event).await;
        }
    }
}

/// The log notifier, plus the webhook and SNS topic the settings name.
pub async fn notifier_from_settings(settings: &crate::Settings) -> Notifiers {
    notifiers_after(Box::new(LogNotifier), settings).await
}

/// `first` (the log line, or the demo's printer), then the webhook and SNS topic the
/// settings name.
pub async fn notifiers_after(first: Box<dyn Notifier>, settings: &crate::Settings) -> Notifiers {
    let mut notifiers: Vec<Box<dyn Notifier>> = vec![first];
    if let Some(url) = &settings.webhook_url {
        notifiers.push(Box::new(WebhookNotifier::new(url.clone())));
    }
    if let Some(arn) = &settings.sns_topic_arn {
        notifiers.push(Box::new(SnsNotifier::new(arn).await));
    }
    Notifiers(notifiers)
}
