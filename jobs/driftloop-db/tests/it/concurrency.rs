//! The counting trigger under concurrent writers: no count is lost, no job doubled.

use driftloop_core::fixtures::{generate, Scenario};
use driftloop_db::{JobKind, JobStatus, RowRef};

use driftloop_db::on_both_backends;
use driftloop_db::testing::{Backend, TestDb};

on_both_backends!(
    eight_writers_single_row_inserts,
    eight_writers_multi_row_transactions,
    eight_labellers_queue_one_performance_job_per_labels_every
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
