//! The CustomResourceDefinitions, as `cargo xtask crd` writes them to `crds/` (one file per
//! kind) and the operator installs them.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use kube::CustomResourceExt;

use crate::{KasprAgent, KasprJoin, KasprTable, KasprTask, KasprWebView};

/// The KasprAgent CRD.
pub fn agent_crd() -> CustomResourceDefinition {
    tidy(KasprAgent::crd())
}

/// The KasprTable CRD.
pub fn table_crd() -> CustomResourceDefinition {
    tidy(KasprTable::crd())
}

/// The KasprWebView CRD.
pub fn webview_crd() -> CustomResourceDefinition {
    tidy(KasprWebView::crd())
}

/// The KasprTask CRD.
pub fn task_crd() -> CustomResourceDefinition {
    tidy(KasprTask::crd())
}

/// The KasprJoin CRD.
pub fn join_crd() -> CustomResourceDefinition {
    tidy(KasprJoin::crd())
}

/// Descriptions come from doc comments, wrapped at 100 columns; `kubectl explain` wraps them
/// itself and would show the source's line breaks as well. Lines of a paragraph are joined;
/// paragraphs (blank lines) stay.
fn tidy(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        if let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            unwrap_descriptions(schema);
        }
    }
    crd
}

fn unwrap_descriptions(schema: &mut JSONSchemaProps) {
    if let Some(d) = schema.description.as_mut() {
        *d = d
            .split("\n\n")
            .map(|paragraph| {
                paragraph
                    .split('\n')
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n\n");
    }
    for child in schema.properties.iter_mut().flat_map(|p| p.values_mut()) {
        unwrap_descriptions(child);
    }
    if let Some(JSONSchemaPropsOrArray::Schema(items)) = schema.items.as_mut() {
        unwrap_descriptions(items);
    }
    if let Some(JSONSchemaPropsOrBool::Schema(extra)) = schema.additional_properties.as_mut() {
        unwrap_descriptions(extra);
    }
}

/// Every component CRD with the file `cargo xtask crd` writes it to, under `crds/`:
/// `kaspragent.crd.yaml`, `kasprtable.crd.yaml`, `kasprwebview.crd.yaml`, `kasprtask.crd.yaml`,
/// `kasprjoin.crd.yaml` (upstream's file names).
pub fn crds() -> Vec<(&'static str, CustomResourceDefinition)> {
    vec![
        ("kaspragent.crd.yaml", agent_crd()),
        ("kasprtable.crd.yaml", table_crd()),
        ("kasprwebview.crd.yaml", webview_crd()),
        ("kasprtask.crd.yaml", task_crd()),
        ("kasprjoin.crd.yaml", join_crd()),
    ]
}
