//! The app's settings: the `<name>-app-config` ConfigMap of `K_*` keys (as upstream), the image,
//! and the environment of the kaspr container.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapKeySelector, EnvVar, EnvVarSource, SecretKeySelector,
};
use kaspr_types::{KafkaAuthentication, KafkaAuthenticationType, KasprApp};
use kube::ResourceExt;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{field_ref, metadata};
use crate::names;

pub const DEFAULT_WEB_PORT: i32 = 6065;
pub const DATA_DIR: &str = "/var/lib/data";
pub const DEFAULT_TABLE_DIR: &str = "/var/lib/data/tables";
pub const DEFINITIONS_DIR: &str = "/var/lib/data/definitions";

fn config_value<'a>(app: &'a KasprApp, key: &str) -> Option<&'a Value> {
    app.spec.config.as_ref().and_then(|c| c.get(key))
}

/// `config.webPort` (or `web_port`, which upstream honours too), else 6065.
pub fn web_port(app: &KasprApp) -> i32 {
    config_value(app, "webPort")
        .or_else(|| config_value(app, "web_port"))
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        })
        .and_then(|p| i32::try_from(p).ok())
        .unwrap_or(DEFAULT_WEB_PORT)
}

/// `config.tableDir`, else `/var/lib/data/tables`: where table storage is mounted.
pub fn table_dir(app: &KasprApp) -> String {
    config_value(app, "tableDir")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_TABLE_DIR)
        .to_owned()
}

/// How upstream's schema types a known config key, which decides how its value is written.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    Float,
    Bool,
}

/// The config keys upstream's schema knows (`kaspr/types/schemas/config.py`), with their types.
/// A known key's variable is `K_` and its snake_case name upper-cased (`topicPartitions` →
/// `K_TOPIC_PARTITIONS`); any other key is kept as written, upper-cased (`fooBar` → `K_FOOBAR`,
/// `auto.offset.reset` → `K_AUTO.OFFSET.RESET`), as upstream names them.
const KNOWN_KEYS: &[(&str, Kind)] = &[
    ("tableDir", Kind::Str),
    ("topicReplicationFactor", Kind::Int),
    ("topicPartitions", Kind::Int),
    ("topicAllowDeclare", Kind::Bool),
    ("keySerializer", Kind::Str),
    ("valueSerializer", Kind::Str),
    ("schedulerEnabled", Kind::Bool),
    ("schedulerCronEnabled", Kind::Bool),
    ("schedulerDebugStatsEnabled", Kind::Bool),
    ("schedulerTopicPartitions", Kind::Int),
    ("schedulerCheckpointSaveIntervalSeconds", Kind::Float),
    (
        "schedulerDispatcherDefaultCheckpointLookbackDays",
        Kind::Int,
    ),
    ("schedulerDispatcherCheckpointInterval", Kind::Float),
    ("schedulerJanitorCheckpointInterval", Kind::Float),
    ("schedulerJanitorCleanIntervalSeconds", Kind::Float),
    ("schedulerJanitorHighwaterOffsetSeconds", Kind::Float),
    ("schedulerCronTickIntervalSeconds", Kind::Float),
    ("schedulerCronTickBufferSeconds", Kind::Float),
    ("schedulerCronMinIntervalSeconds", Kind::Float),
    ("storeRocksdbWriteBufferSize", Kind::Int),
    ("storeRocksdbMaxWriteBufferNumber", Kind::Int),
    ("storeRocksdbTargetFileSizeBase", Kind::Int),
    ("storeRocksdbBlockCacheSize", Kind::Int),
    ("storeRocksdbBlockCacheCompressedSize", Kind::Int),
    ("storeRocksdbBloomFilterSize", Kind::Int),
    ("storeRocksdbSetCacheIndexAndFilterBlocks", Kind::Bool),
    ("webBasePath", Kind::Str),
    ("webPort", Kind::Int),
    ("webMetricsBasePath", Kind::Str),
];

fn known(key: &str) -> Option<Kind> {
    KNOWN_KEYS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, kind)| *kind)
}

