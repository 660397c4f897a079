//! `driftloop demo`: the whole loop on one machine. It migrates a fresh database, stores
//! the 120-row baseline, trains the first champion, then simulated clients call the real
//! Router in process with rows from the baseline distribution and, after a while, from a
//! drift scenario; some rows get expert labels through `POST /v1/labels`. The database
//! trigger queues a drift check every 100 rows, the kicked worker runs it, and a drift
//! queues a training that promotes or rejects its candidate. A summary closes the run.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Args;
use driftloop_core::fixtures::{generate, Scenario};
use driftloop_core::{spec, FeatureRow};
use driftloop_pipeline::db::JobKind;
use driftloop_pipeline::notify::{notifiers_after, Event, Notifier};
use driftloop_pipeline::worker::Worker;
use driftloop_pipeline::{open_store, DatabaseUrl, Settings, StoreUrl};
use http_body_util::BodyExt;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};
use summary::{summarize, table, Record};
use tower::ServiceExt;

use crate::args::ScenarioArg;

mod summary;

/// The file that marks a folder as the demo's own, so that recreating it never deletes
/// anything else.
const MARKER: &str = ".driftloop-demo";

#[derive(Args)]
pub struct DemoArgs {
    /// Folder of the embedded database and store, recreated on each run.
    #[arg(long, default_value = ".driftloop/demo")]
    dir: PathBuf,
    /// Requests the simulated clients send.
    #[arg(long, default_value_t = 1000)]
    rows: usize,
    /// Share of the requests, from the first, drawn from the baseline distribution; the
    /// rest come from the drift scenario.
    #[arg(long, default_value_t = 0.4)]
    baseline_share: f64,
    /// The drift the later requests carry.
    #[arg(long, value_enum, default_value_t = ScenarioArg::CovariateShift)]
    scenario: ScenarioArg,
    /// Share of served rows an expert labels afterwards (with the rows' true class).
    #[arg(long, default_value_t = 0.3)]
    label_share: f64,
    /// Simulated clients sending at once.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Seed of the simulated rows.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Print one JSON object at the end instead of the summary table.
    #[arg(long)]
    json: bool,
    /// After the loop, keep serving the API and the dashboard (`/ui/`) over the demo's
    /// database and store until Ctrl-C.
    #[arg(long)]
    serve: bool,
    /// Address the API and the dashboard listen on with --serve.
    #[arg(long, default_value = "127.0.0.1:8080", requires = "serve")]
    addr: std::net::SocketAddr,
}

/// Prints notifications above the progress bars (or plainly when there are none).
struct PrintNotifier {
    bars: MultiProgress,
    visible: bool,
}

#[async_trait]
impl Notifier for PrintNotifier {
    async fn notify(&self, event: &Event) {
        let line = format!("  notify: {}", event.text());
        if self.visible {
            let _ = self.bars.println(line);
        } else {
            eprintln!("{line}");
        }
    }
}

