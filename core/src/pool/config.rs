//! [`PoolConfig`] and its validation.

use std::time::Duration;

use crate::config::EnvOverrides;
use crate::error::ConfigError;

/// Loading a configuration validates it: an invalid one fails to deserialize with the same
/// message [`PoolConfig::validate`] gives, naming the field.
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for PoolConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let config = PoolConfig::deserialize(deserializer)?;
        config.validate().map_err(serde::de::Error::custom)?;
        Ok(config)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for PoolConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        PoolConfig::serialize(self, serializer)
    }
}

/// How a [`Pool`](super::Pool) sizes, times out and checks its connections.
///
/// Build one with [`Pool::builder`](super::Pool::builder), or fill the fields and pass it to
/// [`Pool::new`](super::Pool::new); both validate it.
///
/// # Examples
///
/// ```
/// use patinox_memory::pool::PoolConfig;
/// use std::time::Duration;
///
/// let config = PoolConfig {
///     max_connections: 4,
///     connection_timeout: Duration::from_secs(2),
///     ..PoolConfig::default()
/// };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(remote = "Self", deny_unknown_fields, default)
)]
pub struct PoolConfig {
    /// Connections the background thread keeps open even when idle. Default 0.
    pub min_connections: usize,
    /// Most connections open (or being opened) at once. Default 10; must be at least 1.
    pub max_connections: usize,
    /// How long [`Pool::get`](super::Pool::get) waits. Default 30 s; must not be zero.
    #[cfg_attr(feature = "serde", serde(with = "crate::config::serde_duration"))]
    pub connection_timeout: Duration,
    /// Idle connections older than this are closed, never going below `min_connections`.
    /// Default 10 minutes; `None` keeps them.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::config::serde_duration::option")
    )]
    pub idle_timeout: Option<Duration>,
    /// Connections are closed after about this long (minus a random jitter of up to 1/16, so
    /// they do not all expire together), checked at check-out, on return and in the
    /// background. Default 30 minutes; `None`: no limit.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::config::serde_duration::option")
    )]
    pub max_lifetime: Option<Duration>,
    /// Idle connections are checked with `is_valid` in the background this often. Default
    /// `None` (no background checks).
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::config::serde_duration::option")
    )]
    pub health_check_interval: Option<Duration>,
    /// Run `is_valid` on each connection before handing it out, replacing a failing one within
    /// the same get. Default `false` (`has_broken` on return is the cheap check).
    pub test_on_check_out: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            min_connections: 0,
            max_connections: 10,
            connection_timeout: Duration::from_secs(30),
            idle_timeout: Some(Duration::from_secs(600)),
            max_lifetime: Some(Duration::from_secs(1800)),
            health_check_interval: None,
            test_on_check_out: false,
        }
    }
}

impl PoolConfig {
    /// Checks every field.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first bad field: `max_connections` of 0,
    /// `min_connections` above `max_connections`, or a zero `connection_timeout`,
    /// `idle_timeout`, `max_lifetime` or `health_check_interval`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_connections == 0 {
            return Err(ConfigError::new(
                "max_connections",
                "must be at least 1, got 0",
            ));
        }
        if self.min_connections > self.max_connections {
            return Err(ConfigError::new(
                "min_connections",
                format!(
                    "must not exceed max_connections ({}), got {}",
                    self.max_connections, self.min_connections
                ),
            ));
        }
        if self.connection_timeout.is_zero() {
            return Err(ConfigError::new(
                "connection_timeout",
                "must be longer than zero (use try_get for a get that never waits)",
            ));
        }
        let positive = [
            ("idle_timeout", self.idle_timeout),
            ("max_lifetime", self.max_lifetime),
            ("health_check_interval", self.health_check_interval),
        ];
        for (field, value) in positive {
            if value.is_some_and(|d| d.is_zero()) {
                return Err(ConfigError::new(
                    field,
                    "must be longer than zero (use None to turn it off)",
                ));
            }
        }
        Ok(())
    }

    /// Applies overrides from environment variables named `PREFIX_FIELD`, then validates.
    ///
    /// Every field can be overridden: `min_connections`, `max_connections`,
    /// `connection_timeout` (a duration such as `"5s"`), `idle_timeout`, `max_lifetime`,
    /// `health_check_interval` (durations, or `none`/`off` to turn them off) and
    /// `test_on_check_out` (`true`/`false`). The conventional prefix is `PATINOX_POOL`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field for a value that does not parse, or for a resulting
    /// configuration that [`validate`](Self::validate) rejects.
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::config::EnvOverrides;
    /// use patinox_memory::pool::PoolConfig;
    /// use std::time::Duration;
    ///
    /// let env = EnvOverrides::from_pairs(
    ///     "PATINOX_POOL",
    ///     [("PATINOX_POOL_MAX_CONNECTIONS", "32"), ("PATINOX_POOL_IDLE_TIMEOUT", "off")],
    /// );
    /// let mut config = PoolConfig::default();
    /// config.apply_env(&env).unwrap();
    /// assert_eq!(config.max_connections, 32);
    /// assert_eq!(config.idle_timeout, None);
    /// ```
    pub fn apply_env(&mut self, env: &EnvOverrides) -> Result<(), ConfigError> {
        if let Some(v) = env.parse("min_connections")? {
            self.min_connections = v;
        }
        if let Some(v) = env.parse("max_connections")? {
            self.max_connections = v;
        }
        if let Some(v) = env.duration("connection_timeout")? {
            self.connection_timeout = v;
        }
        if let Some(v) = env.optional_duration("idle_timeout")? {
            self.idle_timeout = v;
        }
        if let Some(v) = env.optional_duration("max_lifetime")? {
            self.max_lifetime = v;
        }
        if let Some(v) = env.optional_duration("health_check_interval")? {
            self.health_check_interval = v;
        }
        if let Some(v) = env.bool("test_on_check_out")? {
            self.test_on_check_out = v;
        }
        self.validate()
    }

    /// The default configuration with overrides from the process environment under `prefix`
    /// (see [`apply_env`](Self::apply_env)).
    ///
    /// # Errors
    ///
    /// As [`apply_env`](Self::apply_env).
    pub fn from_env(prefix: &str) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        config.apply_env(&EnvOverrides::from_env(prefix))?;
        Ok(config)
    }

    /// How often the maintenance thread wakes up, or `None` if nothing needs it.
    pub(crate) fn maintenance_tick(&self) -> Option<Duration> {
        let shortest = [
            self.idle_timeout,
            self.max_lifetime,
            self.health_check_interval,
        ]
        .into_iter()
        .flatten()
        .min();
        match shortest {
            Some(d) => Some((d / 4).clamp(Duration::from_millis(1), Duration::from_millis(250))),
            None if self.min_connections > 0 => Some(Duration::from_millis(250)),
            None => None,
        }
    }
}

