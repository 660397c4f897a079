//! The OpenAPI schema of the `features` object, generated from the dataset spec: one
//! property per column, with its categories or its range.

use driftloop_core::spec::{spec, ColumnKind, SCORE_MAX, SCORE_MIN};
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// The 17 symptom values of one row.
pub struct Features;

impl PartialSchema for Features {
    fn schema() -> RefOr<Schema> {
        let mut object = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("The 17 symptoms of one row, every one required, no other key."));
        for column in spec().features {
            let property = match column.kind {
                ColumnKind::Frequency | ColumnKind::YesNo => ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(column.kind.levels().map(|levels| levels.to_vec())),
                ColumnKind::Score => ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::Integer, Type::String]))
                    .minimum(Some(SCORE_MIN as f64))
                    .maximum(Some(SCORE_MAX as f64))
                    .description(Some("An integer from 1 to 10, or text such as \"7\" or \"7 From 10\".")),
            };
            object = object.property(column.name, property).required(column.name);
        }
        RefOr::T(Schema::Object(object.build()))
    }
}

impl ToSchema for Features {}

/// A diagnosis class.
pub struct Diagnosis;

impl PartialSchema for Diagnosis {
    fn schema() -> RefOr<Schema> {
        RefOr::T(Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(spec().classes.to_vec()))
                .build(),
        ))
    }
}

impl ToSchema for Diagnosis {}
