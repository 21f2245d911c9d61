//! Configuration helpers: durations written the way people write them (`"30s"`, `"500ms"`,
//! `"10m"`, `"1h30m"`), and overrides from environment variables with a prefix.
//!
//! The pool and cache configurations use these so a service can load them from TOML, YAML or
//! JSON (cargo feature `serde`) and then let the environment override single fields, with a
//! [`ConfigError`] naming the field for any value that does not parse.
//!
//! # Examples
//!
//! ```
//! use patinox_memory::config::{EnvOverrides, format_duration, parse_duration};
//! use std::time::Duration;
//!
//! assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
//! assert_eq!(format_duration(Duration::from_millis(1500)), "1s500ms");
//!
//! let env = EnvOverrides::from_pairs("APP_POOL", [("APP_POOL_MAX_CONNECTIONS", "32")]);
//! assert_eq!(env.parse::<usize>("max_connections").unwrap(), Some(32));
//! assert!(env.parse::<usize>("min_connections").unwrap().is_none());
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::ConfigError;

/// Why a duration string did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationParseError {
    input: String,
    reason: &'static str,
}

impl fmt::Display for DurationParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot parse {:?} as a duration: {} (expected e.g. \"30s\", \"500ms\", \"10m\", \"1h30m\")",
            self.input, self.reason
        )
    }
}

impl std::error::Error for DurationParseError {}

const UNITS: [(&str, u128); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parses a duration such as `"30s"`, `"500ms"`, `"10m"`, `"1h30m"`, `"1.5s"` or `"0s"`.
///
/// Units: `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`, `d`. Parts may be repeated and are added
/// (`"1h30m"`); a part may have a decimal fraction (`"1.5s"`). A bare number is rejected
/// because its unit would be a guess.
///
/// # Errors
///
/// [`DurationParseError`] for empty input, a missing or unknown unit, a malformed number, or
/// a total beyond `Duration::MAX`.
pub fn parse_duration(input: &str) -> Result<Duration, DurationParseError> {
    let err = |reason| DurationParseError {
        input: input.to_owned(),
        reason,
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(err("it is empty"));
    }
    let mut total_nanos: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(err("expected a number"));
        }
        let (num, after) = rest.split_at(num_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let unit = unit.trim();
        if unit.is_empty() {
            return Err(err("a number has no unit"));
        }
        let scale = match unit {
            "d" => 86_400_000_000_000,
            u => UNITS
                .iter()
                .find(|(name, _)| *name == u)
                .map(|(_, n)| *n)
                .ok_or_else(|| err("unknown unit"))?,
        };
        let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
        if int_part.is_empty() && frac_part.is_empty() || frac_part.contains('.') {
            return Err(err("malformed number"));
        }
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| err("number too large"))?
        };
        let mut nanos = int.checked_mul(scale).ok_or_else(|| err("too large"))?;
        // The fraction, digit by digit, truncated below one nanosecond.
        let mut place = scale;
        for d in frac_part.bytes() {
            place /= 10;
            nanos = nanos
                .checked_add(u128::from(d - b'0') * place)
                .ok_or_else(|| err("too large"))?;
        }
        total_nanos = total_nanos
            .checked_add(nanos)
            .ok_or_else(|| err("too large"))?;
        rest = next.trim_start();
    }
    let secs = u64::try_from(total_nanos / 1_000_000_000).map_err(|_| err("too large"))?;
    Ok(Duration::new(secs, (total_nanos % 1_000_000_000) as u32))
}

/// Formats a duration so that [`parse_duration`] reads it back exactly: `"1h30m"`,
/// `"1s500ms"`, `"250us"`, `"0s"`.
pub fn format_duration(d: Duration) -> String {
    let mut nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, scale) in [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ] {
        let n = nanos / scale;
        if n > 0 {
            out.push_str(&n.to_string());
            out.push_str(unit);
            nanos %= scale;
        }
    }
    out
}

/// Overrides read from environment variables named `PREFIX_FIELD` (upper case).
///
/// For example with the prefix `PATINOX_POOL`, the field `max_connections` is read from
/// `PATINOX_POOL_MAX_CONNECTIONS`. Every parse error is a [`ConfigError`] naming the field,
/// the variable and the value.
#[derive(Debug, Clone)]
pub struct EnvOverrides {
    prefix: String,
    vars: Vec<(String, String)>,
}

impl EnvOverrides {
    /// Reads the process environment (variables that are not valid Unicode are ignored).
    pub fn from_env(prefix: &str) -> Self {
        Self::from_pairs(prefix, std::env::vars())
    }

