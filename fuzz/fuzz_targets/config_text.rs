//! Configuration text with arbitrary values: `parse_duration` (random strings, and
//! well-formed-looking ones with numbers of any size, fractions and every unit) and
//! `EnvOverrides` applied to a `PoolConfig`.
//!
//! Nothing panics; a parsed duration formats back to itself; a rejected override is a
//! `ConfigError` naming one of the pool's fields.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use patinox_memory::config::{EnvOverrides, format_duration, parse_duration};
use patinox_memory::pool::PoolConfig;

#[derive(Debug, Arbitrary)]
struct Input {
    duration_text: String,
    duration_parts: Vec<(u128, Option<u32>, u8)>,
    env: Vec<(u8, String)>,
    stray_env: Vec<(String, String)>,
}

const POOL_FIELDS: [&str; 7] = [
    "min_connections",
    "max_connections",
    "connection_timeout",
    "idle_timeout",
    "max_lifetime",
    "health_check_interval",
    "test_on_check_out",
];

fn duration(text: &str) {
    if let Ok(d) = parse_duration(text) {
        let written = format_duration(d);
        assert_eq!(
            parse_duration(&written),
            Ok(d),
            "{text:?} formats as {written:?}"
        );
    } else if let Err(e) = parse_duration(text) {
        assert!(!e.to_string().is_empty());
    }
}

fn env(input: &Input) {
    let mut pairs: Vec<(String, String)> = input
        .env
        .iter()
        .map(|(field, value)| {
            let field = POOL_FIELDS[usize::from(*field) % POOL_FIELDS.len()];
            (format!("FUZZ_POOL_{}", field.to_uppercase()), value.clone())
        })
        .collect();
    pairs.extend(input.stray_env.iter().cloned());
    let env = EnvOverrides::from_pairs("FUZZ_POOL", pairs);
    let mut config = PoolConfig::default();
    match config.apply_env(&env) {
        Ok(()) => assert!(config.validate().is_ok()),
        Err(e) => {
            assert!(
                POOL_FIELDS.contains(&e.field()),
                "unknown field {:?}",
                e.field()
            );
            assert!(!e.problem().is_empty());
        }
    }
}

fuzz_target!(|input: Input| {
    duration(&input.duration_text);
    // Well-formed-looking text too, which random strings rarely are.
    let units = ["ns", "us", "µs", "ms", "s", "m", "h", "d", "x", ""];
    let text: String = input
        .duration_parts
        .iter()
        .map(|(int, frac, unit)| {
            let unit = units[usize::from(*unit) % units.len()];
            match frac {
                Some(f) => format!("{int}.{f}{unit}"),
                None => format!("{int}{unit}"),
            }
        })
        .collect();
    duration(&text);
    env(&input);
});
