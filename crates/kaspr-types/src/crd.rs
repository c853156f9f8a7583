//! The CustomResourceDefinition, as `cargo xtask crd` writes it and the operator installs it.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use kube::CustomResourceExt;

use crate::KasprApp;

/// The KasprApp CRD.
///
/// schemars marks unsigned integers with the formats `uint32`/`uint64`, which the API server does
/// not know (it warns on every apply); the `minimum: 0` next to them already says what they mean,
/// so they become the formats Kubernetes knows.
pub fn crd() -> CustomResourceDefinition {
    let mut crd = KasprApp::crd();
    for version in &mut crd.spec.versions {
        if let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            tidy_schema(schema);
            // kube-derive describes the root with a placeholder; `kubectl explain kasprapp`
            // shows this instead.
            schema.description = Some(ROOT_DESCRIPTION.to_owned());
        }
    }
    crd
}

/// What `kubectl explain kasprapp` says a KasprApp is.
const ROOT_DESCRIPTION: &str = "A KasprApp runs a Kaspr application (Kafka streams in Python) \
     as a StatefulSet of members: its settings, Kafka connection and security, table storage, \
     pod template, and the Python packages every member can import (spec.pythonPackages). Its \
     agents, tables, web views, tasks and joins are separate resources labelled \
     kaspr.io/app: <name>.";

fn tidy_schema(schema: &mut JSONSchemaProps) {
    // Doc comments wrap at 100 columns; `kubectl explain` wraps again, so a line break inside
    // a paragraph would show as a ragged line. Paragraphs (blank lines) stay.
    if let Some(d) = schema.description.as_mut() {
        *d = d
            .split("\n\n")
            .map(|p| p.split('\n').map(str::trim).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n\n");
    }
    schema.format = match schema.format.take().as_deref() {
        Some("uint32") | Some("uint16") | Some("uint8") => Some("int32".to_owned()),
        Some("uint64") | Some("uint") => Some("int64".to_owned()),
        other => other.map(str::to_owned),
    };
    for child in schema.properties.iter_mut().flat_map(|p| p.values_mut()) {
        tidy_schema(child);
    }
    if let Some(JSONSchemaPropsOrArray::Schema(items)) = schema.items.as_mut() {
        tidy_schema(items);
    }
    if let Some(JSONSchemaPropsOrBool::Schema(extra)) = schema.additional_properties.as_mut() {
        tidy_schema(extra);
    }
    for sub in [&mut schema.all_of, &mut schema.any_of, &mut schema.one_of]
        .into_iter()
        .flatten()
    {
        sub.iter_mut().for_each(tidy_schema);
    }
}