    /// Uses the given variables instead of the process environment (for tests and for
    /// sources such as a `.env` file).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        prefix: &str,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let prefix = prefix.trim_end_matches('_').to_uppercase();
        let vars = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, _)| k.starts_with(&prefix))
            .collect();
        Self { prefix, vars }
    }

    /// The variable name for `field`.
    pub fn var_name(&self, field: &str) -> String {
        format!("{}_{}", self.prefix, field.to_uppercase())
    }

    /// The raw value for `field`, if set.
    pub fn raw(&self, field: &str) -> Option<&str> {
        let name = self.var_name(field);
        self.vars
            .iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim())
    }

    fn error(&self, field: &'static str, value: &str, expected: &str) -> ConfigError {
        ConfigError::new(
            field,
            format!(
                "from {}={value:?}: expected {expected}",
                self.var_name(field)
            ),
        )
    }

    /// `field` parsed with [`FromStr`], if set.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field when the value does not parse.
    pub fn parse<T: FromStr>(&self, field: &'static str) -> Result<Option<T>, ConfigError> {
        self.raw(field)
            .map(|v| {
                v.parse()
                    .map_err(|_| self.error(field, v, std::any::type_name::<T>()))
            })
            .transpose()
    }

    /// An optional field parsed with [`FromStr`]: `none`, `off` or `never` clear it
    /// (`Some(None)`).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field when the value neither parses nor turns it off.
    pub fn optional<T: FromStr>(
        &self,
        field: &'static str,
    ) -> Result<Option<Option<T>>, ConfigError> {
        match self.raw(field) {
            Some(v) if is_off(v) => Ok(Some(None)),
            Some(_) => self.parse(field).map(|v| v.map(Some)),
            None => Ok(None),
        }
    }

    /// A boolean field: `true/false`, `1/0`, `yes/no`, `on/off`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field for any other value.
    pub fn bool(&self, field: &'static str) -> Result<Option<bool>, ConfigError> {
        self.raw(field)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(self.error(field, v, "true or false")),
            })
            .transpose()
    }

    /// A duration field, as [`parse_duration`] reads it.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field when the value is not a duration.
    pub fn duration(&self, field: &'static str) -> Result<Option<Duration>, ConfigError> {
        self.raw(field)
            .map(|v| {
                parse_duration(v)
                    .map_err(|e| self.error(field, v, &format!("a duration ({})", e.reason)))
            })
            .transpose()
    }

    /// An optional duration field: `none`, `off` or `never` clear it (`Some(None)`).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field when the value is neither a duration nor `none`.
    pub fn optional_duration(
        &self,
        field: &'static str,
    ) -> Result<Option<Option<Duration>>, ConfigError> {
        match self.raw(field) {
            Some(v) if is_off(v) => Ok(Some(None)),
            Some(_) => self.duration(field).map(|d| d.map(Some)),
            None => Ok(None),
        }
    }
}

/// serde helpers for durations as human strings (`"30s"`), for `#[serde(with = ...)]`.
///
/// Deserialization also accepts a plain integer, read as milliseconds would be a guess, so it
/// is rejected with a message asking for a unit.
#[cfg(feature = "serde")]
pub mod serde_duration {
    use super::{format_duration, parse_duration};
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    /// Writes `d` as a string such as `"1m30s"`.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }

    /// Reads a string such as `"30s"`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s).map_err(serde::de::Error::custom)
    }

    /// The same for `Option<Duration>`, where `None` means "turned off".
    ///
    /// `None` is written as `"off"` (TOML has no null, and an absent field would take the
    /// default); reading accepts `"off"`, `"none"`, `"never"` and null.
    pub mod option {
        use super::{format_duration, parse_duration};
        use serde::{Deserialize, Deserializer, Serializer};
        use std::time::Duration;

        /// Writes `Some(d)` as a duration string and `None` as `"off"`.
        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => s.serialize_str(&format_duration(*d)),
                None => s.serialize_str("off"),
            }
        }

        /// Reads a duration string, `"off"`/`"none"`/`"never"`, or null.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            match Option::<String>::deserialize(d)? {
                None => Ok(None),
                Some(s) if super::super::is_off(&s) => Ok(None),
                Some(s) => parse_duration(&s)
                    .map(Some)
                    .map_err(serde::de::Error::custom),
            }
        }
    }
}