/// The variable of config key `key`, as upstream names it.
fn env_name(key: &str) -> String {
    let mut out = String::from("K_");
    if known(key).is_none() {
        out.push_str(&key.to_uppercase());
        return out;
    }
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// A config value as upstream writes it: its schema's type first (a float field holds `5.0`, a
/// boolean field `True`), then Python's `str()`.
fn env_value(key: &str, value: &Value) -> String {
    let typed = match (known(key), value) {
        (Some(Kind::Int), Value::String(s)) => s.trim().parse::<i64>().ok().map(Value::from),
        (Some(Kind::Int), Value::Number(n)) => n.as_f64().map(|f| Value::from(f.trunc() as i64)),
        (Some(Kind::Float), v) => v
            .as_f64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .map(|f| Value::String(python_float(f))),
        (Some(Kind::Bool), v) => truthy(v).map(Value::Bool),
        _ => None,
    };
    python_str(typed.as_ref().unwrap_or(value))
}

/// marshmallow's `Boolean` reading of a value (None when it is neither).
fn truthy(v: &Value) -> Option<bool> {
    const TRUE: &[&str] = &["t", "true", "on", "y", "yes", "1"];
    const FALSE: &[&str] = &["f", "false", "off", "n", "no", "0"];
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) if n.as_f64() == Some(1.0) => Some(true),
        Value::Number(n) if n.as_f64() == Some(0.0) => Some(false),
        Value::String(s) if TRUE.contains(&s.to_lowercase().as_str()) => Some(true),
        Value::String(s) if FALSE.contains(&s.to_lowercase().as_str()) => Some(false),
        _ => None,
    }
}

/// Python's `str()` of a float: `5.0`, `0.25`.
fn python_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

/// Python's `str()` of a JSON value: `True`/`False`, numbers as written, strings as they are,
/// lists and maps as Python prints them.
fn python_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => python_repr(other),
    }
}

fn python_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("'{k}': {}", python_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The authentication, when it turns SASL on: as upstream, `plain` without a username does not.
fn sasl(app: &KasprApp) -> Option<&KafkaAuthentication> {
    app.spec
        .authentication
        .as_ref()
        .filter(|a| a.kind != KafkaAuthenticationType::Plain || a.username.is_some())
}

/// The settings in upstream's order: the config keys (known ones in its schema's order, then
/// the others), then the operator's keys not already there. The kaspr container's variables
/// come in this order, as upstream lists them, so a taken-over pod template is unchanged.
/// A later value for a name already listed replaces it in place, as a Python dict update does.
fn settings(app: &KasprApp) -> Vec<(String, String)> {
    let mut entries = Entries::default();
    let config = app
        .spec
        .config
        .iter()
        .flatten()
        .filter(|(_, v)| !v.is_null());
    let (known_keys, other_keys): (Vec<_>, Vec<_>) = config.partition(|(k, _)| known(k).is_some());
    let mut known_keys = known_keys;
    known_keys.sort_by_key(|(k, _)| KNOWN_KEYS.iter().position(|(known, _)| known == k));
    for (k, v) in known_keys.into_iter().chain(other_keys) {
        entries.set(env_name(k), env_value(k, v));
    }
    let sasl = sasl(app);
    let tls = app.spec.tls.is_some();
    let protocol = match (sasl.is_some(), tls) {
        (false, false) => "PLAINTEXT",
        (false, true) => "SSL",
        (true, false) => "SASL_PLAINTEXT",
        (true, true) => "SASL_SSL",
    };
    entries.set("K_APP_NAME".into(), names::component(app));
    entries.set(
        "K_KAFKA_BOOTSTRAP_SERVERS".into(),
        app.spec.bootstrap_servers.clone(),
    );
    entries.set("K_KAFKA_SECURITY_PROTOCOL".into(), protocol.into());
    if let Some(auth) = sasl {
        let mechanism = match auth.kind {
            KafkaAuthenticationType::Plain => "PLAIN",
            KafkaAuthenticationType::ScramSha256 => "SCRAM-SHA-256",
            KafkaAuthenticationType::ScramSha512 => "SCRAM-SHA-512",
        };
        entries.set("K_KAFKA_SASL_MECHANISM".into(), mechanism.into());
        if let Some(user) = &auth.username {
            entries.set("K_KAFKA_AUTH_USERNAME".into(), user.clone());
        }
    }
    entries.set("K_WEB_PORT".into(), web_port(app).to_string());
    entries.set("K_DATA_DIR".into(), DATA_DIR.into());
    entries.set("K_TABLE_DIR".into(), table_dir(app));
    entries.set("K_DEFINITIONS_DIR".into(), DEFINITIONS_DIR.into());
    entries.0
}

/// Settings in insertion order, each name once.
#[derive(Default)]
struct Entries(Vec<(String, String)>);

impl Entries {
    fn set(&mut self, name: String, value: String) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = value,
            None => self.0.push((name, value)),
        }
    }
}

pub fn config_map(app: &KasprApp) -> ConfigMap {
    ConfigMap {
        metadata: metadata(app, names::config_map(app)),
        data: Some(settings(app).into_iter().collect()),
        ..Default::default()
    }
}

/// `CONFIG_HASH`: the hash of the ConfigMap's data, computed as upstream does (`compute_hash`:
/// the data as JSON with sorted keys, its unsigned 128-bit murmur3 in decimal, the first 16 hex
/// of that text's sha256), so a taken-over app keeps its value and its pods do not roll.
pub fn config_hash(cm: &ConfigMap) -> String {
    let data = cm.data.clone().unwrap_or_default();
    let json = python_json(&data);
    let murmur = murmur3::murmur3_x64_128(&mut json.as_bytes(), 0).unwrap_or_default();
    short_hash(&murmur.to_string())
}

