//! Scoring with the champion: the registered champion's artifact loaded and verified once,
//! then rows of feature codes in, the predicted class and every class's probability out.
//! Also the offline batch form: a CSV in (public column names or the published headers),
//! the same CSV out with `prediction` and one `p_<class>` column per class. No Polars here:
//! the predict function scores through this too.

use std::io::{Read, Write};

use driftloop_core::header::normalize_header;
use driftloop_core::{spec, FeatureRow, LabelSource};
use driftloop_model::{encode_rows, Artifact};
use serde::Serialize;

use crate::artifacts::load_champion;
use crate::csv_io::FeatureCsv;
use crate::db::{ModelRegistry, ModelVersion};
use crate::error::{CsvProblem, Error, Result};
use crate::objects::ObjectStore;

/// The champion, loaded.
pub struct Champion {
    pub version: ModelVersion,
    pub artifact: Artifact,
}

/// One scored row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    /// Class index.
    pub class: u8,
    /// One probability per class, by class index.
    pub probabilities: Vec<f64>,
}

impl Champion {
    /// Loads the registered champion; [`crate::db::Error::NoChampion`] when there is none.
    pub async fn load(db: &dyn ModelRegistry, store: &dyn ObjectStore) -> Result<Champion> {
        let name = spec().name.as_str();
        let (version, artifact) = load_champion(db, store, name)
            .await?
            .ok_or_else(|| crate::db::Error::NoChampion(name.to_string()))?;
        Ok(Champion { version, artifact })
    }

    /// The version text stored with each scored row (`features.model_version`).
    pub fn model_version(&self) -> String {
        self.version.version.to_string()
    }

    /// Scores rows of feature values (as `FeatureRow` holds them).
    pub fn score(&self, rows: &[&[f64]]) -> Result<Vec<Scored>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let x = encode_rows(&self.artifact.header.encoder, rows.iter().copied())?;
        let probabilities = self.artifact.model.predict_proba(&x, spec().classes.len())?;
        Ok(probabilities
            .into_iter()
            .map(|p| Scored {
                class: driftloop_model::family::argmax(&p) as u8,
                probabilities: p,
            })
            .collect())
    }
}

/// The header of a class's probability column: `p_` and the class name folded like a
/// header (`p_bipolar_type_1`).
pub fn probability_column(class: &str) -> String {
    format!("p_{}", normalize_header(class))
}

/// What scoring a CSV did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CsvScored {
    pub rows: u64,
    pub model_version: String,
    /// Predicted rows per class.
    pub predicted: Vec<(String, u64)>,
    /// The scored rows as feature rows (`label = prediction`, `label_source = model`),
    /// for a caller that stores them.
    #[serde(skip)]
    pub feature_rows: Vec<FeatureRow>,
}

/// Scores every row of a CSV with the champion and writes the input's columns, untouched,
/// plus `prediction` and `p_<class>` per class. Columns the spec does not use (an ID such
/// as "Patient Number", or a `diagnosis` label) are carried through and never used for
/// scoring. Every cell is checked first: if any is bad, the answer lists every bad cell
/// by line and column and nothing is written.
pub fn score_csv(
    champion: &Champion,
    input: impl Read,
    output: impl Write,
) -> std::result::Result<Result<CsvScored>, Vec<CsvProblem>> {
    let s = spec();
    let mut problems = Vec::new();
    let Some((csv, mut reader)) = FeatureCsv::open(input, false, &mut problems) else {
        return Err(problems);
    };
    let added: Vec<String> = std::iter::once("prediction".to_string())
        .chain(s.classes.iter().map(|c| probability_column(c)))
        .collect();
    for header in csv.headers.iter() {
        if added.iter().any(|a| a == header) {
            problems.push(CsvProblem {
                line: 1,
                column: header.to_string(),
                message: "is a column the output adds; rename it".into(),
            });
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut records = Vec::new();
    let mut codes: Vec<Vec<f64>> = Vec::new();
    let mut cells = crate::csv_cells::CellCache::new();
    csv.for_each_record(&mut reader, &mut problems, |line, record, problems| {
        if let Some(row) = csv.features_of(record, line, problems, &mut cells) {
            codes.push(row);
            records.push(record.clone());
        }
    });
    if !problems.is_empty() {
        return Err(problems);
    }
    let headers = csv.headers;
    Ok(write_scored(champion, &headers, &records, &codes, &added, output))
}

fn write_scored(
    champion: &Champion,
    headers: &csv::StringRecord,
    records: &[csv::StringRecord],
    codes: &[Vec<f64>],
    added: &[String],
    output: impl Write,
) -> Result<CsvScored> {
    let s = spec();
    let rows: Vec<&[f64]> = codes.iter().map(Vec::as_slice).collect();
    let scored = champion.score(&rows)?;
    let io = |e: csv::Error| Error::Corrupt(format!("writing the scored CSV: {e}"));
    let mut writer = csv::Writer::from_writer(output);
    writer
        .write_record(headers.iter().chain(added.iter().map(String::as_str)))
        .map_err(io)?;
    let mut predicted = vec![0u64; s.classes.len()];
    let model_version = champion.model_version();
    let mut feature_rows = Vec::with_capacity(records.len());
    for ((record, scored), row_codes) in records.iter().zip(&scored).zip(codes) {
        predicted[scored.class as usize] += 1;
        let mut out: Vec<String> = record.iter().map(String::from).collect();
        out.push(s.classes[scored.class as usize].to_string());
        out.extend(scored.probabilities.iter().map(|p| format!("{p:.6}")));
        writer.write_record(&out).map_err(io)?;
        let mut row = FeatureRow::new(row_codes.clone(), scored.class, LabelSource::Model)
            .expect("parsed values follow the spec");
        row.model_version = Some(model_version.clone());
        row.probabilities = Some(scored.probabilities.clone());
        feature_rows.push(row);
    }
    writer
        .flush()
        .map_err(|e| Error::Corrupt(format!("writing the scored CSV: {e}")))?;
    Ok(CsvScored {
        rows: records.len() as u64,
        model_version,
        predicted: s.classes.iter().map(|c| c.to_string()).zip(predicted).collect(),
        feature_rows,
    })
}
