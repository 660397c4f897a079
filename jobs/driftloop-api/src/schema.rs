//! The OpenAPI schemas of the request bodies, generated from the dataset spec and stating
//! what the parser (parse.rs) accepts: every spec column with its categories or its
//! range, the forms a score may take, the bounds of a `request_id`, no unknown key, and
//! `/v1/labels`' choice of `row_id` or `request_id`.

use driftloop_core::spec::{spec, ColumnKind};
use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Ref, SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::parse::REQUEST_ID_MAX;

/// White space as the parser trims it (Rust's `char::is_whitespace`, Unicode White_Space),
/// as a character class for the document's patterns.
const WS: &str = r"[\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";
const NOT_WS: &str = r"[^\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";

/// The longest range of an integer column whose values the document's pattern lists one
/// by one; a wider column's text form is checked by the parser alone.
const LISTED_RANGE_MAX: i64 = 1_000;

/// An integer column's value as text, as the parser takes it: white space around, an
/// optional sign, leading zeros, a value from `min` to `max`, then optionally the
/// column's suffix, its words in any case with any white space between ("7", "07", "+7",
/// "7 From 10").
pub fn integer_pattern(min: i64, max: i64, suffix: Option<&str>) -> String {
    let digits = |values: Vec<u64>| values.iter().map(u64::to_string).collect::<Vec<_>>().join("|");
    let number = if max - min <= LISTED_RANGE_MAX {
        let positive: Vec<u64> = (min.max(0)..=max).map(|v| v as u64).rev().collect();
        let negative: Vec<u64> = (min..=max.min(0)).map(|v| v.unsigned_abs()).collect();
        match (positive.is_empty(), negative.is_empty()) {
            (false, true) => format!(r"\+?0*(?:{})", digits(positive)),
            (true, false) => format!(r"-0*(?:{})", digits(negative)),
            _ => format!(r"(?:\+?0*(?:{})|-0*(?:{}))", digits(positive), digits(negative)),
        }
    } else {
        r"[+-]?[0-9]+".to_string()
    };
    let suffix = match suffix {
        Some(suffix) => {
            let words: Vec<String> = suffix
                .split_whitespace()
                .map(|word| {
                    word.chars()
                        .map(|c| {
                            if c.is_ascii_alphabetic() {
                                format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
                            } else {
                                regex_syntax_escape(c)
                            }
                        })
                        .collect()
                })
                .collect();
            format!("(?:{}{WS}*)?", words.join(&format!("{WS}*")))
        }
        None => String::new(),
    };
    format!(r"^{WS}*{number}{WS}*{suffix}$")
}

fn regex_syntax_escape(c: char) -> String {
    if r"\.+*?()|[]{}^$#&-~".contains(c) {
        format!(r"\{c}")
    } else {
        c.to_string()
    }
}

/// The largest `row_id` the document admits: the largest integer every JSON reader holds
/// exactly (I-JSON). A larger id names no row.
const ROW_ID_MAX: f64 = 9_007_199_254_740_991.0;

fn closed(object: ObjectBuilder) -> Schema {
    Schema::Object(
        object
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)))
            .build(),
    )
}

fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// The feature values of one row.
pub struct Features;

impl PartialSchema for Features {
    fn schema() -> RefOr<Schema> {
        let mut object = ObjectBuilder::new().schema_type(Type::Object).description(Some(
            "The features of one row, every one required, no other key. Levels are matched after \
             trimming white space and in any case (\"YES \" is YES).",
        ));
        for column in &spec().features {
            let nullable = column.nullable;
            let missing = if nullable {
                " `null` when the value is missing."
            } else {
                ""
            };
            let described = |text: String| match &column.description {
                Some(description) => format!("{description} ({text}{missing})"),
                None => format!("{text}{missing}"),
            };
            let types = |mut types: Vec<Type>| {
                if nullable {
                    types.push(Type::Null);
                }
                match types.as_slice() {
                    [one] => SchemaType::Type(one.clone()),
                    _ => SchemaType::from_iter(types),
                }
            };
            let property = match &column.kind {
                ColumnKind::Categorical { levels } | ColumnKind::Ordinal { levels } => {
                    let mut values: Vec<serde_json::Value> = levels.iter().map(|l| l.as_str().into()).collect();
                    if nullable {
                        values.push(serde_json::Value::Null);
                    }
                    ObjectBuilder::new()
                        .schema_type(types(vec![Type::String]))
                        .enum_values(Some(values))
                        .description(match (&column.description, nullable) {
                            (Some(description), _) => Some(format!("{description}{missing}")),
                            (None, true) => Some(missing.trim_start().to_string()),
                            (None, false) => None,
                        })
                }
                ColumnKind::Integer { min, max, suffix } => {
                    let example = match suffix {
                        Some(suffix) => format!("\"{max}\" or \"{max} {suffix}\""),
                        None => format!("\"{max}\""),
                    };
                    let text = format!("An integer from {min} to {max}, or text such as {example}.");
                    ObjectBuilder::new()
                        .schema_type(types(vec![Type::Integer, Type::String]))
                        .minimum(Some(*min as f64))
                        .maximum(Some(*max as f64))
                        .pattern(Some(integer_pattern(*min, *max, suffix.as_deref())))
                        .description(Some(described(text)))
                }
                ColumnKind::Number { min, max } => {
                    let text = match (min, max) {
                        (Some(min), Some(max)) => format!("A JSON number from {min} to {max}."),
                        (Some(min), None) => format!("A JSON number of at least {min}."),
                        (None, Some(max)) => format!("A JSON number of at most {max}."),
                        (None, None) => "A JSON number.".to_string(),
                    };
                    ObjectBuilder::new()
                        .schema_type(types(vec![Type::Number]))
                        .minimum(*min)
                        .maximum(*max)
                        .description(Some(described(text)))
                }
            };
            object = object.property(&column.name, property).required(&column.name);
        }
        RefOr::T(closed(object))
    }
}