/// `json.dumps` of a map of strings as Python writes it: `", "` and `": "` between items, and
/// every character outside ASCII escaped (`ensure_ascii`).
fn python_json(data: &BTreeMap<String, String>) -> String {
    let items: Vec<String> = data
        .iter()
        .map(|(k, v)| format!("{}: {}", python_json_str(k), python_json_str(v)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

fn python_json_str(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

/// First 16 hex characters of the sha256 of `text`.
pub fn short_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn value(name: &str, v: String) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(v),
        ..Default::default()
    }
}

/// The kaspr container's settings variables: the ConfigMap's keys, the Kafka password and the
/// static member id (upstream's order; `PYTHONPATH` comes next, then [`identity_env`]).
pub fn settings_env(app: &KasprApp) -> Vec<EnvVar> {
    let cm_name = names::config_map(app);
    let mut env: Vec<EnvVar> = settings(app)
        .into_iter()
        .map(|(key, _)| EnvVar {
            name: key.clone(),
            value_from: Some(EnvVarSource {
                config_map_key_ref: Some(ConfigMapKeySelector {
                    name: cm_name.clone(),
                    key: key.clone(),
                    optional: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    if let Some(secret) = sasl(app).and_then(|a| a.password_secret.as_ref()) {
        env.push(EnvVar {
            name: "K_KAFKA_AUTH_PASSWORD".into(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: secret.secret_name.clone(),
                    key: secret.password_key.clone(),
                    optional: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    if names::static_group_membership(app) {
        env.push(EnvVar {
            name: "K_CONSUMER_GROUP_INSTANCE_ID".into(),
            value_from: field_ref("metadata.name"),
            ..Default::default()
        });
    }
    env
}

/// The pod's own name and address, and the settings' hash.
pub fn identity_env(app: &KasprApp, cm: &ConfigMap) -> Vec<EnvVar> {
    let mut env = vec![EnvVar {
        name: "POD_NAME".into(),
        value_from: field_ref("metadata.name"),
        ..Default::default()
    }];
    let ns = app.namespace().unwrap_or_else(|| "default".into());
    env.push(value(
        "K_WEB_HOST",
        format!(
            "$(POD_NAME).{}.{ns}.svc.cluster.local",
            names::component(app)
        ),
    ));
    env.push(value("CONFIG_HASH", config_hash(cm)));
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_follow_upstream() {
        assert_eq!(env_name("webPort"), "K_WEB_PORT");
        assert_eq!(env_name("topicPartitions"), "K_TOPIC_PARTITIONS");
        assert_eq!(
            env_name("storeRocksdbWriteBufferSize"),
            "K_STORE_ROCKSDB_WRITE_BUFFER_SIZE"
        );
        // Keys upstream's schema does not know keep their spelling, upper-cased.
        assert_eq!(env_name("topic_partitions"), "K_TOPIC_PARTITIONS");
        assert_eq!(env_name("fooBar"), "K_FOOBAR");
        assert_eq!(env_name("auto.offset.reset"), "K_AUTO.OFFSET.RESET");
    }

    #[test]
    fn config_hash_is_upstreams_for_quotes_controls_and_non_ascii() {
        // Expected value from upstream's `compute_hash` (mmh3 5.1.0, jsonpickle) on this data.
        let data = [
            ("K_A", "say \"hi\"\\ \n\t\u{7f}"),
            ("K_B", "x\u{e9} \u{1F600}"),
            ("K_C", "/path"),
        ];
        let cm = ConfigMap {
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        };
        assert_eq!(
            python_json(cm.data.as_ref().expect("data")),
            r#"{"K_A": "say \"hi\"\\ \n\t\u007f", "K_B": "x\u00e9 \ud83d\ude00", "K_C": "/path"}"#
        );
        assert_eq!(config_hash(&cm), "a6c7e1e295a1b8ca");
    }

    #[test]
    fn values_as_upstream_types_them_then_python_str() {
        use serde_json::json;
        assert_eq!(env_value("x", &json!(true)), "True");
        assert_eq!(env_value("x", &json!(6)), "6");
        assert_eq!(env_value("x", &json!(1.5)), "1.5");
        assert_eq!(env_value("x", &json!("x")), "x");
        assert_eq!(env_value("x", &json!(["a", 1])), "['a', 1]");
        assert_eq!(
            env_value("schedulerCheckpointSaveIntervalSeconds", &json!(5)),
            "5.0"
        );
        assert_eq!(env_value("topicPartitions", &json!("3")), "3");
        assert_eq!(env_value("topicAllowDeclare", &json!("yes")), "True");
        assert_eq!(env_value("schedulerEnabled", &json!(0)), "False");
    }
}