pub async fn demo(args: DemoArgs, settings: &Settings, explicit_db: bool, explicit_store: bool) -> Result<()> {
    ensure!(args.rows > 0, "--rows must be at least 1");
    ensure!(
        (0.0..=1.0).contains(&args.baseline_share) && (0.0..=1.0).contains(&args.label_share),
        "--baseline-share and --label-share are shares from 0 to 1"
    );
    ensure!((1..=64).contains(&args.clients), "--clients must be from 1 to 64");
    let started = Instant::now();

    let mut settings = settings.clone();
    if !explicit_db || !explicit_store {
        recreate(&args.dir)?;
    }
    if !explicit_db {
        settings.database_url = DatabaseUrl::Sqlite {
            path: args.dir.join("driftloop.db"),
        };
    }
    if !explicit_store {
        settings.store = StoreUrl::Local {
            root: args.dir.join("store"),
        };
    }
    // Listening first: a taken port is said before the loop runs, not after.
    let listener = match args.serve {
        true => Some(
            tokio::net::TcpListener::bind(args.addr)
                .await
                .with_context(|| format!("listening on {} (--addr chooses another address)", args.addr))?,
        ),
        false => None,
    };
    let db = crate::open(&settings)?;
    db.migrate().context("migrating the demo database")?;
    let existing = db.count_rows()?;
    ensure!(
        existing == 0,
        "{} already holds {existing} rows: the demo needs an empty database (it runs the loop from the start)",
        settings.database_url
    );
    let store = open_store(&settings.store).await?;

    let bars = MultiProgress::new();
    if args.json {
        bars.set_draw_target(ProgressDrawTarget::hidden());
    }
    let visible = !bars.is_hidden();
    let say = |line: String| {
        if args.json {
            return;
        }
        if visible {
            let _ = bars.println(line);
        } else {
            eprintln!("{line}");
        }
    };
    // The same worker as `driftloop worker`, its log line replaced by the printer.
    let printer = Box::new(PrintNotifier {
        bars: bars.clone(),
        visible,
    });
    let notifier = Arc::new(notifiers_after(printer, &settings).await);
    let runner = Arc::new(Worker::with_notifier(&settings, db.clone(), store.clone(), notifier)?);
    let record = Arc::new(Mutex::new(Record::default()));

    // 1. The baseline and the first champion.
    say(format!(
        "driftloop demo: {} and {}",
        settings.database_url, settings.store
    ));
    let baseline = generate(Scenario::Baseline, 120, 42);
    db.insert_rows(&baseline)?;
    say("stored the 120-row baseline (expert labels)".to_string());
    db.enqueue(JobKind::Train, &json!({"reason": "demo: the first champion"}), None)?;
    let spinner = bars.add(ProgressBar::new_spinner().with_message("training the first champion"));
    spinner.enable_steady_tick(Duration::from_millis(100));
    let first = runner.run_once().await?;
    record.lock().unwrap().add(first);
    spinner.finish_and_clear();
    ensure!(
        db.champion(&spec().name)?.is_some(),
        "the first training registered no champion: {:?}",
        record.lock().unwrap().failures
    );

    // 2. The Router, with a worker woken when an insert makes a drift job due.
    let wake = Arc::new(tokio::sync::Notify::new());
    let kick: driftloop_api::Kick = {
        let wake = wake.clone();
        Arc::new(move || wake.notify_one())
    };
    let state = driftloop_api::AppState::with_dashboard(
        db.clone(),
        store.clone(),
        driftloop_api::Limits::default(),
        Duration::from_millis(500),
        kick,
        driftloop_api::Dashboard::from_settings(&settings),
    )
    .await;
    let router = driftloop_api::router(state);
    let stop = Arc::new(tokio::sync::Notify::new());
    let worker = {
        let (runner, record, wake, stop) = (runner.clone(), record.clone(), wake.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = stop.notified() => return,
                }
                match runner.run_once().await {
                    Ok(run) => record.lock().unwrap().add(run),
                    Err(e) => record.lock().unwrap().failures.push(format!("worker: {e:#}")),
                }
            }
        })
    };

    // 3. The clients: baseline rows first, then the drift scenario.
    let scenario: Scenario = args.scenario.into();
    let n_baseline = (args.rows as f64 * args.baseline_share).round() as usize;
    let mut rows = generate(Scenario::Baseline, n_baseline, args.seed);
    rows.extend(generate(scenario, args.rows - n_baseline, args.seed.wrapping_add(1)));
    let rows = Arc::new(rows);
    say(format!(
        "serving {} requests: {n_baseline} from the baseline, then {} from {}",
        args.rows,
        args.rows - n_baseline,
        scenario.name()
    ));
    let bar = bars.add(ProgressBar::new(args.rows as u64));
    bar.set_style(
        ProgressStyle::with_template("  {bar:40} {pos}/{len} requests {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let labels = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..args.clients {
        let (router, rows, next, labels, bar, record) = (
            router.clone(),
            rows.clone(),
            next.clone(),
            labels.clone(),
            bar.clone(),
            record.clone(),
        );
        let (label_share, seed) = (args.label_share, args.seed);
        clients.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(row) = rows.get(i) else {
                    return Ok::<(), anyhow::Error>(());
                };
                let answer = call(&router, "/v1/predict", predict_body(row, i)).await?;
                if unit(seed, i) < label_share {
                    let row_id = answer["row_id"].as_i64().context("predict answered no row_id")?;
                    let mut label = serde_json::Map::new();
                    label.insert("row_id".into(), json!(row_id));
                    label.insert(spec().label.clone(), json!(row.label_text()));
                    call(&router, "/v1/labels", Value::Object(label)).await?;
                    labels.fetch_add(1, Ordering::SeqCst);
                }
                bar.inc(1);
                let r = record.lock().unwrap();
                bar.set_message(format!(
                    "| drift checks {} (drift in {}) | models {}",
                    r.drift_checks.len(),
                    r.drift_checks.iter().filter(|d| d.drift).count(),
                    r.trainings.len()
                ));
            }
        }));
    }
    for client in clients {
        client.await.context("a client stopped")??;
    }
    bar.finish_and_clear();

    // 4. The worker finishes what is queued.
    stop.notify_one();
    worker.await.context("the worker stopped")?;
    let spinner = bars.add(ProgressBar::new_spinner().with_message("running the queued drift checks and trainings"));
    spinner.enable_steady_tick(Duration::from_millis(100));
    loop {
        let pass = runner.run_once().await?;
        let idle = pass.is_idle();
        record.lock().unwrap().add(pass);
        if idle {
            break;
        }
    }
    spinner.finish_and_clear();

    let record = Arc::try_unwrap(record)
        .map_err(|_| anyhow::anyhow!("the record is still shared"))?
        .into_inner()
        .unwrap();
    let summary = summarize(
        db.as_ref(),
        &record,
        args.rows,
        labels.load(Ordering::SeqCst),
        &settings,
        started,
    )?;
    if !record.failures.is_empty() {
        bail!("the loop failed: {}", record.failures.join("; "));
    }
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!("{}", table(&summary));
    }
    if let Some(listener) = listener {
        serve_after(listener, router, runner, wake).await?;
    }
    Ok(())
}

