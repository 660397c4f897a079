//! The feature-store contract, run on SQLite and on MySQL/MariaDB.

use driftloop_core::fixtures::{generate, Scenario};
use driftloop_core::{FeatureRow, LabelSource};
use driftloop_db::frames::{canonicalize, feature_schema, frame_bytes, ReadRounds};
use driftloop_db::Error;
use driftloop_db::{RowFilter, RowRef};
use polars::prelude::*;

use driftloop_db::on_both_backends;
use driftloop_db::testing::{frame_rows, Backend, TestDb};

on_both_backends!(
    rows_read_back_as_written_with_one_schema,
    empty_table_reads_as_an_empty_frame_with_the_schema,
    read_filters_by_watermark_and_label_source,
    a_read_in_rounds_is_the_read_in_one,
    a_read_says_nothing_on_stderr,
    text_columns_without_a_value_hold_nothing_per_row,
    a_batch_is_stored_whole_or_not_at_all,
    a_request_id_is_stored_once,
    rows_stored_each_on_their_own_skip_only_stored_request_ids,
    the_trigger_queues_a_drift_job_every_n_rows,
    plain_sql_inserts_are_counted_too,
    a_label_keeps_the_prediction_and_every_earlier_label,
);

fn ids(frame: &DataFrame) -> Vec<i64> {
    frame
        .column("id")
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .map(|v| v.unwrap())
        .collect()
}

/// Baseline rows, every third one scored by a model with a request id.
fn mixed_rows(n: usize, seed: u64) -> Vec<FeatureRow> {
    let mut rows = generate(Scenario::Baseline, n, seed);
    for (i, row) in rows.iter_mut().enumerate().filter(|(i, _)| i % 3 == 0) {
        row.label_source = LabelSource::Model;
        row.model_version = Some("v0001".into());
        row.request_id = Some(format!("req-{seed}-{i}"));
    }
    rows
}

fn rows_read_back_as_written_with_one_schema(backend: Backend) {
    let t = TestDb::new(backend, "read_back");
    let rows = mixed_rows(300, 1);
    let single = t.db.insert_rows(std::slice::from_ref(&rows[0])).unwrap();
    assert_eq!((single.last_id, single.n_rows), (1, 1));
    let batch = t.db.insert_rows(&rows[1..]).unwrap();
    assert_eq!((batch.last_id, batch.n_rows), (300, 299));
    assert_eq!(t.db.count_rows().unwrap(), 300);

    let frame = t.db.read_frame(&RowFilter::default()).unwrap();
    assert_eq!(**frame.schema(), feature_schema());
    assert_eq!(ids(&frame), (1..=300).collect::<Vec<i64>>());
    assert_eq!(frame_rows(&frame), rows);
    let created = frame.column("created_at").unwrap();
    assert_eq!(created.null_count(), 0);
}

fn empty_table_reads_as_an_empty_frame_with_the_schema(backend: Backend) {
    let t = TestDb::new(backend, "empty_read");
    let frame = t.db.read_frame(&RowFilter::default()).unwrap();
    assert_eq!(frame.height(), 0);
    assert_eq!(**frame.schema(), feature_schema());
}

fn read_filters_by_watermark_and_label_source(backend: Backend) {
    let t = TestDb::new(backend, "read_filter");
    let rows = mixed_rows(90, 2);
    t.db.insert_rows(&rows).unwrap();
    let after =
        t.db.read_frame(&RowFilter {
            after_id: Some(60),
            label_source: None,
        })
        .unwrap();
    assert_eq!(ids(&after), (61..=90).collect::<Vec<i64>>());
    assert_eq!(frame_rows(&after), rows[60..]);
    let experts =
        t.db.read_frame(&RowFilter {
            after_id: None,
            label_source: Some(LabelSource::Expert),
        })
        .unwrap();
    let expected: Vec<FeatureRow> = rows
        .iter()
        .filter(|r| r.label_source == LabelSource::Expert)
        .cloned()
        .collect();
    assert_eq!(frame_rows(&experts), expected);
    let model_after =
        t.db.read_frame(&RowFilter {
            after_id: Some(45),
            label_source: Some(LabelSource::Model),
        })
        .unwrap();
    assert!(
        ids(&model_after).iter().all(|&id| id > 45 && (id - 1) % 3 == 0),
        "{:?}",
        ids(&model_after)
    );
    assert_eq!(model_after.height(), 15);
}