/// `true` for the words that turn an optional duration off: `none`, `off`, `never`.
fn is_off(s: &str) -> bool {
    ["none", "off", "never"]
        .iter()
        .any(|w| s.trim().eq_ignore_ascii_case(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a fraction added to an integer part just below `u128::MAX` nanoseconds
    /// overflowed (a panic in debug builds) instead of reporting the value as too large.
    #[test]
    fn fraction_overflowing_the_total_is_too_large() {
        let err = parse_duration("340282366920938463463374607431768211.999us").unwrap_err();
        assert!(err.to_string().contains("too large"), "{err}");
    }

    #[test]
    fn parses_every_unit_and_compound_durations() {
        let cases = [
            ("100ns", Duration::from_nanos(100)),
            ("250us", Duration::from_micros(250)),
            ("250µs", Duration::from_micros(250)),
            ("500ms", Duration::from_millis(500)),
            ("30s", Duration::from_secs(30)),
            ("10m", Duration::from_secs(600)),
            ("2h", Duration::from_secs(7200)),
            ("1d", Duration::from_secs(86_400)),
            ("1h30m", Duration::from_secs(5400)),
            ("1m 30s", Duration::from_secs(90)),
            ("1.5s", Duration::from_millis(1500)),
            (".25s", Duration::from_millis(250)),
            ("0s", Duration::ZERO),
            ("  7ms ", Duration::from_millis(7)),
        ];
        for (s, want) in cases {
            assert_eq!(parse_duration(s), Ok(want), "{s}");
        }
    }

    #[test]
    fn rejects_malformed_durations_with_a_reason() {
        for (s, reason) in [
            ("", "it is empty"),
            ("30", "a number has no unit"),
            ("30x", "unknown unit"),
            ("ms", "expected a number"),
            ("-5s", "expected a number"),
            ("1.2.3s", "malformed number"),
            (
                "99999999999999999999999999999999999999999h",
                "number too large",
            ),
            ("18446744073709551616s", "too large"),
        ] {
            let e = parse_duration(s).unwrap_err();
            assert_eq!(e.reason, reason, "{s}");
            assert!(e.to_string().contains("expected e.g."), "{e}");
        }
    }

    #[test]
    fn format_round_trips_through_parse() {
        for d in [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_millis(1500),
            Duration::from_secs(5400),
            Duration::new(3 * 3600 + 61, 123_456_789),
            Duration::MAX,
        ] {
            let s = format_duration(d);
            assert_eq!(parse_duration(&s), Ok(d), "{s}");
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
    }

    #[test]
    fn env_overrides_read_prefixed_upper_case_names() {
        let env = EnvOverrides::from_pairs(
            "PATINOX_POOL_",
            [
                ("PATINOX_POOL_MAX_CONNECTIONS", "32"),
                ("PATINOX_POOL_CONNECTION_TIMEOUT", "2s"),
                ("PATINOX_POOL_IDLE_TIMEOUT", "none"),
                ("PATINOX_POOL_TEST_ON_CHECK_OUT", "off"),
                ("OTHER_MAX_CONNECTIONS", "1"),
            ],
        );
        assert_eq!(
            env.var_name("max_connections"),
            "PATINOX_POOL_MAX_CONNECTIONS"
        );
        assert_eq!(env.parse::<usize>("max_connections"), Ok(Some(32)));
        assert_eq!(
            env.duration("connection_timeout"),
            Ok(Some(Duration::from_secs(2)))
        );
        assert_eq!(env.optional_duration("idle_timeout"), Ok(Some(None)));
        assert_eq!(env.optional_duration("max_lifetime"), Ok(None));
        assert_eq!(env.bool("test_on_check_out"), Ok(Some(false)));
        assert_eq!(env.parse::<usize>("min_connections"), Ok(None));
    }

    #[test]
    fn env_values_that_do_not_parse_name_field_and_variable() {
        let env = EnvOverrides::from_pairs(
            "APP",
            [
                ("APP_MAX_CONNECTIONS", "-3"),
                ("APP_CONNECTION_TIMEOUT", "soon"),
                ("APP_TEST_ON_CHECK_OUT", "maybe"),
            ],
        );
        let e = env.parse::<usize>("max_connections").unwrap_err();
        assert_eq!(e.field(), "max_connections");
        assert!(e.to_string().contains("APP_MAX_CONNECTIONS=\"-3\""), "{e}");
        let e = env.duration("connection_timeout").unwrap_err();
        assert!(e.problem().contains("a duration"), "{e}");
        assert_eq!(
            env.bool("test_on_check_out").unwrap_err().field(),
            "test_on_check_out"
        );
    }
}