/// The [`PoolConfig`] setters every pool builder has (the blocking one here, the async ones in
/// the adapters), for an `impl` block of a builder with a `config: PoolConfig` field.
#[doc(hidden)]
#[macro_export]
macro_rules! pool_config_setters {
    () => {
        /// Replaces the whole configuration.
        pub fn config(mut self, config: PoolConfig) -> Self {
            self.config = config;
            self
        }

        /// See [`PoolConfig::max_connections`].
        pub fn max_connections(mut self, n: usize) -> Self {
            self.config.max_connections = n;
            self
        }

        /// See [`PoolConfig::min_connections`].
        pub fn min_connections(mut self, n: usize) -> Self {
            self.config.min_connections = n;
            self
        }

        /// See [`PoolConfig::connection_timeout`].
        pub fn connection_timeout(mut self, d: Duration) -> Self {
            self.config.connection_timeout = d;
            self
        }

        /// See [`PoolConfig::idle_timeout`].
        pub fn idle_timeout(mut self, d: Option<Duration>) -> Self {
            self.config.idle_timeout = d;
            self
        }

        /// See [`PoolConfig::max_lifetime`].
        pub fn max_lifetime(mut self, d: Option<Duration>) -> Self {
            self.config.max_lifetime = d;
            self
        }

        /// See [`PoolConfig::health_check_interval`].
        pub fn health_check_interval(mut self, d: Option<Duration>) -> Self {
            self.config.health_check_interval = d;
            self
        }

        /// See [`PoolConfig::test_on_check_out`].
        pub fn test_on_check_out(mut self, on: bool) -> Self {
            self.config.test_on_check_out = on;
            self
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(c: PoolConfig) -> &'static str {
        c.validate().unwrap_err().field()
    }

    #[test]
    fn default_config_is_valid() {
        assert_eq!(PoolConfig::default().validate(), Ok(()));
    }

    #[test]
    fn bad_values_name_their_field() {
        let base = PoolConfig::default();
        assert_eq!(
            field_of(PoolConfig {
                max_connections: 0,
                ..base.clone()
            }),
            "max_connections"
        );
        assert_eq!(
            field_of(PoolConfig {
                min_connections: 11,
                ..base.clone()
            }),
            "min_connections"
        );
        assert_eq!(
            field_of(PoolConfig {
                connection_timeout: Duration::ZERO,
                ..base.clone()
            }),
            "connection_timeout"
        );
        assert_eq!(
            field_of(PoolConfig {
                idle_timeout: Some(Duration::ZERO),
                ..base.clone()
            }),
            "idle_timeout"
        );
        assert_eq!(
            field_of(PoolConfig {
                max_lifetime: Some(Duration::ZERO),
                ..base.clone()
            }),
            "max_lifetime"
        );
        assert_eq!(
            field_of(PoolConfig {
                health_check_interval: Some(Duration::ZERO),
                ..base
            }),
            "health_check_interval"
        );
    }

    #[test]
    fn maintenance_tick_follows_the_shortest_interval() {
        let none = PoolConfig {
            idle_timeout: None,
            max_lifetime: None,
            ..PoolConfig::default()
        };
        assert_eq!(none.maintenance_tick(), None);
        let min = PoolConfig {
            min_connections: 1,
            ..none.clone()
        };
        assert_eq!(min.maintenance_tick(), Some(Duration::from_millis(250)));
        let short = PoolConfig {
            idle_timeout: Some(Duration::from_millis(40)),
            ..none
        };
        assert_eq!(short.maintenance_tick(), Some(Duration::from_millis(10)));
    }
}
