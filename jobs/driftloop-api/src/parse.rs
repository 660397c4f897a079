//! Request bodies checked against the dataset spec, field by field, so an answer can name
//! every field that is wrong and what it accepts.

use driftloop_core::spec::{spec, ColumnKind};
use driftloop_pipeline::db::RowRef;
use serde_json::Value;

use crate::error::Problem;

/// One row to score, as parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictInput {
    /// Feature values in the spec's order (as `FeatureRow` holds them; NaN for `null`).
    pub codes: Vec<f64>,
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

/// A JSON number that is an integer, as JSON Schema counts them: `7` and `7.0` alike
/// (serde_json reads a number written with a fraction part as a float).
fn json_integer(n: &serde_json::Number) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: every integer below is a float exactly
    n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < EXACT)
            .map(|f| f as i64)
    })
}

/// The features of a `features` object, at `path`: every spec column required, no other
/// key; levels as strings ("Usually", "YES"), integers as JSON integers or strings ("7",
/// "7 From 10" where the dataset declares that suffix), numbers as JSON numbers only, and
/// `null` in a nullable column only.
pub fn parse_features(value: &Value, path: &str, problems: &mut Vec<Problem>) -> Option<Vec<f64>> {
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
                    s.features
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    let mut codes = Vec::with_capacity(s.n_features());
    for (col_idx, column) in s.features.iter().enumerate() {
        let field = format!("{path}.{}", column.name);
        let Some(raw) = object.get(&column.name) else {
            problems.push(problem(field, format!("missing: expected {}", column.kind.expected())));
            continue;
        };
        let is_number = matches!(column.kind, ColumnKind::Number { .. });
        let text = match (raw, column.kind.integer_range()) {
            (Value::Null, _) => {
                match s.missing(col_idx, "null") {
                    Ok(missing) => codes.push(missing),
                    Err(e) => problems.push(problem(field, e.to_string())),
                }
                continue;
            }
            (Value::String(text), _) if !is_number => text.clone(),
            (Value::Number(n), Some((min, max))) => match json_integer(n).filter(|v| (min..=max).contains(v)) {
                Some(v) => v.to_string(),
                None => {
                    problems.push(problem(field, format!("{n} is not an integer from {min} to {max}")));
                    continue;
                }
            },
            (Value::Number(n), None) if is_number => {
                match n
                    .as_f64()
                    .ok_or(())
                    .and_then(|v| s.check_value(col_idx, v).map_err(drop))
                {
                    Ok(v) => codes.push(v),
                    Err(()) => problems.push(problem(field, format!("{n} is not {}", column.kind.expected()))),
                }
                continue;
            }
            (other, _) => {
                let kind = &column.kind;
                problems.push(problem(
                    field,
                    format!("expected {}, got {}", kind.expected(), json_type(other)),
                ));
                continue;
            }
        };
        match s.parse_feature(col_idx, &text) {
            // Text that marks a missing cell in a CSV ("", "NA") is not a value in JSON,
            // where a missing value is `null` (as the document says).
            Ok(code) if code.is_nan() => problems.push(problem(
                field,
                format!("{text:?} is not {}; a missing value is null", column.kind.expected()),
            )),
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

/// `{"rows": [...]}`: 1 to `max_rows` predict requests.
pub fn parse_batch_request(value: &Value, max_rows: usize) -> Result<Vec<PredictInput>, Vec<Problem>> {
    let Some(object) = value.as_object() else {
        return Err(vec![problem("body".into(), "expected an object with \"rows\"")]);
    };
    let mut problems: Vec<Problem> = object
        .keys()
        .filter(|k| *k != "rows")
        .map(|k| Problem {
            field: k.clone(),
            message: "unknown field; expected \"rows\"".into(),
        })
        .collect();
    let Some(rows) = object.get("rows").and_then(Value::as_array) else {
        problems.push(Problem {
            field: "rows".into(),
            message: "missing: expected an array of rows".into(),
        });
        return Err(problems);
    };
    let limit = max_rows;
    if rows.is_empty() || rows.len() > limit {
        problems.push(Problem {
            field: "rows".into(),
            message: format!("expected 1 to {limit} rows, got {}", rows.len()),
        });
        return Err(problems);
    }
    let inputs: Vec<Option<PredictInput>> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| parse_predict_request(row, &format!("rows[{i}]"), &mut problems))
        .collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(inputs.into_iter().flatten().collect())
}

/// `{"row_id": N | "request_id": "...", "<label>": "..."}` (the label's name in the dataset
/// file, `diagnosis` for the shipped one): which row, and the expert's class.
pub fn parse_label_request(value: &Value) -> Result<(RowRef, u8), Vec<Problem>> {
    let label = spec().label.as_str();
    let expected = format!("expected \"row_id\" or \"request_id\", and \"{label}\"");
    let Some(object) = value.as_object() else {
        return Err(vec![problem("body".into(), format!("{expected} in an object"))]);
    };
    let mut problems: Vec<Problem> = object
        .keys()
        .filter(|k| !["row_id", "request_id", label].contains(&k.as_str()))
        .map(|k| Problem {
            field: k.clone(),
            message: format!("unknown field; {expected}"),
        })
        .collect();
    let by = match (object.get("row_id"), object.get("request_id")) {
        (Some(Value::Number(n)), None) if json_integer(n).is_some_and(|v| v > 0) => {
            Some(RowRef::Id(json_integer(n).unwrap_or_default()))
        }
        (None, Some(Value::String(id))) if !id.is_empty() => Some(RowRef::RequestId(id.clone())),
        (Some(_), Some(_)) => {
            problems.push(Problem {
                field: "row_id".into(),
                message: "give row_id or request_id, not both".into(),
            });
            None
        }
        (None, None) => {
            problems.push(Problem {
                field: "row_id".into(),
                message: "missing: give row_id (a positive integer) or request_id (a string)".into(),
            });
            None
        }
        (Some(_), None) => {
            problems.push(Problem {
                field: "row_id".into(),
                message: "expected a positive integer".into(),
            });
            None
        }
        (None, Some(_)) => {
            problems.push(Problem {
                field: "request_id".into(),
                message: "expected a non-empty string".into(),
            });
            None
        }
    };
    let classes = &spec().classes;
    let class = match object.get(label) {
        Some(Value::String(text)) => match spec().parse_class(text) {
            Ok(class) => Some(class),
            Err(e) => {
                problems.push(Problem {
                    field: label.into(),
                    message: e.to_string(),
                });
                None
            }
        },
        _ => {
            problems.push(Problem {
                field: label.into(),
                message: format!("expected one of {}", classes.join(", ")),
            });
            None
        }
    };
    let (Some(by), Some(class), true) = (by, class, problems.is_empty()) else {
        return Err(problems);
    };
    Ok((by, class))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn valid_features() -> Value {
        let s = spec();
        let mut map = serde_json::Map::new();
        for column in &s.features {
            let value = match (column.kind.levels(), column.kind.integer_range()) {
                (Some(levels), _) if levels.len() == 2 => json!(levels[1]),
                (Some(levels), _) => json!(levels[2]),
                (None, Some(_)) => json!(7),
                (None, None) => unreachable!("the shipped dataset has no number column"),
            };
            map.insert(column.name.clone(), value);
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
        assert_eq!(&parsed.codes[14..], &[7.0, 3.0, 4.0]);
        assert_eq!(parsed.codes[0], 2.0, "Usually is the third frequency level");
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

    #[test]
    fn integers_are_counted_as_json_schema_counts_them() {
        let mut features = valid_features();
        features["optimism"] = json!(4.0);
        let mut problems = Vec::new();
        let parsed = parse_predict_request(&json!({"features": features}), "", &mut problems).unwrap();
        assert_eq!(parsed.codes[16], 4.0);
        for fraction in [json!(4.5), json!(-4.0), json!(1e300)] {
            let mut features = valid_features();
            features["optimism"] = fraction.clone();
            let mut problems = Vec::new();
            assert!(parse_predict_request(&json!({"features": features}), "", &mut problems).is_none());
            assert_eq!(problems[0].field, "features.optimism", "{fraction}");
        }
        let (by, _) = parse_label_request(&json!({"row_id": 3.0, "diagnosis": "Normal"})).unwrap();
        assert_eq!(by, RowRef::Id(3));
        assert!(parse_label_request(&json!({"row_id": 3.5, "diagnosis": "Normal"})).is_err());
    }
}
