//! The job-queue contract: claims with leases, fencing, dedupe keys, and two workers
//! that never get the same job. Run on SQLite and on MySQL/MariaDB.

use std::collections::HashSet;
use std::time::Duration;

use driftloop_db::Error;
use driftloop_db::{JobKind, JobStatus, MAX_ATTEMPTS};
use serde_json::json;

use driftloop_db::on_both_backends;
use driftloop_db::testing::{Backend, TestDb};

on_both_backends!(
    a_job_is_claimed_run_and_finished_once,
    claims_take_only_the_asked_kinds_oldest_first,
    an_expired_lease_is_reclaimed_and_fences_the_old_holder,
    a_job_whose_lease_keeps_expiring_fails,
    a_dedupe_key_enqueues_once,
    concurrent_workers_never_share_a_job,
    batches_are_claimed_and_finished_at_once,
    concurrent_batch_claims_never_share_a_job,
    expired_and_pending_jobs_are_claimed_together_oldest_first,
);

const LEASE: Duration = Duration::from_secs(300);

fn a_job_is_claimed_run_and_finished_once(backend: Backend) {
    let t = TestDb::new(backend, "job_life");
    assert_eq!(t.db.claim(&[JobKind::Drift], LEASE).unwrap(), None);
    let enqueued =
        t.db.enqueue(JobKind::Drift, &json!({"reason": "manual"}), None)
            .unwrap();
    assert!(enqueued.created);
    let job =
        t.db.claim(&[JobKind::Drift, JobKind::Train], LEASE)
            .unwrap()
            .expect("a pending job");
    assert_eq!((job.id, job.kind, job.attempt), (enqueued.id, JobKind::Drift, 1));
    assert_eq!(job.payload, Some(json!({"reason": "manual"})));
    assert_eq!(
        t.db.claim(&[JobKind::Drift], LEASE).unwrap(),
        None,
        "a held job is not handed out again"
    );
    t.db.complete(&job).unwrap();
    let err = t.db.complete(&job).unwrap_err();
    assert!(matches!(err, Error::LeaseLost { .. }), "{err}");
    let stored = t.db.jobs(Some(JobStatus::Done)).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].attempts, 1);

    t.db.enqueue(JobKind::Train, &json!(null), None).unwrap();
    let job = t.db.claim(&[JobKind::Train], LEASE).unwrap().unwrap();
    assert_eq!(job.payload, None);
    t.db.fail(&job, "training data has one class").unwrap();
    let failed = t.db.jobs(Some(JobStatus::Failed)).unwrap();
    assert_eq!(failed[0].error.as_deref(), Some("training data has one class"));
    assert_eq!(
        t.db.claim(&[JobKind::Train], LEASE).unwrap(),
        None,
        "a failed job stays failed"
    );
}

fn claims_take_only_the_asked_kinds_oldest_first(backend: Backend) {
    let t = TestDb::new(backend, "job_kinds");
    let first_train = t.db.enqueue(JobKind::Train, &json!({"n": 1}), None).unwrap().id;
    let drift = t.db.enqueue(JobKind::Drift, &json!({"n": 2}), None).unwrap().id;
    let second_train = t.db.enqueue(JobKind::Train, &json!({"n": 3}), None).unwrap().id;
    assert_eq!(t.db.claim(&[JobKind::Drift], LEASE).unwrap().unwrap().id, drift);
    assert_eq!(t.db.claim(&[JobKind::Drift], LEASE).unwrap(), None);
    assert_eq!(t.db.claim(&[JobKind::Train], LEASE).unwrap().unwrap().id, first_train);
    assert_eq!(
        t.db.claim(&[JobKind::Train, JobKind::Drift], LEASE)
            .unwrap()
            .unwrap()
            .id,
        second_train
    );
    assert_eq!(t.db.claim(&[], LEASE).unwrap(), None);
}

fn an_expired_lease_is_reclaimed_and_fences_the_old_holder(backend: Backend) {
    let t = TestDb::new(backend, "job_lease");
    let id = t.db.enqueue(JobKind::Drift, &json!({}), None).unwrap().id;
    let crashed =
        t.db.claim(&[JobKind::Drift], Duration::from_millis(50))
            .unwrap()
            .unwrap();
    std::thread::sleep(Duration::from_millis(120));
    let other = t.reopen();
    let retry = other
        .claim(&[JobKind::Drift], LEASE)
        .unwrap()
        .expect("the expired job is claimable again");
    assert_eq!((retry.id, retry.attempt), (id, 2));
    let err = t.db.complete(&crashed).unwrap_err();
    assert!(
        matches!(err, Error::LeaseLost { job_id, attempt: 1 } if job_id == id),
        "{err}"
    );
    other.complete(&retry).unwrap();
    assert_eq!(t.db.jobs(Some(JobStatus::Done)).unwrap()[0].attempts, 2);
}

