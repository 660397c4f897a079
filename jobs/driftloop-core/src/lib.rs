//! driftloop's pure core: the dataset spec declared once, value parsing and validation,
//! and the synthetic fixture generator. Nothing here does I/O, reads the environment or
//! knows about a database; it takes values and returns values.

pub mod fixtures;
pub mod header;
pub mod metrics;
pub mod rng;
pub mod row;
pub mod spec;

pub use row::{FeatureRow, LabelSource};
pub use spec::{spec, CellError, ColumnKind, DatasetSpec, FeatureColumn};
