//! Configuration loaded from TOML / JSON and from environment variables.
#![cfg(feature = "serde")]

use std::time::Duration;

use patinox_memory::config::EnvOverrides;
use patinox_memory::pool::PoolConfig;

fn full_pool_config() -> PoolConfig {
    PoolConfig {
        min_connections: 2,
        max_connections: 16,
        connection_timeout: Duration::from_millis(2500),
        idle_timeout: Some(Duration::from_secs(300)),
        max_lifetime: None,
        health_check_interval: Some(Duration::from_secs(30)),
        test_on_check_out: true,
    }
}

#[test]
fn pool_config_round_trips_through_toml_and_json() {
    let config = full_pool_config();
    let toml_text = toml::to_string(&config).unwrap();
    assert!(
        toml_text.contains("connection_timeout = \"2s500ms\""),
        "{toml_text}"
    );
    assert_eq!(toml::from_str::<PoolConfig>(&toml_text).unwrap(), config);
    let json = serde_json::to_string(&config).unwrap();
    assert!(json.contains("\"max_lifetime\":\"off\""), "{json}");
    assert_eq!(serde_json::from_str::<PoolConfig>(&json).unwrap(), config);
}

#[test]
fn pool_config_reads_every_field_written_by_hand() {
    let text = r#"
        min_connections = 2
        max_connections = 16
        connection_timeout = "2.5s"
        idle_timeout = "5m"
        health_check_interval = "30s"
        test_on_check_out = true
    "#;
    let mut want = full_pool_config();
    want.max_lifetime = PoolConfig::default().max_lifetime; // absent: the default
    assert_eq!(toml::from_str::<PoolConfig>(text).unwrap(), want);
}

