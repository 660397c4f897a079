//! The counting trigger under concurrent writers: no count is lost, no job doubled.

use driftloop_core::fixtures::{generate, Scenario};
use driftloop_db::JobStatus;

use driftloop_db::on_both_backends;
use driftloop_db::testing::{Backend, TestDb};

on_both_backends!(eight_writers_single_row_inserts, eight_writers_multi_row_transactions);

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