/// Serves the demo's Router until Ctrl-C, with the worker woken by inserts as during the
/// loop.
async fn serve_after(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    runner: Arc<Worker>,
    wake: Arc<tokio::sync::Notify>,
) -> Result<()> {
    tokio::spawn(async move {
        loop {
            wake.notified().await;
            if let Err(e) = runner.run_once().await {
                eprintln!("worker: {e:#}");
            }
        }
    });
    let addr = listener.local_addr()?;
    use std::io::Write;
    std::io::stdout().flush()?;
    eprintln!("the dashboard: http://{addr}/ui/ (the API: http://{addr}/openapi.json); Ctrl-C stops");
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")
}

/// Removes the demo folder of an earlier run (only a folder this command made, or an
/// empty one) and makes it anew.
fn recreate(dir: &Path) -> Result<()> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)?.next().is_none();
        ensure!(
            empty || dir.join(MARKER).exists(),
            "{} exists and is not a driftloop demo folder: choose another --dir",
            dir.display()
        );
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join(MARKER), "made by `driftloop demo`, recreated on each run\n")?;
    Ok(())
}

/// The request body of a row, with values as clients send them ("Usually", "YES", 7).
fn predict_body(row: &FeatureRow, i: usize) -> Value {
    let s = spec();
    let features: serde_json::Map<String, Value> = s
        .features
        .iter()
        .zip(&row.features)
        .enumerate()
        .map(|(col, (column, &code))| {
            let value = match column.kind.levels() {
                Some(_) => json!(s.feature_text(col, code)),
                None => json!(code),
            };
            (column.name.to_string(), value)
        })
        .collect();
    json!({"features": features, "request_id": format!("demo-{i}")})
}

/// A number in [0, 1) fixed by the seed and the request's index.
fn unit(seed: u64, i: usize) -> f64 {
    let mut rng = driftloop_core::rng::SplitMix64::new(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    rng.next_f64()
}

/// One POST through the Router, in process; anything but 200 is an error.
async fn call(router: &axum::Router, path: &str, body: Value) -> Result<Value> {
    let request = Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .context("building a request")?;
    let response = router.clone().oneshot(request).await.context("calling the Router")?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .context("reading the answer")?
        .to_bytes();
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    ensure!(status == StatusCode::OK, "{path} answered {status}: {answer}");
    Ok(answer)
}