/// Rounds of any size (one row, a few, partitioned on MySQL, more than the rows) give
/// the frame one read gives, in one chunk per column, with and without a filter; the ids
/// of a filtered read have gaps a round may fall into whole.
fn a_read_in_rounds_is_the_read_in_one(backend: Backend) {
    let t = TestDb::new(backend, "read_rounds");
    let rows = mixed_rows(300, 3);
    t.db.insert_rows(&rows).unwrap();
    let filters = [
        RowFilter::default(),
        RowFilter {
            after_id: Some(45),
            label_source: None,
        },
        RowFilter {
            after_id: Some(100),
            label_source: Some(LabelSource::Model),
        },
    ];
    let sizes = [(1, i64::MAX), (7, i64::MAX), (7, 10), (2, 1), (64, 50), (1_000, 10)];
    for filter in &filters {
        let whole = t.db.read_frame(filter).unwrap();
        assert!(whole.height() > 50, "{filter:?}");
        for (round_rows, partition_min_ids) in sizes {
            let rounds = ReadRounds {
                round_rows,
                partition_min_ids,
            };
            let read = t.db.read_frame_in_rounds(filter, rounds).unwrap();
            assert_eq!(**read.schema(), feature_schema(), "{filter:?} {rounds:?}");
            assert!(read.equals_missing(&whole), "{filter:?} {rounds:?}");
            assert_eq!(ids(&read), ids(&whole), "{filter:?} {rounds:?}");
            assert!(
                read.columns().iter().all(|c| c.n_chunks() == 1),
                "{filter:?} {rounds:?}"
            );
        }
    }
    let beyond = RowFilter {
        after_id: Some(300),
        label_source: None,
    };
    let empty =
        t.db.read_frame_in_rounds(
            &beyond,
            ReadRounds {
                round_rows: 7,
                partition_min_ids: 1,
            },
        )
        .unwrap();
    assert_eq!((empty.height(), &**empty.schema()), (0, &feature_schema()));
}

/// What Polars said on its warning channel (which prints to stderr by default).
static POLARS_WARNINGS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn keep_polars_warning(message: &str, kind: polars::error::PolarsWarning) {
    POLARS_WARNINGS.lock().unwrap().push(format!("{kind:?}: {message}"));
}

/// A read, whole or in rounds, gives Polars nothing to warn of: building the level
/// columns from MySQL's ENUM indices once printed a deprecation per column and round (128
/// lines on stderr for a 1,000,000-row training).
fn a_read_says_nothing_on_stderr(backend: Backend) {
    let t = TestDb::new(backend, "read_quiet");
    t.db.insert_rows(&mixed_rows(40, 4)).unwrap();
    polars::error::set_warning_function(keep_polars_warning);
    let rounds = ReadRounds {
        round_rows: 7,
        partition_min_ids: 10,
    };
    let whole = t.db.read_frame(&RowFilter::default()).unwrap();
    let read = t.db.read_frame_in_rounds(&RowFilter::default(), rounds).unwrap();
    assert!(read.equals_missing(&whole));
    assert_eq!(whole.height(), 40);
    // Other tests of this binary may read at the same time: any warning is one too many.
    let warnings = POLARS_WARNINGS.lock().unwrap().clone();
    assert!(
        warnings.is_empty(),
        "{} warnings, the first: {}",
        warnings.len(),
        warnings[0]
    );
}

