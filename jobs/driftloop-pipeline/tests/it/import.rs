//! CSV import into the feature store: the original published dataset imports whole on
//! both backends; a malformed file is refused with line and column and changes nothing.

use driftloop_core::LabelSource;
use driftloop_pipeline::csv_io::read_feature_csv;
use driftloop_pipeline::db::RowFilter;
use driftloop_pipeline::Error;

use crate::helpers::{original_dataset, Backend, TestDb};
use driftloop_db::on_both_backends;
use driftloop_db::testing::frame_rows;

on_both_backends!(
    the_original_dataset_imports_completely,
    a_malformed_file_changes_nothing
);

fn the_original_dataset_imports_completely(backend: Backend) {
    let t = TestDb::new(backend, "import_original");
    let rows = read_feature_csv(&original_dataset(), LabelSource::Expert).unwrap();
    assert_eq!(rows.len(), 120);
    let outcome = t.db.insert_rows(&rows).unwrap();
    assert_eq!((outcome.n_rows, outcome.drift_jobs_queued), (120, 1));
    let stored = frame_rows(&t.db.read_frame(&RowFilter::default()).unwrap());
    assert_eq!(stored, rows);
    let mut per_class = std::collections::BTreeMap::new();
    for row in &stored {
        *per_class.entry(row.label_text()).or_insert(0) += 1;
    }
    assert_eq!(
        per_class.into_iter().collect::<Vec<_>>(),
        [
            ("Bipolar Type-1", 28),
            ("Bipolar Type-2", 31),
            ("Depression", 31),
            ("Normal", 30)
        ]
    );
    // Patient-01: "YES " with its trailing space, and "3 From 10" / "4 From 10".
    let first = &stored[0];
    assert_eq!(first.features[5], 1.0, "suicidal_thoughts \"YES \" is YES");
    assert_eq!(&first.features[14..], [3.0, 3.0, 4.0]);
    assert!(stored.iter().all(|r| r.label_source == LabelSource::Expert));
}

fn a_malformed_file_changes_nothing(backend: Backend) {
    let t = TestDb::new(backend, "import_malformed");
    let before = read_feature_csv(&original_dataset(), LabelSource::Expert).unwrap();
    t.db.insert_rows(&before[..10]).unwrap();
    let text = std::fs::read_to_string(original_dataset()).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[49] = lines[49].replacen("From 10", "From 12", 1); // line 50: a score out of its scale
    lines[99] = lines[99].replace("Usually", "Always"); // line 100: unknown frequency
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.csv");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let err = read_feature_csv(&path, LabelSource::Expert).unwrap_err();
    let Error::InvalidCsv { problems, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        problems
            .iter()
            .any(|p| p.line == 50 && p.column == "Sexual Activity" && p.message.contains("From 12")),
        "{err}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.line == 100 && p.message.contains("\"Always\"")),
        "{err}"
    );
    assert!(err.to_string().contains("nothing imported"), "{err}");
    assert_eq!(t.db.count_rows().unwrap(), 10, "the table is unchanged");
}
