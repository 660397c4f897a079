//! `driftloop serve`: the HTTP API, with an in-process worker woken when an insert makes
//! a drift job due.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use driftloop_pipeline::worker::Worker;
use driftloop_pipeline::{open_store, Settings};

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: std::net::SocketAddr,
    /// Seconds between checks of the champion alias (a promoted model is served after at
    /// most this long).
    #[arg(long, default_value_t = 30)]
    refresh_seconds: u64,
    /// Do not run the drift and train jobs in this process (another worker does).
    #[arg(long)]
    no_worker: bool,
}

/// `driftloop serve`: the HTTP API, with an in-process worker woken when an insert makes
/// a drift job due.
pub async fn run(args: ServeArgs, settings: &Settings) -> Result<()> {
    let db = crate::open(settings)?;
    let store = open_store(&settings.store).await?;
    let wake = Arc::new(tokio::sync::Notify::new());
    if !args.no_worker {
        let worker = Worker::from_settings(settings, db.clone(), store.clone()).await?;
        let wake = wake.clone();
        tokio::spawn(async move {
            loop {
                wake.notified().await;
                match worker.run_once().await {
                    Ok(pass) => tracing::info!(
                        drift_jobs = pass.drift.jobs.len(),
                        performance_jobs = pass.performance.jobs.len(),
                        trainings = pass.train.trainings.len(),
                        failed = pass.drift.failed.len() + pass.performance.failed.len() + pass.train.failed.len(),
                        "outbox run"
                    ),
                    Err(e) => tracing::error!("worker: {e:#}"),
                }
            }
        });
    }
    let kick: driftloop_api::Kick = {
        let wake = wake.clone();
        Arc::new(move || wake.notify_one())
    };
    let state = driftloop_api::AppState::with_dashboard(
        db,
        store,
        driftloop_api::Limits::default(),
        Duration::from_secs(args.refresh_seconds.max(1)),
        kick,
        driftloop_api::Dashboard::from_settings(settings),
    )
    .await;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("listening on {}", args.addr))?;
    tracing::info!("serving on http://{}", listener.local_addr()?);
    eprintln!("driftloop serving on http://{}", listener.local_addr()?);
    eprintln!("the dashboard: http://{}/ui/", listener.local_addr()?);
    axum::serve(listener, driftloop_api::router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")?;
    Ok(())
}
