//! The database URL from an AWS Secrets Manager secret: on AWS the functions get
//! `DRIFTLOOP_DATABASE_SECRET_ARN` (the RDS instance's generated secret) instead of a URL
//! with a password in it, and read the secret once per Lambda instance at start-up.
//!
//! After a rotation, instances started before it keep working on their open connections; a
//! new connection with the old password fails, the invocation errors and Lambda retries it
//! on a fresh instance, which reads the new secret.

use serde::Deserialize;

use driftloop_pipeline::{DatabaseUrl, Settings};
use driftloop_pipeline::{Error, Result};

/// The fields of an RDS credentials secret that driftloop uses.
#[derive(Deserialize)]
struct RdsSecret {
    username: String,
    password: String,
    host: String,
    port: Option<u16>,
    dbname: Option<String>,
}

/// Builds the MySQL URL from the JSON of an RDS credentials secret
/// (`{"username", "password", "host", "port", "dbname", ...}`). User and password are
/// percent-encoded, so any character they hold survives.
pub fn database_url_from_secret(json: &str) -> Result<DatabaseUrl> {
    let secret: RdsSecret = serde_json::from_str(json).map_err(|e| {
        Error::Config(format!(
            "the database secret is not an RDS credentials secret (username, password, host, port, dbname): {e}"
        ))
    })?;
    let dbname = secret
        .dbname
        .filter(|d| !d.is_empty())
        .ok_or_else(|| Error::Config("the database secret names no database (dbname)".to_string()))?;
    let mut url = url::Url::parse("mysql://placeholder/")
        .map_err(|e| Error::Config(format!("building the database url: {e}")))?;
    let invalid = |what: &str| Error::Config(format!("the database secret's {what} does not fit in a URL"));
    url.set_host(Some(&secret.host)).map_err(|_| invalid("host"))?;
    url.set_port(Some(secret.port.unwrap_or(3306)))
        .map_err(|_| invalid("port"))?;
    url.set_username(&secret.username).map_err(|_| invalid("username"))?;
    url.set_password(Some(&secret.password))
        .map_err(|_| invalid("password"))?;
    url.set_path(&dbname);
    Ok(DatabaseUrl::parse(url.as_str())?)
}

/// When `DRIFTLOOP_DATABASE_SECRET_ARN` is set, replaces the settings' database URL with
/// the one its secret describes.
pub async fn resolve_database_secret(settings: &mut Settings) -> Result<()> {
    let Some(arn) = settings.database_secret_arn.clone() else {
        return Ok(());
    };
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let answer = client.get_secret_value().secret_id(&arn).send().await.map_err(|e| {
        Error::Config(format!(
            "reading the database secret {arn}: {}",
            aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
        ))
    })?;
    let json = answer
        .secret_string()
        .ok_or_else(|| Error::Config(format!("the database secret {arn} holds no string")))?;
    settings.database_url = database_url_from_secret(json)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rds_secret_becomes_a_url_with_the_password_encoded() {
        let url = database_url_from_secret(
            r#"{"engine":"mysql","host":"db.internal","port":3306,"username":"admin",
                "password":"p@ss:w/rd","dbname":"driftloop","dbInstanceIdentifier":"x"}"#,
        )
        .unwrap();
        let DatabaseUrl::Mysql { url: raw } = &url else {
            panic!("not mysql: {url}")
        };
        let parsed = url::Url::parse(raw.expose()).unwrap();
        assert_eq!(parsed.host_str(), Some("db.internal"));
        assert_eq!(parsed.username(), "admin");
        assert_eq!(parsed.password(), Some("p%40ss%3Aw%2Frd"));
        assert_eq!(url.database_name(), "driftloop");
        assert!(
            !url.to_string().contains("p%40ss"),
            "the password is never shown: {url}"
        );
    }

    #[test]
    fn secret_without_a_database_or_not_json_is_a_clear_error() {
        let err = database_url_from_secret(r#"{"host":"h","username":"u","password":"p"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("dbname"), "{err}");
        let err = database_url_from_secret("hunter2").unwrap_err().to_string();
        assert!(
            err.contains("RDS credentials secret") && !err.contains("hunter2"),
            "{err}"
        );
    }
}
