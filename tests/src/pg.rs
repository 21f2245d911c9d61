//! A PostgreSQL [`ManageConnection`] over the `postgres` crate, shared by the tests.

use std::time::Duration;

use patinox_memory::ErrorClass;
use patinox_memory::pool::ManageConnection;
use postgres::error::SqlState;
use postgres::{Client, NoTls};

/// Opens `postgres` clients tagged with an `application_name` unique to this test run.
#[derive(Debug)]
pub struct PgManager {
    config: postgres::Config,
}

impl PgManager {
    /// A manager for `url` whose connections carry `application_name`, so a test can find
    /// (and terminate) exactly the pool's backends.
    pub fn new(url: &str, application_name: &str) -> Self {
        let mut config: postgres::Config = url.parse().expect("DATABASE_URL parses");
        config
            .application_name(application_name)
            .connect_timeout(Duration::from_secs(2));
        Self { config }
    }
}

impl ManageConnection for PgManager {
    type Connection = Client;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Client, postgres::Error> {
        self.config.connect(NoTls)
    }

    fn is_valid(&self, conn: &mut Client) -> Result<(), postgres::Error> {
        conn.simple_query("SELECT 1").map(|_| ())
    }

    fn has_broken(&self, conn: &mut Client) -> bool {
        conn.is_closed()
    }

    fn classify(&self, err: &postgres::Error) -> ErrorClass {
        let permanent = [
            SqlState::INVALID_PASSWORD,
            SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
            SqlState::INVALID_CATALOG_NAME,
        ];
        match err.code() {
            Some(code) if permanent.contains(code) => ErrorClass::Permanent,
            _ => ErrorClass::Retryable,
        }
    }
}

/// How many backends PostgreSQL shows for `application_name` (as seen from `admin`).
///
/// # Panics
///
/// If the query fails (a test helper: the test should fail).
pub fn backends(admin: &mut Client, application_name: &str) -> i64 {
    admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&application_name],
        )
        .expect("count the pool's backends")
        .get(0)
}