#[test]
fn optional_durations_turn_off_with_off_none_never_or_null() {
    for text in [
        "idle_timeout = \"off\"",
        "idle_timeout = \"none\"",
        "idle_timeout = \"Never\"",
    ] {
        assert_eq!(
            toml::from_str::<PoolConfig>(text).unwrap().idle_timeout,
            None,
            "{text}"
        );
    }
    let c: PoolConfig = serde_json::from_str(r#"{"idle_timeout": null}"#).unwrap();
    assert_eq!(c.idle_timeout, None);
}

#[test]
fn missing_fields_take_defaults() {
    assert_eq!(
        toml::from_str::<PoolConfig>("").unwrap(),
        PoolConfig::default()
    );
    let c: PoolConfig = serde_json::from_str(r#"{"max_connections": 3}"#).unwrap();
    assert_eq!(c.max_connections, 3);
    assert_eq!(
        c.connection_timeout,
        PoolConfig::default().connection_timeout
    );
}

fn toml_error(text: &str) -> String {
    toml::from_str::<PoolConfig>(text).unwrap_err().to_string()
}

#[test]
fn invalid_values_fail_with_the_validation_message_naming_the_field() {
    let e = toml_error("max_connections = 0");
    assert!(
        e.contains("`max_connections` must be at least 1, got 0"),
        "{e}"
    );
    let e = toml_error("min_connections = 8\nmax_connections = 4");
    assert!(
        e.contains("`min_connections` must not exceed max_connections (4), got 8"),
        "{e}"
    );
    let e = toml_error("connection_timeout = \"0s\"");
    assert!(
        e.contains("`connection_timeout` must be longer than zero"),
        "{e}"
    );
    let e = toml_error("idle_timeout = \"0ms\"");
    assert!(e.contains("`idle_timeout` must be longer than zero"), "{e}");
}

#[test]
fn malformed_values_are_rejected_precisely() {
    let e = toml_error("connection_timeout = \"soon\"");
    assert!(e.contains("cannot parse \"soon\" as a duration"), "{e}");
    let e = toml_error("connection_timeout = \"30\"");
    assert!(e.contains("a number has no unit"), "{e}");
    let e = toml_error("max_connections = -1");
    assert!(e.contains("max_connections"), "{e}");
    let e = serde_json::from_str::<PoolConfig>(r#"{"connection_timeout": 5}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected a string"), "{e}");
}

#[test]
fn unknown_fields_are_rejected() {
    let e = toml_error("max_conections = 4");
    assert!(e.contains("unknown field `max_conections`"), "{e}");
}

#[test]
fn environment_overrides_every_pool_field() {
    let env = EnvOverrides::from_pairs(
        "PATINOX_POOL",
        [
            ("PATINOX_POOL_MIN_CONNECTIONS", "2"),
            ("PATINOX_POOL_MAX_CONNECTIONS", "16"),
            ("PATINOX_POOL_CONNECTION_TIMEOUT", "2500ms"),
            ("PATINOX_POOL_IDLE_TIMEOUT", "5m"),
            ("PATINOX_POOL_MAX_LIFETIME", "none"),
            ("PATINOX_POOL_HEALTH_CHECK_INTERVAL", "30s"),
            ("PATINOX_POOL_TEST_ON_CHECK_OUT", "yes"),
        ],
    );
    let mut config = PoolConfig::default();
    config.apply_env(&env).unwrap();
    assert_eq!(config, full_pool_config());
}

#[test]
fn environment_errors_name_field_and_variable() {
    let cases = [
        ("PATINOX_POOL_MAX_CONNECTIONS", "-3", "max_connections"),
        (
            "PATINOX_POOL_CONNECTION_TIMEOUT",
            "later",
            "connection_timeout",
        ),
        (
            "PATINOX_POOL_TEST_ON_CHECK_OUT",
            "maybe",
            "test_on_check_out",
        ),
        ("PATINOX_POOL_MAX_CONNECTIONS", "0", "max_connections"),
        ("PATINOX_POOL_MIN_CONNECTIONS", "50", "min_connections"),
    ];
    for (var, value, field) in cases {
        let env = EnvOverrides::from_pairs("PATINOX_POOL", [(var, value)]);
        let err = PoolConfig::default().apply_env(&env).unwrap_err();
        assert_eq!(err.field(), field, "{var}={value}: {err}");
    }
    let env = EnvOverrides::from_pairs("PATINOX_POOL", [("PATINOX_POOL_MAX_CONNECTIONS", "-3")]);
    let msg = PoolConfig::default()
        .apply_env(&env)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("PATINOX_POOL_MAX_CONNECTIONS=\"-3\""), "{msg}");
}

mod cache {
    use std::time::Duration;

    use patinox_memory::cache::{CacheConfig, EvictionPolicy};
    use patinox_memory::config::EnvOverrides;

    fn full() -> CacheConfig {
        CacheConfig {
            max_size: 5_000,
            max_weight: Some(1 << 20),
            default_ttl: Some(Duration::from_secs(90)),
            cleanup_interval: Some(Duration::from_millis(500)),
            eviction_policy: EvictionPolicy::TinyLfu,
            shards: 8,
        }
    }

    #[test]
    fn cache_config_round_trips_through_toml_and_json() {
        let text = toml::to_string(&full()).unwrap();
        assert!(text.contains("eviction_policy = \"tiny_lfu\""), "{text}");
        assert!(text.contains("default_ttl = \"1m30s\""), "{text}");
        assert_eq!(toml::from_str::<CacheConfig>(&text).unwrap(), full());
        let json = serde_json::to_string(&CacheConfig::default()).unwrap();
        assert_eq!(
            serde_json::from_str::<CacheConfig>(&json).unwrap(),
            CacheConfig::default()
        );
    }

    #[test]
    fn cache_config_reads_every_field_written_by_hand() {
        let text = r#"
            max_size = 5000
            max_weight = 1048576
            default_ttl = "90s"
            cleanup_interval = "500ms"
            eviction_policy = "TinyLfu"
            shards = 8
        "#;
        // The policy name is matched case-sensitively by serde: "TinyLfu" is not a spelling.
        assert!(toml::from_str::<CacheConfig>(text).is_err());
        let text = text.replace("\"TinyLfu\"", "\"tinylfu\"");
        assert_eq!(toml::from_str::<CacheConfig>(&text).unwrap(), full());
    }

    #[test]
    fn invalid_cache_values_name_their_field() {
        let cases = [
            (
                "shards = 3",
                "`shards` must be 0 (automatic) or a power of two",
            ),
            ("max_weight = 0", "`max_weight` must be at least 1"),
            (
                "default_ttl = \"0s\"",
                "`default_ttl` must be longer than zero",
            ),
            (
                "cleanup_interval = \"0ms\"",
                "`cleanup_interval` must be longer than zero",
            ),
            ("eviction_policy = \"fifo\"", "unknown variant `fifo`"),
            (
                "default_ttl = \"a while\"",
                "cannot parse \"a while\" as a duration",
            ),
            ("max_size = -5", "max_size"),
            ("max_sise = 5", "unknown field `max_sise`"),
        ];
        for (text, want) in cases {
            let err = toml::from_str::<CacheConfig>(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn environment_overrides_every_cache_field() {
        let env = EnvOverrides::from_pairs(
            "PATINOX_CACHE",
            [
                ("PATINOX_CACHE_MAX_SIZE", "5000"),
                ("PATINOX_CACHE_MAX_WEIGHT", "1048576"),
                ("PATINOX_CACHE_DEFAULT_TTL", "1m30s"),
                ("PATINOX_CACHE_CLEANUP_INTERVAL", "500ms"),
                ("PATINOX_CACHE_EVICTION_POLICY", "Tiny-LFU"),
                ("PATINOX_CACHE_SHARDS", "8"),
            ],
        );
        let mut config = CacheConfig::default();
        config.apply_env(&env).unwrap();
        assert_eq!(config, full());
        let off = EnvOverrides::from_pairs("PATINOX_CACHE", [("PATINOX_CACHE_MAX_WEIGHT", "off")]);
        let mut config = full();
        config.apply_env(&off).unwrap();
        assert_eq!(config.max_weight, None);
    }

    #[test]
    fn environment_cache_errors_name_field_and_variable() {
        let cases = [
            ("PATINOX_CACHE_MAX_SIZE", "lots", "max_size"),
            ("PATINOX_CACHE_MAX_WEIGHT", "0", "max_weight"),
            ("PATINOX_CACHE_DEFAULT_TTL", "0s", "default_ttl"),
            ("PATINOX_CACHE_EVICTION_POLICY", "random", "eviction_policy"),
            ("PATINOX_CACHE_SHARDS", "6", "shards"),
        ];
        for (var, value, field) in cases {
            let env = EnvOverrides::from_pairs("PATINOX_CACHE", [(var, value)]);
            let err = CacheConfig::default().apply_env(&env).unwrap_err();
            assert_eq!(err.field(), field, "{var}={value}: {err}");
        }
        let env = EnvOverrides::from_pairs(
            "PATINOX_CACHE",
            [("PATINOX_CACHE_EVICTION_POLICY", "random")],
        );
        let msg = CacheConfig::default()
            .apply_env(&env)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("PATINOX_CACHE_EVICTION_POLICY"), "{msg}");
    }
}
