//! The promotion step of a training: scores the champion on the candidate's holdout, asks
//! the pure rule (`driftloop_model::promotion::decide`), then moves the `champion` alias
//! by compare-and-set (deciding again when another training moved it meanwhile) or
//! records the rejection, and notifies.
//!
//! Both are scored on rows neither learned from: the candidate's holdout rows (its
//! compared model never saw them) outside the id range of the champion's snapshot (the
//! champion may have learned from every row of it). When every holdout row lies inside
//! that range (a retraining on the same rows, say), the whole holdout is used, which
//! favours the champion.

use driftloop_core::metrics::score;
use driftloop_core::spec;
use driftloop_model::promotion::{self, ChampionScore, Decision};
use driftloop_model::{Dataset, Encoder};
use serde_json::json;

use crate::artifacts::load_champion;
use crate::db::{AliasReason, Database, ModelStatus, ModelVersion};
use crate::error::Result;
use crate::notify::{Event, Notifier};
use crate::objects::ObjectStore;
use crate::snapshot::load_manifest;
use crate::train_job::model_name;

/// The candidate's holdout: its rows (their indices in the training data), their ids, the
/// truth, and the class the candidate's compared model gave each.
pub(crate) struct Holdout<'a> {
    pub data: &'a Dataset,
    pub rows: Vec<usize>,
    pub ids: Vec<i64>,
    pub truth: Vec<u8>,
    pub predicted: Vec<u8>,
}

/// Which holdout rows the comparison with `champion` uses (see the module documentation),
/// and whether they are only the rows outside the champion's snapshot.
async fn compared_rows(store: &dyn ObjectStore, champion: &ModelVersion, holdout: &Holdout<'_>) -> (Vec<usize>, bool) {
    let every_row = || (0..holdout.ids.len()).collect::<Vec<usize>>();
    let manifest = match load_manifest(store, &champion.model.snapshot_uri).await {
        Ok(manifest) => manifest,
        Err(e) => {
            tracing::warn!(
                champion = champion.version,
                error = %e,
                "the champion's snapshot manifest cannot be read: comparing on the whole holdout"
            );
            return (every_row(), false);
        }
    };
    let unseen: Vec<usize> = (0..holdout.ids.len())
        .filter(|&i| holdout.ids[i] < manifest.min_id || holdout.ids[i] > manifest.max_id)
        .collect();
    if unseen.is_empty() {
        (every_row(), false)
    } else {
        (unseen, true)
    }
}

/// Compares the candidate with the champion on the candidate's holdout and moves the
/// alias or rejects the candidate. A champion that moved meanwhile is compared again.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn decide(
    db: &dyn Database,
    store: &dyn ObjectStore,
    notifier: &dyn Notifier,
    candidate: &ModelVersion,
    candidate_macro_f1: f64,
    encoder: &Encoder,
    holdout: &Holdout<'_>,
    margin: f64,
) -> Result<Decision> {
    let name = model_name();
    if candidate.status != ModelStatus::Registered {
        return Ok(match candidate.status {
            ModelStatus::Champion => Decision::AlreadyChampion,
            other => Decision::AlreadyDecided {
                status: other.as_str().to_string(),
            },
        });
    }
    let n_classes = spec().classes.len();
    for _ in 0..3 {
        let champion = load_champion(db, store, name).await?;
        let mut candidate_macro_f1 = candidate_macro_f1;
        let mut compared = (holdout.truth.len(), "whole_holdout");
        let champion_score = match &champion {
            Some((champion, artifact)) => {
                let (rows, unseen) = compared_rows(store, champion, holdout).await;
                let truth: Vec<u8> = rows.iter().map(|&i| holdout.truth[i]).collect();
                let x = holdout
                    .data
                    .rows(encoder, &rows.iter().map(|&i| holdout.rows[i]).collect::<Vec<usize>>())?;
                let predicted = artifact.model.predict_rows(&x, n_classes)?;
                let ours: Vec<u8> = rows.iter().map(|&i| holdout.predicted[i]).collect();
                candidate_macro_f1 = score(&truth, &ours, n_classes).macro_f1;
                if unseen {
                    compared = (rows.len(), "rows_newer_than_champion");
                }
                Some(ChampionScore {
                    version: champion.version,
                    macro_f1: score(&truth, &predicted, n_classes).macro_f1,
                })
            }
            None => None,
        };
        let decision = promotion::decide(candidate_macro_f1, champion_score, margin);
        if let Decision::Rejected {
            champion,
            champion_macro_f1,
            ..
        } = decision
        {
            let recorded = json!({"decision": &decision, "holdout_rows": compared.0, "compared_on": compared.1});
            db.reject_model(name, candidate.version, &recorded)?;
            notifier
                .notify(&Event::CandidateRejected {
                    version: candidate.version,
                    champion,
                    candidate_macro_f1,
                    champion_macro_f1,
                    margin,
                })
                .await;
            return Ok(decision);
        }
        let previous = champion_score.map(|c| c.version);
        let recorded = match previous {
            None => json!({"decision": &decision, "candidate_macro_f1": candidate_macro_f1}),
            Some(_) => json!({"decision": &decision, "holdout_rows": compared.0, "compared_on": compared.1}),
        };
        match db.set_champion(
            name,
            candidate.version,
            previous,
            AliasReason::Promoted,
            Some(&recorded),
        ) {
            Ok(_) => {}
            Err(crate::db::Error::ChampionChanged { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
        notifier
            .notify(&Event::ChampionPromoted {
                version: candidate.version,
                previous,
                candidate_macro_f1,
                champion_macro_f1: champion_score.map(|c| c.macro_f1),
            })
            .await;
        return Ok(decision);
    }
    Err(crate::db::Error::ChampionChanged {
        expected: None,
        found: None,
    }
    .into())
}
