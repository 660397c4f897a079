//! driftloop's pure core: the dataset spec read from its file, value parsing and validation,
//! and the synthetic fixture generator. Nothing here does I/O, reads the environment or
//! knows about a database; it takes values and returns values.

pub mod dataset_file;
pub mod fixtures;
pub mod header;
pub mod metrics;
pub mod profile;
pub mod rng;
pub mod row;
mod row_counter;
pub mod spec;

pub use dataset_file::{DatasetFileError, Problem};
pub use profile::{counting, ColumnProfile, Counting, Profile};
pub use row::{FeatureRow, LabelSource};
pub use row_counter::RowCounter;
pub use spec::{
    activate, same_values, spec, ActivateError, CellError, ColumnKind, DatasetSpec, FeatureColumn, MISSING,
};
