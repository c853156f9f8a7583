//! The app's settings: the `<name>-app-config` ConfigMap of `K_*` keys (as upstream), the image,
//! and the environment of the kaspr container.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapKeySelector, EnvVar, EnvVarSource, SecretKeySelector,
};
use kaspr_types::{KafkaAuthenticationType, KasprApp};
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

/// `config.webPort`, else 6065.
pub fn web_port(app: &KasprApp) -> i32 {
    config_value(app, "webPort")
        .and_then(Value::as_i64)
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

/// `webPort` -> `K_WEB_PORT`.
fn env_name(key: &str) -> String {
    let mut out = String::from("K_");
    for (i, c) in key.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(if c == '-' || c == '.' {
            '_'
        } else {
            c.to_ascii_uppercase()
        });
    }
    out
}

/// Config values as the Python operator wrote them (`str(value)`): `True`/`False` for booleans.
fn env_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The `K_*` settings of the app.
fn settings(app: &KasprApp) -> BTreeMap<String, String> {
    let mut data: BTreeMap<String, String> = app
        .spec
        .config
        .iter()
        .flatten()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (env_name(k), env_value(v)))
        .collect();
    let sasl = app.spec.authentication.as_ref();
    let tls = app.spec.tls.is_some();
    let protocol = match (sasl.is_some(), tls) {
        (false, false) => "PLAINTEXT",
        (false, true) => "SSL",
        (true, false) => "SASL_PLAINTEXT",
        (true, true) => "SASL_SSL",
    };
    data.insert("K_APP_NAME".into(), names::component(app));
    data.insert(
        "K_KAFKA_BOOTSTRAP_SERVERS".into(),
        app.spec.bootstrap_servers.clone(),
    );
    data.insert("K_KAFKA_SECURITY_PROTOCOL".into(), protocol.into());
    if let Some(auth) = sasl {
        let mechanism = match auth.kind {
            KafkaAuthenticationType::Plain => "PLAIN",
            KafkaAuthenticationType::ScramSha256 => "SCRAM-SHA-256",
            KafkaAuthenticationType::ScramSha512 => "SCRAM-SHA-512",
        };
        data.insert("K_KAFKA_SASL_MECHANISM".into(), mechanism.into());
        if let Some(user) = &auth.username {
            data.insert("K_KAFKA_AUTH_USERNAME".into(), user.clone());
        }
    }
    data.insert("K_WEB_PORT".into(), web_port(app).to_string());
    data.insert("K_DATA_DIR".into(), DATA_DIR.into());
    data.insert("K_TABLE_DIR".into(), table_dir(app));
    data.insert("K_DEFINITIONS_DIR".into(), DEFINITIONS_DIR.into());
    data
}

pub fn config_map(app: &KasprApp) -> ConfigMap {
    ConfigMap {
        metadata: metadata(app, names::config_map(app)),
        data: Some(settings(app)),
        ..Default::default()
    }
}

/// First 16 hex characters of the sha256 of the ConfigMap's data: a changed setting rolls the pods.
pub fn config_hash(cm: &ConfigMap) -> String {
    let text = serde_json::to_string(&cm.data).unwrap_or_default();
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

/// The kaspr container's environment before packages and the user's template are added.
pub fn kaspr_env(app: &KasprApp, cm: &ConfigMap) -> Vec<EnvVar> {
    let cm_name = names::config_map(app);
    let mut env: Vec<EnvVar> = cm
        .data
        .iter()
        .flatten()
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
    if let Some(secret) = app
        .spec
        .authentication
        .as_ref()
        .and_then(|a| a.password_secret.as_ref())
    {
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
    let static_membership_off = app
        .annotations()
        .get("kaspr.io/disable-static-group-membership")
        .is_some_and(|v| v == "true");
    if !static_membership_off {
        env.push(EnvVar {
            name: "K_CONSUMER_GROUP_INSTANCE_ID".into(),
            value_from: field_ref("metadata.name"),
            ..Default::default()
        });
    }
    env.push(EnvVar {
        name: "POD_NAME".into(),
        value_from: field_ref("metadata.name"),
        ..Default::default()
    });
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
        assert_eq!(env_name("topic_partitions"), "K_TOPIC_PARTITIONS");
    }

    #[test]
    fn values_as_python_str() {
        assert_eq!(env_value(&Value::Bool(true)), "True");
        assert_eq!(env_value(&serde_json::json!(6)), "6");
        assert_eq!(env_value(&serde_json::json!(1.5)), "1.5");
        assert_eq!(env_value(&serde_json::json!("x")), "x");
    }
}