/// Imported rows have no model version nor request id: a read, in rounds or in one, keeps
/// those two columns as columns of nulls (no view per row); a value in a later round
/// makes the column rows again, with the nulls before it.
fn text_columns_without_a_value_hold_nothing_per_row(backend: Backend) {
    let t = TestDb::new(backend, "text_nulls");
    t.db.insert_rows(&generate(Scenario::Baseline, 40, 8)).unwrap();
    let rounds = ReadRounds {
        round_rows: 7,
        partition_min_ids: 10,
    };
    let whole = t.db.read_frame(&RowFilter::default()).unwrap();
    let read = t.db.read_frame_in_rounds(&RowFilter::default(), rounds).unwrap();
    for frame in [&whole, &read] {
        for name in ["model_version", "request_id"] {
            let column = frame.column(name).unwrap();
            assert!(matches!(column, Column::Scalar(_)), "{name}");
            assert_eq!((column.len(), column.null_count()), (40, 40), "{name}");
        }
    }
    assert!(read.equals_missing(&whole));
    assert_eq!(frame_bytes(&read), frame_bytes(&whole));

    t.db.insert_rows(&mixed_rows(3, 9)).unwrap();
    let read = t.db.read_frame_in_rounds(&RowFilter::default(), rounds).unwrap();
    let versions = read.column("model_version").unwrap();
    assert!(matches!(versions, Column::Series(_)));
    assert_eq!((versions.len(), versions.null_count()), (43, 42));
    assert!(read.equals_missing(&t.db.read_frame(&RowFilter::default()).unwrap()));
}

/// Rows in `id` order keep their chunks (nothing is copied to sort them); rows out of
/// order come back sorted, as one read gives them.
#[test]
fn canonical_rows_are_sorted_by_id_and_kept_when_they_are() {
    let t = TestDb::new(Backend::Sqlite, "canonical_order");
    t.db.insert_rows(&mixed_rows(90, 5)).unwrap();
    let whole = t.db.read_frame(&RowFilter::default()).unwrap();
    let (head, tail) = (whole.slice(0, 40), whole.slice(40, 50));

    let in_order = head.vstack(&tail).unwrap();
    let kept = canonicalize(in_order).unwrap();
    assert!(kept.equals_missing(&whole));
    assert!(kept.columns().iter().all(|c| c.n_chunks() == 2), "kept as it was");

    let out_of_order = tail.vstack(&head).unwrap();
    let sorted = canonicalize(out_of_order).unwrap();
    assert!(sorted.equals_missing(&whole));
    assert_eq!(ids(&sorted), (1..=90).collect::<Vec<i64>>());
}

fn a_batch_is_stored_whole_or_not_at_all(backend: Backend) {
    let t = TestDb::new(backend, "batch_atomic");
    t.db.set_drift_every(5).unwrap();
    let mut rows = mixed_rows(2500, 3);
    // The last row repeats the first row's request id: the whole batch must fail.
    rows[2499].request_id = rows[0].request_id.clone();
    let err = t.db.insert_rows(&rows).unwrap_err();
    assert!(
        matches!(&err, Error::DuplicateRequestId(id) if id == "req-3-0"),
        "{err}"
    );
    assert_eq!(t.db.count_rows().unwrap(), 0);
    assert_eq!(t.db.drift_counter().unwrap().n, 0);
    assert!(
        t.db.jobs(None).unwrap().is_empty(),
        "no drift job may survive a rolled-back batch"
    );
}

fn a_request_id_is_stored_once(backend: Backend) {
    let t = TestDb::new(backend, "request_once");
    let rows = mixed_rows(1, 4);
    t.db.insert_rows(std::slice::from_ref(&rows[0])).unwrap();
    let err = t.db.insert_rows(std::slice::from_ref(&rows[0])).unwrap_err();
    assert!(
        matches!(&err, Error::DuplicateRequestId(id) if id == "req-4-0"),
        "{err}"
    );
    assert_eq!(err.to_string(), "request_id \"req-4-0\" is already stored");
    assert_eq!(t.db.count_rows().unwrap(), 1);
    assert_eq!(t.db.drift_counter().unwrap().n, 1);
}