impl ToSchema for Features {}

/// A class of the dataset's label.
pub struct Label;

impl PartialSchema for Label {
    fn schema() -> RefOr<Schema> {
        RefOr::T(Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(spec().classes.clone()))
                .description(Some("Matched after trimming white space and in any case."))
                .build(),
        ))
    }
}

impl ToSchema for Label {}

/// `POST /v1/predict` body.
pub struct PredictRequest;

impl PartialSchema for PredictRequest {
    fn schema() -> RefOr<Schema> {
        let request_id = ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .min_length(Some(1))
            .max_length(Some(REQUEST_ID_MAX))
            .pattern(Some(NOT_WS))
            .description(Some(
                "A client's id for this request: sending it again answers the same and stores nothing \
                 more (1 to 128 characters, not only white space).",
            ));
        RefOr::T(closed(
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property("features", reference("Features"))
                .required("features")
                .property("request_id", request_id),
        ))
    }
}

impl ToSchema for PredictRequest {}

/// `POST /v1/predict/batch` body, for the default limits; [`batch_request`] for others.
pub struct BatchRequest;

/// The batch body taking 1 to `max_rows` rows.
pub fn batch_request(max_rows: usize) -> RefOr<Schema> {
    let rows = ArrayBuilder::new()
        .items(reference("PredictRequest"))
        .min_items(Some(1))
        .max_items(Some(max_rows))
        .description(Some(
            "The rows. A request_id repeated here is a repeated request: answered like the first row with it, \
             stored once; with other features it is a 409 and nothing is stored.",
        ));
    RefOr::T(closed(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("rows", rows)
            .required("rows"),
    ))
}

impl PartialSchema for BatchRequest {
    fn schema() -> RefOr<Schema> {
        batch_request(crate::Limits::default().batch_rows)
    }
}

impl ToSchema for BatchRequest {}

/// `POST /v1/labels` body: the row by `row_id` or by `request_id` (one of them), and the
/// expert's class under the label's name.
pub struct LabelRequest;

impl PartialSchema for LabelRequest {
    fn schema() -> RefOr<Schema> {
        let by_id = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "row_id",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1.0))
                    .maximum(Some(ROW_ID_MAX)),
            )
            .required("row_id")
            .property(&spec().label, reference("Label"))
            .required(&spec().label);
        let by_request = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "request_id",
                ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)),
            )
            .required("request_id")
            .property(&spec().label, reference("Label"))
            .required(&spec().label);
        RefOr::T(Schema::OneOf(
            OneOfBuilder::new().item(closed(by_id)).item(closed(by_request)).build(),
        ))
    }
}

impl ToSchema for LabelRequest {}

/// `POST /v1/labels` answer: the row, its class under the label's name, its provenance.
impl PartialSchema for crate::responses::LabelResponse {
    fn schema() -> RefOr<Schema> {
        let label = &spec().label;
        RefOr::T(Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property("row_id", ObjectBuilder::new().schema_type(Type::Integer))
                .required("row_id")
                .property(label, reference("Label"))
                .required(label)
                .property("label_source", ObjectBuilder::new().schema_type(Type::String))
                .required("label_source")
                .property(
                    "predicted",
                    ObjectBuilder::new()
                        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                        .description(Some(
                            "What the model answered for the row, kept whatever the labels say (null for a row no \
                             model scored)",
                        )),
                )
                .required("predicted")
                .property(
                    "model_version",
                    ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null])),
                )
                .required("model_version")
                .property(
                    "labels",
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1))
                        .description(Some("How many labels the row has been given, this one included")),
                )
                .required("labels")
                .build(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the parser takes `text` as a score, and whether the document's pattern does.
    fn both(text: &str) -> (bool, bool) {
        let s = driftloop_core::spec();
        let parser = s.parse_feature(s.feature_index("optimism").unwrap(), text).is_ok();
        let pattern = regex::Regex::new(&integer_pattern(1, 10, Some("From 10")))
            .unwrap()
            .is_match(text);
        (parser, pattern)
    }

    #[test]
    fn the_score_pattern_says_what_the_parser_takes() {
        for (text, accepted) in [
            ("7", true),
            ("07", true),
            ("+7", true),
            ("10", true),
            (" 7 From 10 ", true),
            ("7from10", true),
            ("7 FROM 10", true),
            ("\u{3000}7\t", true),
            ("", false),
            ("0", false),
            ("11", false),
            ("-7", false),
            ("++7", false),
            ("7 From 9", false),
            ("7 From 010", false),
            ("7 of 10", false),
            ("7.0", false),
            ("\u{feff}7", false),
        ] {
            assert_eq!(both(text), (accepted, accepted), "{text:?}");
        }
        // Every short string over the characters that matter agrees too.
        let alphabet = [
            "", "0", "1", "7", "+", " ", "f", "F", "r", "o", "m", "10", "x", "\u{a0}",
        ];
        let mut checked = 0;
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    for d in ["", " from 10", "From10", " from 9"] {
                        let text = format!("{a}{b}{c}{d}");
                        let (parser, pattern) = both(&text);
                        assert_eq!(parser, pattern, "{text:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 14 * 14 * 14 * 4);
    }

    #[test]
    fn a_request_id_must_hold_more_than_white_space() {
        let pattern = regex::Regex::new(NOT_WS).unwrap();
        assert!(pattern.is_match(" a "));
        assert!(!pattern.is_match(" \t\u{a0}\u{3000}"));
    }
}
