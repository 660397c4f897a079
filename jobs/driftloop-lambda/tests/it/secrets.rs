//! The database URL from a Secrets Manager secret, as the functions read it on AWS: a
//! secret in moto's Secrets Manager holding the test server's credentials opens and
//! migrates a real MariaDB database.

use driftloop_db::testing::{mysql_server_url, Backend, TestDb};
use driftloop_lambda::secrets::resolve_database_secret;
use driftloop_pipeline::{open_database, Settings};

/// moto, which the test command starts, serves Secrets Manager beside S3.
fn aws_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!(
            "AWS_ENDPOINT_URL is not set: this test needs moto's Secrets Manager. Run the README's test \
             command (./scripts/test), which starts moto, or start it with `moto_server -H 127.0.0.1 -p 5055` \
             (pip install 'moto[server]') and export AWS_ENDPOINT_URL=http://127.0.0.1:5055 \
             AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1"
        )
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn rds_style_secret_opens_the_database() {
    let target = TestDb::unmigrated(Backend::Mysql, "secret");
    let server = url::Url::parse(&mysql_server_url()).unwrap();
    let secret = serde_json::json!({
        "engine": "mysql",
        "host": server.host_str().unwrap(),
        "port": server.port().unwrap_or(3306),
        "username": server.username(),
        "password": server.password().unwrap_or(""),
        "dbname": target.url.database_name(),
    });
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(aws_endpoint())
        .load()
        .await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let name = format!("driftloop-test-{}", std::process::id());
    let created = client
        .create_secret()
        .name(&name)
        .secret_string(secret.to_string())
        .send()
        .await
        .expect("moto's Secrets Manager answers");
    let arn = created.arn().unwrap().to_string();

    let mut settings =
        Settings::from_lookup(|var| (var == "DRIFTLOOP_DATABASE_SECRET_ARN").then(|| arn.clone())).unwrap();
    assert_eq!(settings.database_secret_arn.as_deref(), Some(arn.as_str()));
    resolve_database_secret(&mut settings).await.unwrap();
    assert_eq!(settings.database_url.database_name(), target.url.database_name());
    let db = open_database(&settings.database_url).unwrap();
    let report = db.migrate().unwrap();
    assert!(report.applied.len() >= 8, "{report:?}");
    assert_eq!(target.db.count_rows().unwrap(), 0, "the same database, now migrated");

    // A missing secret is a clear error naming it.
    let mut missing =
        Settings::from_lookup(|var| (var == "DRIFTLOOP_DATABASE_SECRET_ARN").then(|| format!("{name}-missing")))
            .unwrap();
    let err = resolve_database_secret(&mut missing).await.unwrap_err().to_string();
    assert!(err.contains(&format!("{name}-missing")), "{err}");
    client
        .delete_secret()
        .secret_id(&arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
}