fn rows_stored_each_on_their_own_skip_only_stored_request_ids(backend: Backend) {
    let t = TestDb::new(backend, "rows_each");
    t.db.set_drift_every(4).unwrap();
    let rows = mixed_rows(9, 6);
    let with_id = |i: usize| {
        let mut row = rows[i].clone();
        row.request_id = Some(format!("each-{i}"));
        row
    };
    t.db.insert_rows(std::slice::from_ref(&with_id(0))).unwrap();
    // One transaction: a request_id stored before, one repeated inside it, and five new rows.
    let batch = vec![
        with_id(1),
        with_id(0),
        rows[2].clone(),
        with_id(1),
        with_id(3),
        rows[4].clone(),
        rows[5].clone(),
    ];
    let (ids, queued) = t.db.insert_rows_each(&batch).unwrap();
    let stored: Vec<bool> = ids.iter().map(Option::is_some).collect();
    assert_eq!(stored, [true, false, true, false, true, true, true], "{ids:?}");
    assert_eq!(t.db.count_rows().unwrap(), 6);
    // 6 rows counted with a job every 4: one job, the counter at 2; skipped rows count nothing.
    assert_eq!(queued, 1);
    assert_eq!(t.db.drift_counter().unwrap().n, 2);
    assert_eq!(t.db.jobs(None).unwrap().len(), 1);
    for (row, id) in batch.iter().zip(&ids) {
        if let Some(id) = id {
            let found = t.db.find_row(&RowRef::Id(*id)).unwrap().unwrap();
            assert_eq!(found.row.features, row.features);
            assert_eq!(found.row.request_id, row.request_id);
        }
    }
    // The all-or-nothing form refuses the same repeat.
    let err = t.db.insert_rows_with_ids(&[rows[6].clone(), with_id(3)]).unwrap_err();
    assert!(matches!(&err, Error::DuplicateRequestId(id) if id == "each-3"), "{err}");
    assert_eq!(t.db.count_rows().unwrap(), 6);
}

fn the_trigger_queues_a_drift_job_every_n_rows(backend: Backend) {
    let t = TestDb::new(backend, "every_n");
    assert_eq!(t.db.drift_counter().unwrap().drift_every, 100, "N defaults to 100");
    t.db.set_drift_every(10).unwrap();
    let rows = generate(Scenario::Baseline, 60, 5);
    let queued: Vec<u64> = rows[..25]
        .iter()
        .map(|r| t.db.insert_rows(std::slice::from_ref(r)).unwrap().drift_jobs_queued)
        .collect();
    let due_at: Vec<usize> = queued
        .iter()
        .enumerate()
        .filter(|(_, &q)| q == 1)
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(due_at, [10, 20], "the 10th and 20th insert each queue one job");
    assert_eq!(t.db.drift_counter().unwrap().n, 5);
    let outcome = t.db.insert_rows(&rows[25..]).unwrap();
    assert_eq!(
        outcome.drift_jobs_queued, 4,
        "rows 26 to 60 reach the counts 30, 40, 50 and 60"
    );
    let jobs = t.db.jobs(None).unwrap();
    assert_eq!(jobs.len(), 6);
    assert!(jobs
        .iter()
        .all(|j| j.kind.as_str() == "drift" && j.status.as_str() == "pending"));
    let last_row_ids: Vec<i64> = jobs
        .iter()
        .map(|j| j.payload.as_ref().unwrap()["last_row_id"].as_i64().unwrap())
        .collect();
    assert_eq!(last_row_ids, [10, 20, 30, 40, 50, 60]);
    assert_eq!(t.db.drift_counter().unwrap().n, 0);
    assert!(t.db.set_drift_every(0).is_err());
}

