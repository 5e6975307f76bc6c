//! The Debian package's settings file, `packaging/haurach.toml` (installed as
//! `/etc/haurach/haurach.toml`), held to the server's [`Config`]: it names every setting
//! the server knows and no other, each commented out at its real default with a line
//! saying what it does, so an operator who reads it reads the truth. A setting added to
//! `Config` without a line there fails here.

use std::collections::BTreeSet;
use std::path::PathBuf;

use haurach_server::Config;
use serde_json::Value;

/// The settings the package sets itself, uncommented, and the values it sets them to.
const SET_BY_THE_PACKAGE: &[(&str, &str)] = &[("data", "/var/lib/haurach")];

fn packaged_file() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../packaging/haurach.toml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A setting's line: `key = value`, or `#key = value` when commented out. A comment that
/// says something starts with `# `.
fn setting(line: &str) -> Option<(&str, bool)> {
    let (commented, rest) = match line.strip_prefix('#') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let (key, _) = rest.split_once(" = ")?;
    let is_key = !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    is_key.then_some((key, commented))
}

/// The server's settings, by name, at their defaults (`null` for one unset by default).
fn defaults() -> serde_json::Map<String, Value> {
    match serde_json::to_value(Config::default()).unwrap() {
        Value::Object(map) => map,
        other => panic!("Config serialises as {other}"),
    }
}

#[test]
fn the_packaged_settings_file_names_every_setting_once_each_with_what_it_does() {
    let text = packaged_file();
    let lines: Vec<&str> = text.lines().collect();
    let mut named = BTreeSet::new();
    for (idx, line) in lines.iter().enumerate() {
        let Some((key, commented)) = setting(line) else {
            assert!(
                line.is_empty() || line.starts_with("# "),
                "line {}: neither a setting nor a comment: {line:?}",
                idx + 1
            );
            continue;
        };
        assert!(named.insert(key.to_owned()), "{key} is named twice");
        let said = idx > 0 && lines[idx - 1].starts_with("# ");
        assert!(said, "{key} has no line before it saying what it does");
        let set_by_us = SET_BY_THE_PACKAGE.iter().any(|(k, _)| *k == key);
        assert_eq!(
            commented, !set_by_us,
            "{key}: only {SET_BY_THE_PACKAGE:?} is set by the package; every other setting \
             stays commented out at its default"
        );
    }
    let known: BTreeSet<String> = defaults().keys().cloned().collect();
    let missing: Vec<_> = known.difference(&named).collect();
    let unknown: Vec<_> = named.difference(&known).collect();
    assert!(
        missing.is_empty(),
        "packaging/haurach.toml lacks {missing:?}: add each, commented out at its default"
    );
    assert!(
        unknown.is_empty(),
        "packaging/haurach.toml names {unknown:?}, which the server does not know"
    );
}

#[test]
fn the_packaged_settings_file_as_installed_is_the_defaults_and_the_packages_data() {
    let config = Config::from_toml(&packaged_file())
        .unwrap_or_else(|e| panic!("the packaged file does not parse: {e}"));
    config
        .validate()
        .unwrap_or_else(|e| panic!("the packaged file is not valid: {e}"));
    assert_eq!(
        config,
        Config {
            data: PathBuf::from("/var/lib/haurach"),
            ..Config::default()
        }
    );
}

#[test]
fn every_commented_value_is_the_default_once_uncommented() {
    let uncommented: String = packaged_file()
        .lines()
        .map(|line| match setting(line) {
            Some((_, true)) => &line[1..],
            _ => line,
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let config = Config::from_toml(&uncommented)
        .unwrap_or_else(|e| panic!("the uncommented file does not parse: {e}"));
    config
        .validate()
        .unwrap_or_else(|e| panic!("the uncommented file is not valid: {e}"));
    let Value::Object(values) = serde_json::to_value(&config).unwrap() else {
        unreachable!("a Config is an object")
    };
    for (key, default) in defaults() {
        let value = &values[&key];
        if let Some((_, ours)) = SET_BY_THE_PACKAGE.iter().find(|(k, _)| *k == key) {
            assert_eq!(value, &Value::from(*ours), "{key}");
        } else if default.is_null() {
            // Unset by default: the file shows an example of a value instead.
            assert!(!value.is_null(), "{key} shows no example value");
        } else {
            assert_eq!(
                value, &default,
                "{key}: the file's value is not the default"
            );
        }
    }
}
