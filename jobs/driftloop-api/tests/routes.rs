//! Every route in process (tower `oneshot`), over an SQLite file and a local store with a
//! champion trained on the original dataset. Every rejected request leaves the row count
//! as it was.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use driftloop_api::{router, AppState, Limits};
use driftloop_core::LabelSource;
use driftloop_pipeline::db::on_both_backends_async;
use driftloop_pipeline::db::RowRef;
use driftloop_pipeline::testing::{Backend, TestEnv};
use driftloop_pipeline::Database;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

on_both_backends_async!(
    predict_scores_stores_and_answers_the_same_to_a_repeated_request_id,
    a_batch_is_stored_whole_or_not_at_all,
    a_request_id_repeated_in_a_batch_is_one_request_and_a_conflict_stores_nothing,
    labels_set_the_expert_diagnosis,
    an_insert_that_makes_a_drift_job_due_kicks_the_worker,
    concurrent_predictions_each_get_their_own_row_and_the_count_stays_exact,
);

struct Fixture {
    app: axum::Router,
    db: Arc<dyn Database>,
    kicks: Arc<AtomicUsize>,
    env: TestEnv,
}

/// The Router over a fresh database and store on `backend`, with a champion trained on the
/// published data when `trained`.
async fn fixture_on(backend: Backend, trained: bool, limits: Limits) -> Fixture {
    let env = if trained {
        TestEnv::with_champion(backend, "api").await
    } else {
        TestEnv::new(backend, "api").await
    };
    let kicks = Arc::new(AtomicUsize::new(0));
    let counter = kicks.clone();
    let state = AppState::new(
        env.db.clone(),
        env.store.clone(),
        limits,
        Duration::from_secs(3600),
        Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }),
    )
    .await;
    Fixture {
        app: router(state),
        db: env.db.clone(),
        kicks,
        env,
    }
}

/// The same over SQLite and a folder.
async fn fixture(trained: bool, limits: Limits) -> Fixture {
    fixture_on(Backend::Sqlite, trained, limits).await
}

fn features() -> Value {
    json!({
        "sadness": "Usually", "euphoric": "Seldom", "exhausted": "Sometimes", "sleep_disorder": "Sometimes",
        "mood_swing": "YES", "suicidal_thoughts": "YES", "anorexia": "NO", "authority_respect": "NO",
        "try_explanation": "YES", "aggressive_response": "NO", "ignore_and_move_on": "NO",
        "nervous_breakdown": "YES", "admit_mistakes": "YES", "overthinking": "YES",
        "sexual_activity": 3, "concentration": "3 From 10", "optimism": "4"
    })
}

