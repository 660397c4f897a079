//! driftloop's HTTP API: one axum [`Router`] served by `driftloop serve` and, through
//! lambda_http, by the predict function.
//!
//! - `POST /v1/predict`: scores one row with the champion, stores it as a feature row
//!   (`label = prediction`, `label_source = model`), answers the prediction, every class's
//!   probability, the model version and the row id. A repeated `request_id` answers the
//!   same and stores nothing more.
//! - `POST /v1/predict/batch`: up to [`Limits::batch_rows`] rows, stored in one transaction.
//! - `POST /v1/labels`: an expert label for a stored row (by `row_id` or `request_id`).
//! - `GET /v1/models/champion`, `GET /healthz`, `GET /openapi.json`.
//! - `GET /ui/...`: the operator's dashboard, read-only HTML pages ([`Dashboard`]).
//!
//! Client mistakes are 4xx JSON errors naming the field and what it accepts, and store
//! nothing; storage being down is a 503, never a half-written row.

mod error;
mod openapi;
mod parse;
mod responses;
mod router;
mod routes;
mod schema;
mod state;
mod ui;
mod writer;

pub use error::{ApiError, Problem};
pub use openapi::{openapi, openapi_for};
pub use parse::{parse_batch_request, parse_features, parse_label_request, parse_predict_request, PredictInput};
pub use router::router;
pub use state::{AppState, Kick, Limits};
pub use ui::Dashboard;
