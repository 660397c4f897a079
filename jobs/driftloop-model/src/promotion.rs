//! The promotion rule, pure: whether a candidate replaces the champion. The first model
//! becomes champion; later, candidate and champion are scored on the same rows (the
//! candidate's holdout, which the candidate never saw) and the candidate wins only when
//! its macro-F1 is higher by at least the margin.

use serde::Serialize;

/// What the promotion step decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Decision {
    /// There was no champion: this version is the first.
    FirstChampion,
    /// The candidate beat the champion on the candidate's holdout.
    Promoted {
        previous: i64,
        candidate_macro_f1: f64,
        champion_macro_f1: f64,
        margin: f64,
    },
    /// The candidate did not beat the champion by the margin; the champion stays.
    Rejected {
        champion: i64,
        candidate_macro_f1: f64,
        champion_macro_f1: f64,
        margin: f64,
    },
    /// The same artifact is already the champion (a retraining of the same snapshot).
    AlreadyChampion,
    /// The same artifact was registered and decided before; nothing changed.
    AlreadyDecided { status: String },
}

/// The champion as the rule sees it: its version and its macro-F1 on the candidate's
/// holdout rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChampionScore {
    pub version: i64,
    pub macro_f1: f64,
}

/// The rule. Returns [`Decision::FirstChampion`], [`Decision::Promoted`] or
/// [`Decision::Rejected`]; a tie within the margin keeps the champion.
pub fn decide(candidate_macro_f1: f64, champion: Option<ChampionScore>, margin: f64) -> Decision {
    let Some(champion) = champion else {
        return Decision::FirstChampion;
    };
    if candidate_macro_f1 >= champion.macro_f1 + margin {
        Decision::Promoted {
            previous: champion.version,
            candidate_macro_f1,
            champion_macro_f1: champion.macro_f1,
            margin,
        }
    } else {
        Decision::Rejected {
            champion: champion.version,
            candidate_macro_f1,
            champion_macro_f1: champion.macro_f1,
            margin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn champion(macro_f1: f64) -> Option<ChampionScore> {
        Some(ChampionScore { version: 3, macro_f1 })
    }

    #[test]
    fn the_first_model_is_champion_whatever_its_score() {
        assert_eq!(decide(0.0, None, 0.01), Decision::FirstChampion);
    }

    #[test]
    fn a_candidate_wins_only_by_the_margin() {
        assert_eq!(
            decide(0.82, champion(0.80), 0.01),
            Decision::Promoted {
                previous: 3,
                candidate_macro_f1: 0.82,
                champion_macro_f1: 0.80,
                margin: 0.01
            }
        );
        assert!(matches!(
            decide(0.805, champion(0.80), 0.01),
            Decision::Rejected { champion: 3, .. }
        ));
        assert!(matches!(
            decide(0.80, champion(0.80), 0.0),
            Decision::Promoted { previous: 3, .. }
        ));
        assert!(matches!(decide(0.70, champion(0.80), 0.0), Decision::Rejected { .. }));
    }

    #[test]
    fn decisions_serialize_with_their_outcome() {
        let rejected = decide(0.5, champion(0.75), 0.0);
        assert_eq!(
            serde_json::to_value(rejected).unwrap(),
            serde_json::json!({"outcome": "rejected", "champion": 3, "candidate_macro_f1": 0.5,
                "champion_macro_f1": 0.75, "margin": 0.0})
        );
        assert_eq!(
            serde_json::to_value(Decision::FirstChampion).unwrap(),
            serde_json::json!({"outcome": "first_champion"})
        );
    }
}
