//! The counting trigger under concurrent writers: no count is lost, no job doubled, with
//! bulk inserts (counted with one call) among single-row ones (counted by the trigger).

use driftloop_core::fixtures::{generate, Scenario};
use driftloop_db::{JobKind, JobStatus, RowRef};

use driftloop_db::on_both_backends;
use driftloop_db::testing::{Backend, TestDb};

on_both_backends!(
    eight_writers_single_row_inserts,
    eight_writers_multi_row_transactions,
    eight_labellers_queue_one_performance_job_per_labels_every,
    bulk_inserts_among_single_rows_count_exactly,
    a_bulk_insert_queues_what_the_trigger_would,
    a_bulk_insert_tells_how_far_it_is,
);

const N_WRITERS: usize = 8;
const ROWS_PER_WRITER: usize = 1000;

/// Each of 8 writers, on its own connection, inserts 1,000 rows in transactions of
/// `rows_per_tx` rows; with N = 100 that must leave exactly 80 drift jobs and counter 0.
fn run_writers(backend: Backend, name: &str, rows_per_tx: usize) {
    let t = TestDb::new(backend, name);
    assert_eq!(t.db.drift_counter().unwrap().drift_every, 100);
    let barrier = std::sync::Barrier::new(N_WRITERS);
    let queued: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..N_WRITERS)
            .map(|writer| {
                let db = t.reopen();
                let barrier = &barrier;
                scope.spawn(move || {
                    let rows = generate(Scenario::Baseline, ROWS_PER_WRITER, writer as u64);
                    barrier.wait();
                    let mut queued = 0;
                    for chunk in rows.chunks(rows_per_tx) {
                        let outcome = if rows_per_tx == 1 {
                            db.insert_rows(std::slice::from_ref(&chunk[0]))
                        } else {
                            db.insert_rows(chunk)
                        };
                        queued += outcome.unwrap().drift_jobs_queued;
                    }
                    queued
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(t.db.count_rows().unwrap(), (N_WRITERS * ROWS_PER_WRITER) as u64);
    assert_eq!(t.db.jobs(Some(JobStatus::Pending)).unwrap().len(), 80);
    assert_eq!(t.db.jobs(None).unwrap().len(), 80);
    assert_eq!(t.db.drift_counter().unwrap().n, 0);
    assert_eq!(queued, 80, "the writers were told of every job their rows queued");
}

fn eight_writers_single_row_inserts(backend: Backend) {
    run_writers(backend, "writers_single", 1);
}

fn eight_writers_multi_row_transactions(backend: Backend) {
    run_writers(backend, "writers_multi", 50);
}

/// Each of 8 labellers, on its own connection, gives 150 expert labels (one transaction
/// each) to rows a model scored, relabelling some: with labels_every = 50 that must leave
/// exactly 24 performance jobs and the counter at 0. Labels on rows no model scored do not
/// count.
fn eight_labellers_queue_one_performance_job_per_labels_every(backend: Backend) {
    const LABELS_PER_WRITER: usize = 150;
    let t = TestDb::new(backend, "labellers");
    assert_eq!(t.db.label_counter().unwrap().labels_every, 50);
    let mut rows = generate(Scenario::Baseline, 400, 9);
    for row in &mut rows[..300] {
        row.label_source = driftloop_core::LabelSource::Model;
        row.model_version = Some("1".into());
    }
    t.db.insert_rows(&rows).unwrap();
    // Imported rows (ids 301-400) labelled again: not counted.
    for id in 301..=310 {
        t.db.set_label(&RowRef::Id(id), 0, None).unwrap();
    }
    assert_eq!(t.db.label_counter().unwrap().n, 0);
    let barrier = std::sync::Barrier::new(N_WRITERS);
    std::thread::scope(|scope| {
        for writer in 0..N_WRITERS {
            let db = t.reopen();
            let barrier = &barrier;
            scope.spawn(move || {
                barrier.wait();
                for i in 0..LABELS_PER_WRITER {
                    // Rows 1-300, several labellers on the same row now and then.
                    let id = ((writer * 37 + i * 11) % 300) as i64 + 1;
                    db.set_label(&RowRef::Id(id), (i % 4) as u8, None).unwrap();
                }
            });
        }
    });
    let performance: Vec<_> =
        t.db.jobs(None)
            .unwrap()
            .into_iter()
            .filter(|j| j.kind == JobKind::Performance)
            .collect();
    assert_eq!(performance.len(), N_WRITERS * LABELS_PER_WRITER / 50);
    assert_eq!(t.db.label_counter().unwrap().n, 0);
    let payload = performance[0].payload.as_ref().unwrap();
    assert_eq!(
        (&payload["reason"], &payload["labels"]),
        (&serde_json::json!("label_count"), &serde_json::json!(50))
    );
    let labels = t.query("SELECT COUNT(*) FROM labels");
    assert_eq!(labels[0][0].as_deref(), Some("1210"));
}

/// 4 writers insert single rows (each counted by the trigger) while 4 others insert
/// batches of 250 (counted once per batch): with N = 100, exactly 80 jobs and counter 0,
/// and every job names a distinct row that made it due.
fn bulk_inserts_among_single_rows_count_exactly(backend: Backend) {
    let t = TestDb::new(backend, "writers_bulk_mixed");
    let barrier = std::sync::Barrier::new(N_WRITERS);
    let queued: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..N_WRITERS)
            .map(|writer| {
                let db = t.reopen();
                let barrier = &barrier;
                scope.spawn(move || {
                    let rows = generate(Scenario::Baseline, ROWS_PER_WRITER, 100 + writer as u64);
                    barrier.wait();
                    if writer % 2 == 0 {
                        rows.iter()
                            .map(|row| db.insert_rows_each(std::slice::from_ref(row)).unwrap().1)
                            .sum::<u64>()
                    } else {
                        rows.chunks(250)
                            .map(|chunk| db.insert_rows(chunk).unwrap().drift_jobs_queued)
                            .sum::<u64>()
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(t.db.count_rows().unwrap(), (N_WRITERS * ROWS_PER_WRITER) as u64);
    let jobs = t.db.jobs(None).unwrap();
    assert_eq!(jobs.len(), 80);
    assert_eq!(t.db.drift_counter().unwrap().n, 0);
    assert_eq!(queued, 80, "the writers were told of every job their rows queued");
    let mut last_rows: Vec<i64> = jobs
        .iter()
        .map(|j| j.payload.as_ref().unwrap()["last_row_id"].as_i64().unwrap())
        .collect();
    last_rows.sort_unstable();
    last_rows.dedup();
    assert_eq!(last_rows.len(), 80);
    assert!(jobs.iter().all(|j| j.payload.as_ref().unwrap()["rows"] == 100));
}

/// The same rows inserted in bulk and one by one leave the same jobs (payloads and all)
/// and the same counter, also when `drift_every` was lowered below the count.
fn a_bulk_insert_queues_what_the_trigger_would(backend: Backend) {
    let rows = generate(Scenario::Baseline, 260, 5);
    let run = |name: &str, bulk: bool| {
        let t = TestDb::new(backend, name);
        let insert = |rows: &[driftloop_core::FeatureRow]| {
            if bulk {
                t.db.insert_rows(rows).unwrap().drift_jobs_queued
            } else {
                rows.iter()
                    .map(|row| t.db.insert_rows_each(std::slice::from_ref(row)).unwrap().1)
                    .sum()
            }
        };
        let first = insert(&rows[..250]);
        t.db.set_drift_every(30).unwrap();
        let second = insert(&rows[250..]);
        let payloads: Vec<serde_json::Value> =
            t.db.jobs(None)
                .unwrap()
                .into_iter()
                .map(|j| j.payload.unwrap())
                .collect();
        (first, second, payloads, t.db.drift_counter().unwrap().n)
    };
    let bulk = run("bulk_count", true);
    let single = run("single_count", false);
    assert_eq!(bulk, single);
    let (first, second, payloads, n) = bulk;
    assert_eq!((first, second, n), (2, 1, 9));
    assert_eq!(
        payloads[0],
        serde_json::json!({"reason": "row_count", "rows": 100, "last_row_id": 100})
    );
    assert_eq!(
        payloads[2],
        serde_json::json!({"reason": "row_count", "rows": 51, "last_row_id": 251})
    );
}

/// An import's progress: rows held by the transaction after each statement, rising to all
/// of them, and the rows stored as by `insert_rows`.
fn a_bulk_insert_tells_how_far_it_is(backend: Backend) {
    let t = TestDb::new(backend, "bulk_progress");
    let rows = generate(Scenario::Baseline, 2500, 6);
    let seen = std::sync::Mutex::new(Vec::new());
    let outcome =
        t.db.insert_rows_with_progress(&rows, &|n| seen.lock().unwrap().push(n))
            .unwrap();
    let seen = seen.into_inner().unwrap();
    assert_eq!((outcome.n_rows, outcome.drift_jobs_queued), (2500, 25));
    assert_eq!(seen.first(), Some(&0));
    assert_eq!(seen.last(), Some(&2500));
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "rising: {seen:?}");
    assert!(seen.len() >= 4, "more than one step: {} steps", seen.len());
    assert_eq!(t.db.count_rows().unwrap(), 2500);
}
