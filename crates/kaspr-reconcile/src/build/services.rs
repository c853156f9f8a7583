//! ServiceAccount, headless Service (stable pod DNS) and the API Service (web port).

use k8s_openapi::api::core::v1::{Service, ServiceAccount, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kaspr_types::{KasprApp, MetadataTemplate, ObjectMetadata};

use super::config::web_port;
use super::metadata;
use crate::names;

/// The labels and annotations a `template.*.metadata` asks for (empty when unset).
fn template_metadata(t: Option<&MetadataTemplate>) -> ObjectMetadata {
    t.and_then(|t| t.metadata.clone()).unwrap_or_default()
}

pub fn service_account(app: &KasprApp) -> ServiceAccount {
    let mut meta = metadata(app, names::component(app));
    let template = app
        .spec
        .template
        .as_ref()
        .and_then(|t| t.service_account.as_ref());
    let wanted = template_metadata(template);
    // As upstream: the template's labels win on the ServiceAccount.
    meta.labels.get_or_insert_default().extend(wanted.labels);
    meta.annotations = (!wanted.annotations.is_empty()).then_some(wanted.annotations);
    ServiceAccount {
        metadata: meta,
        ..Default::default()
    }
}

fn service(app: &KasprApp, name: String, headless: bool) -> Service {
    let mut meta = metadata(app, name);
    let wanted = template_metadata(app.spec.template.as_ref().and_then(|t| t.service.as_ref()));
    // As upstream: our labels win on Services.
    let mut labels = wanted.labels;
    labels.extend(meta.labels.take().unwrap_or_default());
    meta.labels = Some(labels);
    meta.annotations = (!wanted.annotations.is_empty()).then_some(wanted.annotations);
    let port = web_port(app);
    Service {
        metadata: meta,
        spec: Some(ServiceSpec {
            type_: (!headless).then(|| "ClusterIP".to_owned()),
            cluster_ip: headless.then(|| "None".to_owned()),
            publish_not_ready_addresses: headless.then_some(true),
            selector: Some(names::selector_labels(app)),
            ports: Some(vec![ServicePort {
                name: Some("http".to_owned()),
                protocol: Some("TCP".to_owned()),
                port,
                target_port: Some(IntOrString::Int(port)),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

/// `<name>-app`, headless: gives each replica a stable DNS name.
pub fn headless_service(app: &KasprApp) -> Service {
    service(app, names::component(app), true)
}

/// `<name>-app-api`: ClusterIP on the web port (6065 unless `config.webPort` says otherwise).
pub fn api_service(app: &KasprApp) -> Service {
    service(app, names::api_service(app), false)
}
