//! The functions' shared start-up against real services: the database URL from a secret in
//! moto's Secrets Manager opens a real MariaDB database.

mod secrets;