fn plain_sql_inserts_are_counted_too(backend: Backend) {
    let t = TestDb::new(backend, "plain_sql");
    t.db.set_drift_every(2).unwrap();
    let sql = driftloop_db::testing::plain_insert_sql();
    let mut values: Vec<&str> = vec!["Usually", "Seldom", "Sometimes", "Most-Often"];
    values.extend(["YES"; 10]);
    values.extend(["7", "3", "10", "Depression", "expert"]);
    let params: Vec<Option<&str>> = values.iter().map(|v| Some(*v)).collect();
    t.exec(&sql, &params).unwrap();
    t.exec(&sql, &params).unwrap();
    assert_eq!(t.db.count_rows().unwrap(), 2);
    assert_eq!(t.db.jobs(None).unwrap().len(), 1);
    let frame = t.db.read_frame(&RowFilter::default()).unwrap();
    let rows = frame_rows(&frame);
    assert_eq!(rows[0].label_text(), "Depression");
    assert_eq!(rows[0].features[16], 10.0);
    assert_eq!(rows[0].model_version, None);
}

/// The label-overwrite defect: a scored row keeps what the model answered (class,
/// probabilities, version) after an expert labels it, and relabelling keeps both labels
/// in the row's history, the latest being the row's label.
fn a_label_keeps_the_prediction_and_every_earlier_label(backend: Backend) {
    let t = TestDb::new(backend, "label_history");
    let mut rows = mixed_rows(6, 7);
    for row in rows.iter_mut().filter(|r| r.label_source == LabelSource::Model) {
        let mut probabilities = vec![0.1; 4];
        probabilities[row.label as usize] = 0.7;
        row.probabilities = Some(probabilities);
    }
    // Row 1 through the bulk insert, row 4 through the one-row-each insert.
    t.db.insert_rows(&rows[..3]).unwrap();
    let (ids, _) = t.db.insert_rows_each(&rows[3..]).unwrap();
    assert_eq!(ids, [Some(4), Some(5), Some(6)]);
    let classes = &driftloop_core::spec().classes;
    for (id, row) in (1..).zip(&rows) {
        let history = t.db.row_history(&RowRef::Id(id)).unwrap().unwrap();
        assert!(history.labels.is_empty());
        match row.label_source {
            LabelSource::Model => {
                let kept = history.prediction.expect("a scored row keeps its prediction");
                assert_eq!(kept.predicted, row.label_text());
                assert_eq!(kept.probability, Some(0.7));
                assert_eq!(kept.probabilities, row.probabilities);
                assert_eq!(kept.model_version.as_deref(), Some("v0001"));
                assert!(kept.predicted_at.ends_with('Z'), "{}", kept.predicted_at);
            }
            LabelSource::Expert => assert_eq!(history.prediction, None, "an imported row was not scored"),
        }
    }

    let scored = &rows[3];
    assert_eq!(scored.label_source, LabelSource::Model);
    let first = (scored.label as usize + 1) % classes.len();
    let second = (scored.label as usize + 2) % classes.len();
    let by = RowRef::RequestId(scored.request_id.clone().unwrap());
    assert_eq!(t.db.set_label(&by, first as u8, Some("call-1")).unwrap(), 4);
    assert_eq!(t.db.set_label(&RowRef::Id(4), second as u8, None).unwrap(), 4);
    let history = t.db.row_history(&RowRef::Id(4)).unwrap().unwrap();
    assert_eq!(history.row.label_text(), classes[second]);
    assert_eq!(history.row.label_source, LabelSource::Expert);
    let kept = history.prediction.unwrap();
    assert_eq!(
        kept.predicted,
        scored.label_text(),
        "the label did not overwrite the prediction"
    );
    assert_eq!(kept.probabilities, scored.probabilities);
    let labels: Vec<(&str, &str, Option<&str>)> = history
        .labels
        .iter()
        .map(|l| (l.label.as_str(), l.source.as_str(), l.request_id.as_deref()))
        .collect();
    assert_eq!(
        labels,
        [
            (classes[first].as_str(), "expert", Some("call-1")),
            (classes[second].as_str(), "expert", None)
        ]
    );
    assert!(history.labels[0].id < history.labels[1].id);

    assert!(matches!(
        t.db.set_label(&RowRef::Id(999), 0, None),
        Err(Error::NoSuchRow(_))
    ));
    assert_eq!(t.db.row_history(&RowRef::Id(999)).unwrap(), None);
}
