//! Request bodies checked against the dataset spec, field by field, so an answer can name
//! every field that is wrong and what it accepts.

use driftloop_core::spec::{spec, ColumnKind, SCORE_MAX, SCORE_MIN};
use serde_json::Value;

use crate::error::Problem;

/// One row to score, as parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictInput {
    /// Feature codes in the spec's order.
    pub codes: Vec<u8>,
    pub request_id: Option<String>,
}

/// The longest `request_id` accepted (the column holds 128 characters).
pub const REQUEST_ID_MAX: usize = 128;

fn problem(field: String, message: impl Into<String>) -> Problem {
    Problem {
        field,
        message: message.into(),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The 17 features of a `features` object, at `path`: every spec column required, no
/// other key; categories as strings ("Usually", "YES"), scores as integers or strings
/// ("7", "7 From 10").
pub fn parse_features(value: &Value, path: &str, problems: &mut Vec<Problem>) -> Option<Vec<u8>> {
    let s = spec();
    let Some(object) = value.as_object() else {
        problems.push(problem(
            path.to_string(),
            format!(
                "expected an object of the {} features, got {}",
                s.n_features(),
                json_type(value)
            ),
        ));
        return None;
    };
    let before = problems.len();
    for key in object.keys() {
        if s.feature_index(key).is_none() {
            problems.push(problem(
                format!("{path}.{key}"),
                format!(
                    "unknown feature; the features are {}",
                    s.features.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    let mut codes = Vec::with_capacity(s.n_features());
    for (col_idx, column) in s.features.iter().enumerate() {
        let field = format!("{path}.{}", column.name);
        let Some(raw) = object.get(column.name) else {
            problems.push(problem(field, format!("missing: expected {}", column.kind.expected())));
            continue;
        };
        let text = match (raw, column.kind) {
            (Value::String(text), _) => text.clone(),
            (Value::Number(n), ColumnKind::Score) => match n.as_u64() {
                Some(v) => v.to_string(),
                None => {
                    problems.push(problem(
                        field,
                        format!("{n} is not an integer from {SCORE_MIN} to {SCORE_MAX}"),
                    ));
                    continue;
                }
            },
            (other, kind) => {
                problems.push(problem(
                    field,
                    format!("expected {}, got {}", kind.expected(), json_type(other)),
                ));
                continue;
            }
        };
        match s.parse_feature(col_idx, &text) {
            Ok(code) => codes.push(code),
            Err(e) => problems.push(problem(field, e.to_string())),
        }
    }
    (problems.len() == before).then_some(codes)
}

/// `{"features": {...}, "request_id": "..."}` at `path` (empty for a whole body).
pub fn parse_predict_request(value: &Value, path: &str, problems: &mut Vec<Problem>) -> Option<PredictInput> {
    let at = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    let Some(object) = value.as_object() else {
        problems.push(problem(
            if path.is_empty() {
                "body".into()
            } else {
                path.to_string()
            },
            format!(
                "expected an object with \"features\" (and optionally \"request_id\"), got {}",
                json_type(value)
            ),
        ));
        return None;
    };
    let before = problems.len();
    for key in object.keys() {
        if key != "features" && key != "request_id" {
            problems.push(problem(
                at(key),
                "unknown field; expected \"features\" and optionally \"request_id\"",
            ));
        }
    }
    let request_id = match object.get("request_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if !id.trim().is_empty() && id.chars().count() <= REQUEST_ID_MAX => Some(id.clone()),
        Some(Value::String(_)) => {
            problems.push(problem(
                at("request_id"),
                format!("expected 1 to {REQUEST_ID_MAX} characters"),
            ));
            None
        }
        Some(other) => {
            problems.push(problem(
                at("request_id"),
                format!("expected a string, got {}", json_type(other)),
            ));
            None
        }
    };
    let codes = match object.get("features") {
        Some(features) => parse_features(features, &at("features"), problems),
        None => {
            problems.push(problem(
                at("features"),
                "missing: expected an object of the 17 features",
            ));
            None
        }
    };
    match (codes, problems.len() == before) {
        (Some(codes), true) => Some(PredictInput { codes, request_id }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn valid_features() -> Value {
        let s = spec();
        let mut map = serde_json::Map::new();
        for column in s.features {
            let value = match column.kind {
                ColumnKind::Frequency => json!("Usually"),
                ColumnKind::YesNo => json!("YES"),
                ColumnKind::Score => json!(7),
            };
            map.insert(column.name.to_string(), value);
        }
        Value::Object(map)
    }

    #[test]
    fn a_valid_request_parses_with_scores_as_numbers_or_text() {
        let mut features = valid_features();
        features["optimism"] = json!("4 From 10");
        features["concentration"] = json!("3");
        let mut problems = Vec::new();
        let parsed =
            parse_predict_request(&json!({"features": features, "request_id": "r-1"}), "", &mut problems).unwrap();
        assert!(problems.is_empty());
        assert_eq!(parsed.request_id.as_deref(), Some("r-1"));
        assert_eq!(&parsed.codes[14..], &[7, 3, 4]);
        assert_eq!(parsed.codes[0], 2, "Usually is the third frequency level");
    }

    #[test]
    fn every_problem_is_named_with_what_is_accepted() {
        let mut features = valid_features();
        features["sadness"] = json!("Never");
        features["optimism"] = json!(11);
        features["mood_swing"] = json!(true);
        features["colour"] = json!("blue");
        features.as_object_mut().unwrap().remove("anorexia");
        let mut problems = Vec::new();
        assert!(parse_predict_request(&json!({"features": features, "extra": 1}), "", &mut problems).is_none());
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "extra",
                "features.colour",
                "features.sadness",
                "features.mood_swing",
                "features.anorexia",
                "features.optimism"
            ],
            "{problems:?}"
        );
        assert!(problems[2]
            .message
            .contains("one of Seldom, Sometimes, Usually, Most-Often"));
        assert!(problems[3].message.contains("got a boolean"));
        assert!(problems[4].message.starts_with("missing"));
        assert!(problems[5].message.contains("from 1 to 10"), "{}", problems[5].message);
    }
}