fn a_job_whose_lease_keeps_expiring_fails(backend: Backend) {
    let t = TestDb::new(backend, "job_exhausted");
    t.db.enqueue(JobKind::Train, &json!({}), None).unwrap();
    for attempt in 1..=MAX_ATTEMPTS {
        let job =
            t.db.claim(&[JobKind::Train], Duration::from_millis(20))
                .unwrap()
                .unwrap();
        assert_eq!(job.attempt, attempt);
        std::thread::sleep(Duration::from_millis(60));
    }
    assert_eq!(t.db.claim(&[JobKind::Train], LEASE).unwrap(), None);
    let failed = t.db.jobs(Some(JobStatus::Failed)).unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].error.as_deref(),
        Some(format!("lease expired on each of {MAX_ATTEMPTS} attempts").as_str())
    );
}

fn a_dedupe_key_enqueues_once(backend: Backend) {
    let t = TestDb::new(backend, "job_dedupe");
    let first =
        t.db.enqueue(
            JobKind::Train,
            &json!({"from_drift_job": 7}),
            Some("train-after-drift-7"),
        )
        .unwrap();
    let again =
        t.db.enqueue(
            JobKind::Train,
            &json!({"from_drift_job": 7}),
            Some("train-after-drift-7"),
        )
        .unwrap();
    assert!(first.created && !again.created);
    assert_eq!(first.id, again.id);
    let other =
        t.db.enqueue(JobKind::Train, &json!({}), Some("train-after-drift-8"))
            .unwrap();
    assert!(other.created && other.id != first.id);
    assert_eq!(t.db.jobs(None).unwrap().len(), 2);
    assert_eq!(
        t.db.jobs(None).unwrap()[0].dedupe_key.as_deref(),
        Some("train-after-drift-7")
    );
}