impl Fixture {
    async fn send(
        &self,
        method: &str,
        uri: &str,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(body.into()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn post(&self, uri: &str, body: Value) -> (StatusCode, Value) {
        self.send("POST", uri, Some("application/json"), body.to_string()).await
    }

    fn rows(&self) -> u64 {
        self.db.count_rows().unwrap()
    }

    /// Sends a request that must be refused with `status` and leave the rows as they were.
    async fn refused(&self, uri: &str, content_type: Option<&str>, body: impl Into<Body>, status: StatusCode) -> Value {
        let before = self.rows();
        let (got, answer) = self.send("POST", uri, content_type, body).await;
        assert_eq!(got, status, "{answer}");
        assert_eq!(self.rows(), before, "a refused request stores nothing");
        assert!(answer["error"]["code"].is_string(), "{answer}");
        answer
    }
}

async fn predict_scores_stores_and_answers_the_same_to_a_repeated_request_id(backend: Backend) {
    let f = fixture_on(backend, true, Limits::default()).await;
    let before = f.rows();
    let (status, answer) = f.post("/v1/predict", json!({"features": features()})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let classes = ["Normal", "Bipolar Type-1", "Bipolar Type-2", "Depression"];
    assert!(classes.contains(&answer["prediction"].as_str().unwrap()));
    let probabilities = answer["probabilities"].as_object().unwrap();
    assert_eq!(probabilities.len(), 4);
    let total: f64 = probabilities.values().map(|p| p.as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-9);
    assert_eq!(answer["model_version"], "1");
    assert_eq!(f.rows(), before + 1);
    let row_id = answer["row_id"].as_i64().unwrap();
    let stored = f.db.find_row(&RowRef::Id(row_id)).unwrap().unwrap();
    assert_eq!(stored.row.label_source, LabelSource::Model);
    assert_eq!(stored.row.label_text(), answer["prediction"].as_str().unwrap());
    assert_eq!(stored.row.model_version.as_deref(), Some("1"));

    let request = json!({"features": features(), "request_id": "client-42"});
    let (_, first) = f.post("/v1/predict", request.clone()).await;
    let (status, again) = f.post("/v1/predict", request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, first, "the same answer");
    assert_eq!(f.rows(), before + 2, "stored once");
    let mut other = features();
    other["sadness"] = json!("Seldom");
    let answer = f
        .refused(
            "/v1/predict",
            Some("application/json"),
            json!({"features": other, "request_id": "client-42"}).to_string(),
            StatusCode::CONFLICT,
        )
        .await;
    assert_eq!(answer["error"]["code"], "request_id_conflict");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_bad_input_is_a_4xx_naming_the_field_and_stores_nothing() {
    let f = fixture(
        true,
        Limits {
            body_bytes: 4096,
            batch_rows: 3,
        },
    )
    .await;
    let json_type = Some("application/json");
    let mut cases: Vec<(Value, &str, &str)> = Vec::new();
    let mut unknown = features();
    unknown["colour"] = json!("blue");
    cases.push((json!({"features": unknown}), "features.colour", "unknown feature"));
    let mut missing = features();
    missing.as_object_mut().unwrap().remove("optimism");
    cases.push((json!({"features": missing}), "features.optimism", "missing"));
    let mut category = features();
    category["sadness"] = json!("Never");
    cases.push((
        json!({"features": category}),
        "features.sadness",
        "one of Seldom, Sometimes, Usually, Most-Often",
    ));
    let mut range = features();
    range["optimism"] = json!(11);
    cases.push((json!({"features": range}), "features.optimism", "from 1 to 10"));
    let mut wrong_type = features();
    wrong_type["mood_swing"] = json!(1);
    cases.push((json!({"features": wrong_type}), "features.mood_swing", "got a number"));
    cases.push((json!({"features": features(), "extra": true}), "extra", "unknown field"));
    cases.push((json!([1, 2]), "body", "expected an object"));
    for (body, field, message) in cases {
        let answer = f
            .refused("/v1/predict", json_type, body.to_string(), StatusCode::BAD_REQUEST)
            .await;
        let problems = answer["error"]["problems"].as_array().unwrap();
        assert!(
            problems
                .iter()
                .any(|p| p["field"] == field && p["message"].as_str().unwrap().contains(message)),
            "{field}: {answer}"
        );
    }
    let answer = f
        .refused("/v1/predict", json_type, "{not json", StatusCode::BAD_REQUEST)
        .await;
    assert!(
        answer["error"]["message"].as_str().unwrap().contains("not JSON"),
        "{answer}"
    );
    let answer = f
        .refused(
            "/v1/predict",
            Some("text/plain"),
            json!({"features": features()}).to_string(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        )
        .await;
    assert_eq!(answer["error"]["code"], "unsupported_media_type");
    f.refused(
        "/v1/predict",
        None,
        json!({"features": features()}).to_string(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    let big = json!({"features": features(), "request_id": "x".repeat(5000)}).to_string();
    let answer = f
        .refused("/v1/predict", json_type, big, StatusCode::PAYLOAD_TOO_LARGE)
        .await;
    assert_eq!(answer["error"]["code"], "body_too_large");
    let rows: Vec<Value> = (0..4).map(|_| json!({"features": features()})).collect();
    let answer = f
        .refused(
            "/v1/predict/batch",
            json_type,
            json!({"rows": rows}).to_string(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expected 1 to 3 rows, got 4"),
        "{answer}"
    );
}

async fn a_batch_is_stored_whole_or_not_at_all(backend: Backend) {
    let f = fixture_on(backend, true, Limits::default()).await;
    let before = f.rows();
    let rows = json!({"rows": [
        {"features": features(), "request_id": "b-1"},
        {"features": features()},
        {"features": features(), "request_id": "b-3"}
    ]});
    let (status, answer) = f.post("/v1/predict/batch", rows.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    let ids: Vec<i64> = results.iter().map(|r| r["row_id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert_eq!(f.rows(), before + 3);
    assert_eq!(
        f.db.find_row(&RowRef::RequestId("b-3".into())).unwrap().unwrap().id,
        ids[2]
    );
    // Sent again: rows with a request_id are answered from storage; the other is new.
    let (_, again) = f.post("/v1/predict/batch", rows).await;
    assert_eq!(again["results"][0], results[0]);
    assert_eq!(again["results"][2], results[2]);
    assert_eq!(f.rows(), before + 4);

    let mut bad = features();
    bad["optimism"] = json!(0);
    let answer = f
        .refused(
            "/v1/predict/batch",
            Some("application/json"),
            json!({"rows": [{"features": features()}, {"features": bad}]}).to_string(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert_eq!(answer["error"]["problems"][0]["field"], "rows[1].features.optimism");
}

async fn a_request_id_repeated_in_a_batch_is_one_request_and_a_conflict_stores_nothing(backend: Backend) {
    let f = fixture_on(backend, true, Limits::default()).await;
    let before = f.rows();
    let rows = json!({"rows": [
        {"features": features(), "request_id": "twice"},
        {"features": features()},
        {"features": features(), "request_id": "twice"}
    ]});
    let (status, answer) = f.post("/v1/predict/batch", rows).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["results"][0], answer["results"][2],
        "the repeat is answered like the first"
    );
    assert_ne!(answer["results"][0]["row_id"], answer["results"][1]["row_id"]);
    assert_eq!(f.rows(), before + 2, "the repeated request_id is stored once");

    let mut other = features();
    other["optimism"] = json!(9);
    let conflicts = [
        // Within the batch: the same request_id with other features.
        json!({"rows": [{"features": features(), "request_id": "new"}, {"features": other, "request_id": "new"}]}),
        // Against a stored row: "twice" was stored with features().
        json!({"rows": [{"features": features()}, {"features": other, "request_id": "twice"}]}),
    ];
    for body in conflicts {
        let answer = f
            .refused(
                "/v1/predict/batch",
                Some("application/json"),
                body.to_string(),
                StatusCode::CONFLICT,
            )
            .await;
        assert_eq!(answer["error"]["code"], "request_id_conflict", "{answer}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_states_the_limits_and_the_choices() {
    let f = fixture(
        true,
        Limits {
            body_bytes: 1024 * 1024,
            batch_rows: 7,
        },
    )
    .await;
    let (_, doc) = f.send("GET", "/openapi.json", None, Body::empty()).await;
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["BatchRequest"]["properties"]["rows"]["maxItems"], 7);
    assert_eq!(schemas["BatchRequest"]["additionalProperties"], false);
    assert_eq!(schemas["PredictRequest"]["additionalProperties"], false);
    assert_eq!(schemas["Features"]["additionalProperties"], false);
    assert_eq!(schemas["PredictRequest"]["properties"]["request_id"]["maxLength"], 128);
    let choices = schemas["LabelRequest"]["oneOf"].as_array().unwrap();
    let required: Vec<&Value> = choices.iter().map(|c| &c["required"]).collect();
    assert_eq!(
        required,
        [&json!(["row_id", "diagnosis"]), &json!(["request_id", "diagnosis"])]
    );
    let score = &schemas["Features"]["properties"]["optimism"];
    assert!(
        score["pattern"].as_str().unwrap().contains("[Ff][Rr][Oo][Mm]"),
        "{score}"
    );
    // A score as a JSON number with a zero fraction is an integer, as the schema says.
    let mut features = features();
    features["optimism"] = json!(4.0);
    let (status, answer) = f.post("/v1/predict", json!({"features": features})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

async fn labels_set_the_expert_diagnosis(backend: Backend) {
    let f = fixture_on(backend, true, Limits::default()).await;
    let (_, scored) = f
        .post("/v1/predict", json!({"features": features(), "request_id": "to-label"}))
        .await;
    let row_id = scored["row_id"].as_i64().unwrap();
    let (status, answer) = f
        .post("/v1/labels", json!({"row_id": row_id, "diagnosis": "Depression"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // The answer names what the model said, kept beside the label.
    assert_eq!(
        answer,
        json!({"row_id": row_id, "diagnosis": "Depression", "label_source": "expert",
               "predicted": scored["prediction"], "model_version": scored["model_version"], "labels": 1})
    );
    let request = Request::builder()
        .method("POST")
        .uri("/v1/labels")
        .header("content-type", "application/json")
        .header("x-request-id", "labelling-call-2")
        .body(Body::from(
            json!({"request_id": "to-label", "diagnosis": "Normal"}).to_string(),
        ))
        .unwrap();
    let response = f.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let relabelled: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        (&relabelled["labels"], &relabelled["predicted"]),
        (&json!(2), &scored["prediction"])
    );
    let stored = f.db.find_row(&RowRef::Id(row_id)).unwrap().unwrap();
    assert_eq!(
        (stored.row.label_text(), stored.row.label_source),
        ("Normal", LabelSource::Expert)
    );
    // Both labels in the row's history, the model's answer and probabilities kept.
    let history = f.db.row_history(&RowRef::Id(row_id)).unwrap().unwrap();
    let labels: Vec<(&str, Option<&str>)> = history
        .labels
        .iter()
        .map(|l| (l.label.as_str(), l.request_id.as_deref()))
        .collect();
    assert_eq!(labels, [("Depression", None), ("Normal", Some("labelling-call-2"))]);
    let kept = history.prediction.unwrap();
    assert_eq!(kept.predicted, scored["prediction"].as_str().unwrap());
    let probabilities: Vec<f64> = driftloop_core::spec()
        .classes
        .iter()
        .map(|c| scored["probabilities"][c.as_str()].as_f64().unwrap())
        .collect();
    assert_eq!(kept.probabilities.unwrap(), probabilities);
    let (status, answer) = f
        .post("/v1/labels", json!({"row_id": 999_999, "diagnosis": "Normal"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let (status, answer) = f
        .post("/v1/labels", json!({"row_id": row_id, "diagnosis": "Anxiety"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"]["problems"][0]["field"], "diagnosis");
    let (status, _) = f
        .post(
            "/v1/labels",
            json!({"row_id": row_id, "request_id": "to-label", "diagnosis": "Normal"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn champion_health_and_openapi() {
    let f = fixture(true, Limits::default()).await;
    let (status, champion) = f.send("GET", "/v1/models/champion", None, Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(champion["version"], 1);
    assert!(champion["holdout_metrics"]["macro_f1"].as_f64().unwrap() > 0.5);
    let (status, health) = f.send("GET", "/healthz", None, Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["champion"], 1);
    let (status, doc) = f.send("GET", "/openapi.json", None, Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/v1/predict",
        "/v1/predict/batch",
        "/v1/labels",
        "/v1/models/champion",
        "/v1/models/champion/performance",
        "/healthz",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    // No performance check yet: a 404 that says how to run one.
    let (status, answer) = f
        .send("GET", "/v1/models/champion/performance", None, Body::empty())
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("driftloop performance --now"));
    let features = &doc["components"]["schemas"]["Features"];
    assert_eq!(features["required"].as_array().unwrap().len(), 17);
    assert_eq!(
        features["properties"]["sadness"]["enum"],
        json!(["Seldom", "Sometimes", "Usually", "Most-Often"])
    );
    assert_eq!(features["properties"]["optimism"]["maximum"], 10.0);
    let (status, _) = f.send("GET", "/nowhere", None, Body::empty()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_champion_predict_is_503_and_says_to_train() {
    let f = fixture(false, Limits::default()).await;
    let answer = f
        .refused(
            "/v1/predict",
            Some("application/json"),
            json!({"features": features()}).to_string(),
            StatusCode::SERVICE_UNAVAILABLE,
        )
        .await;
    assert_eq!(answer["error"]["code"], "no_champion");
    assert!(answer["error"]["message"].as_str().unwrap().contains("driftloop train"));
    let (status, health) = f.send("GET", "/healthz", None, Body::empty()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health["database"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn storage_down_is_503_and_nothing_is_half_written() {
    let f = fixture(true, Limits::default()).await;
    let before = f.rows();
    // The feature table goes away under the running service.
    let conn = rusqlite::Connection::open(f.env.test_db.sqlite_path()).unwrap();
    conn.execute_batch("ALTER TABLE features RENAME TO features_away")
        .unwrap();
    let (status, answer) = f.post("/v1/predict", json!({"features": features()})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["error"]["code"], "unavailable");
    conn.execute_batch("ALTER TABLE features_away RENAME TO features")
        .unwrap();
    assert_eq!(f.rows(), before);
}

async fn an_insert_that_makes_a_drift_job_due_kicks_the_worker(backend: Backend) {
    let f = fixture_on(backend, true, Limits::default()).await;
    // 120 rows stored: the counter is at 20 of 100.
    let rows: Vec<Value> = (0..79).map(|_| json!({"features": features()})).collect();
    let (status, _) = f.post("/v1/predict/batch", json!({"rows": rows})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(f.kicks.load(Ordering::SeqCst), 0);
    let (status, _) = f.post("/v1/predict", json!({"features": features()})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(f.kicks.load(Ordering::SeqCst), 1);
    assert_eq!(f.db.drift_counter().unwrap().n, 0);
}

async fn post_on(app: axum::Router, uri: &'static str, body: Value) -> (StatusCode, Value) {
    let request = Request::builder()
        .method("POST")
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

async fn concurrent_predictions_each_get_their_own_row_and_the_count_stays_exact(backend: Backend) {
    let f = fixture_on(backend, true, Limits::default()).await;
    let before = f.rows();
    let jobs_before = f.db.jobs(None).unwrap().len();
    // 200 requests at once (rows written in shared transactions); 40 of them carry one of
    // two request_ids, so 160 + 2 rows are new.
    let requests: Vec<_> = (0..200)
        .map(|i| {
            let mut body = json!({"features": features()});
            if i % 5 == 0 {
                body["request_id"] = json!(format!("shared-{}", i % 10));
            }
            tokio::spawn(post_on(f.app.clone(), "/v1/predict", body))
        })
        .collect();
    let mut row_ids = std::collections::HashMap::<Option<String>, Vec<i64>>::new();
    for (i, request) in requests.into_iter().enumerate() {
        let (status, answer) = request.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{answer}");
        let key = (i % 5 == 0).then(|| format!("shared-{}", i % 10));
        row_ids.entry(key).or_default().push(answer["row_id"].as_i64().unwrap());
    }
    let mut fresh = row_ids.remove(&None).unwrap();
    fresh.sort();
    fresh.dedup();
    assert_eq!(fresh.len(), 160, "every request without a request_id has its own row");
    for (request_id, ids) in &row_ids {
        assert_eq!(ids.len(), 20);
        assert!(
            ids.iter().all(|id| *id == ids[0]),
            "{request_id:?} answered one row: {ids:?}"
        );
        assert!(!fresh.contains(&ids[0]));
    }
    assert_eq!(f.rows(), before + 162);
    // 120 rows counted 20 of 100 before; 162 more reach 100 once and leave 82.
    assert_eq!(f.db.drift_counter().unwrap().n, 82);
    assert_eq!(f.db.jobs(None).unwrap().len(), jobs_before + 1);
    assert_eq!(f.kicks.load(Ordering::SeqCst), 1, "the worker is woken once");
}
