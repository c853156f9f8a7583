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
            fix_formats(schema);
        }
    }
    crd
}

fn fix_formats(schema: &mut JSONSchemaProps) {
    schema.format = match schema.format.take().as_deref() {
        Some("uint32") | Some("uint16") | Some("uint8") => Some("int32".to_owned()),
        Some("uint64") | Some("uint") => Some("int64".to_owned()),
        other => other.map(str::to_owned),
    };
    for child in schema.properties.iter_mut().flat_map(|p| p.values_mut()) {
        fix_formats(child);
    }
    if let Some(JSONSchemaPropsOrArray::Schema(items)) = schema.items.as_mut() {
        fix_formats(items);
    }
    if let Some(JSONSchemaPropsOrBool::Schema(extra)) = schema.additional_properties.as_mut() {
        fix_formats(extra);
    }
    for sub in [&mut schema.all_of, &mut schema.any_of, &mut schema.one_of]
        .into_iter()
        .flatten()
    {
        sub.iter_mut().for_each(fix_formats);
    }
}
