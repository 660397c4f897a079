//! The promotion step of a training: scores the champion on the candidate's holdout, asks
//! the pure rule (`driftloop_model::promotion::decide`), then moves the `champion` alias
//! by compare-and-set (deciding again when another training moved it meanwhile) or
//! records the rejection, and notifies.

use driftloop_core::metrics::score;
use driftloop_core::spec;
use driftloop_model::promotion::{self, ChampionScore, Decision};
use driftloop_model::{encode_rows, Encoder};
use serde_json::json;

use crate::artifacts::load_champion;
use crate::db::{AliasReason, Database, ModelStatus, ModelVersion};
use crate::error::Result;
use crate::notify::{Event, Notifier};
use crate::objects::ObjectStore;
use crate::train_job::model_name;

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
    holdout_rows: &[&[f64]],
    holdout_truth: &[u8],
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
    for _ in 0..3 {
        let champion = load_champion(db, store, name).await?;
        let champion_score = match &champion {
            Some((champion, artifact)) => {
                let x = encode_rows(encoder, holdout_rows.iter().copied())?;
                let n_classes = spec().classes.len();
                let predicted = artifact.model.predict(&x, n_classes)?;
                Some(ChampionScore {
                    version: champion.version,
                    macro_f1: score(holdout_truth, &predicted, n_classes).macro_f1,
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
            let recorded = json!({"decision": &decision, "holdout_rows": holdout_truth.len()});
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
            Some(_) => json!({"decision": &decision, "holdout_rows": holdout_truth.len()}),
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