fn concurrent_workers_never_share_a_job(backend: Backend) {
    const N_JOBS: usize = 200;
    const N_WORKERS: usize = 4;
    let t = TestDb::new(backend, "job_race");
    for i in 0..N_JOBS {
        t.db.enqueue(JobKind::Drift, &json!({"i": i}), None).unwrap();
    }
    let barrier = std::sync::Barrier::new(N_WORKERS);
    let claimed: Vec<Vec<i64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..N_WORKERS)
            .map(|_| {
                let db = t.reopen();
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let mut mine = Vec::new();
                    while let Some(job) = db.claim(&[JobKind::Drift], LEASE).unwrap() {
                        mine.push(job.id);
                        // A job takes time, as real ones do: without it one thread can
                        // take the SQLite write lock again before the others wake up.
                        std::thread::sleep(std::time::Duration::from_millis(1));
                        db.complete(&job).unwrap();
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all: Vec<i64> = claimed.iter().flatten().copied().collect();
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(
        all.len(),
        N_JOBS,
        "every job claimed exactly once: {:?}",
        claimed.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert_eq!(distinct.len(), N_JOBS);
    assert!(
        claimed.iter().filter(|c| !c.is_empty()).count() >= 2,
        "more than one worker got work"
    );
    assert_eq!(t.db.jobs(Some(JobStatus::Done)).unwrap().len(), N_JOBS);
}

fn batches_are_claimed_and_finished_at_once(backend: Backend) {
    let t = TestDb::new(backend, "job_batches");
    let ids: Vec<i64> = (0..7)
        .map(|i| t.db.enqueue(JobKind::Drift, &json!({"i": i}), None).unwrap().id)
        .collect();
    t.db.enqueue(JobKind::Train, &json!({}), None).unwrap();
    assert_eq!(t.db.claim_many(&[JobKind::Drift], LEASE, 0).unwrap(), vec![]);
    let first = t.db.claim_many(&[JobKind::Drift], LEASE, 5).unwrap();
    assert_eq!(first.iter().map(|j| j.id).collect::<Vec<_>>(), ids[..5]);
    assert!(first.iter().all(|j| j.attempt == 1 && j.kind == JobKind::Drift));
    assert_eq!(first[2].payload, Some(json!({"i": 2})));
    let rest = t.db.claim_many(&[JobKind::Drift], LEASE, 5).unwrap();
    assert_eq!(rest.iter().map(|j| j.id).collect::<Vec<_>>(), ids[5..]);
    assert_eq!(t.db.claim_many(&[JobKind::Drift], LEASE, 5).unwrap(), vec![]);
    t.db.complete_many(&first).unwrap();
    assert_eq!(t.db.jobs(Some(JobStatus::Done)).unwrap().len(), 5);

    // An expired lease, claimed again by another worker: the old holder's batch is
    // refused whole, naming the job, and the new holder finishes it.
    let t = TestDb::new(backend, "job_batch_fence");
    for i in 0..3 {
        t.db.enqueue(JobKind::Drift, &json!({"i": i}), None).unwrap();
    }
    let crashed =
        t.db.claim_many(&[JobKind::Drift], Duration::from_millis(50), 3)
            .unwrap();
    std::thread::sleep(Duration::from_millis(120));
    let retry = t.reopen().claim_many(&[JobKind::Drift], LEASE, 1).unwrap();
    assert_eq!((retry[0].id, retry[0].attempt), (crashed[0].id, 2));
    let err = t.db.complete_many(&crashed).unwrap_err();
    assert!(
        matches!(err, Error::LeaseLost { job_id, attempt: 1 } if job_id == crashed[0].id),
        "{err}"
    );
    assert_eq!(t.db.jobs(Some(JobStatus::Done)).unwrap(), vec![], "none or all");
    t.db.complete_many(&retry).unwrap();
    assert_eq!(t.db.jobs(Some(JobStatus::Done)).unwrap().len(), 1);
}

fn expired_and_pending_jobs_are_claimed_together_oldest_first(backend: Backend) {
    let t = TestDb::new(backend, "job_claim_order");
    let ids: Vec<i64> = (0..5)
        .map(|i| t.db.enqueue(JobKind::Drift, &json!({"i": i}), None).unwrap().id)
        .collect();
    // Jobs 1 and 3 are claimed by a worker that dies; 0 is finished; 2 and 4 wait.
    let first = t.db.claim_many(&[JobKind::Drift], LEASE, 1).unwrap();
    t.db.complete_many(&first).unwrap();
    let crashed =
        t.db.claim_many(&[JobKind::Drift], Duration::from_millis(50), 1)
            .unwrap();
    let held = t.db.claim_many(&[JobKind::Drift], LEASE, 1).unwrap();
    let crashed_too =
        t.db.claim_many(&[JobKind::Drift], Duration::from_millis(50), 1)
            .unwrap();
    assert_eq!((crashed[0].id, held[0].id, crashed_too[0].id), (ids[1], ids[2], ids[3]));
    std::thread::sleep(Duration::from_millis(120));
    // The two expired and the pending one, in id order, whatever their status; the held
    // and the finished ones are left.
    let claimed = t.reopen().claim_many(&[JobKind::Drift], LEASE, 2).unwrap();
    assert_eq!(
        claimed.iter().map(|j| (j.id, j.attempt)).collect::<Vec<_>>(),
        vec![(ids[1], 2), (ids[3], 2)]
    );
    let rest = t.db.claim_many(&[JobKind::Drift], LEASE, 10).unwrap();
    assert_eq!(
        rest.iter().map(|j| (j.id, j.attempt)).collect::<Vec<_>>(),
        vec![(ids[4], 1)]
    );
    assert_eq!(t.db.claim_many(&[JobKind::Drift], LEASE, 10).unwrap(), vec![]);
}

fn concurrent_batch_claims_never_share_a_job(backend: Backend) {
    const N_JOBS: usize = 300;
    const N_WORKERS: usize = 3;
    let t = TestDb::new(backend, "job_batch_race");
    for i in 0..N_JOBS {
        t.db.enqueue(JobKind::Drift, &json!({"i": i}), None).unwrap();
    }
    let barrier = std::sync::Barrier::new(N_WORKERS);
    let claimed: Vec<i64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..N_WORKERS)
            .map(|_| {
                let db = t.reopen();
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let mut mine = Vec::new();
                    loop {
                        let batch = db.claim_many(&[JobKind::Drift], LEASE, 7).unwrap();
                        if batch.is_empty() {
                            return mine;
                        }
                        mine.extend(batch.iter().map(|j| j.id));
                        db.complete_many(&batch).unwrap();
                    }
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let distinct: HashSet<i64> = claimed.iter().copied().collect();
    assert_eq!(
        (claimed.len(), distinct.len()),
        (N_JOBS, N_JOBS),
        "every job claimed exactly once"
    );
    assert_eq!(t.db.jobs(Some(JobStatus::Done)).unwrap().len(), N_JOBS);
}
