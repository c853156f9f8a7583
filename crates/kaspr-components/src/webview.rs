//! `KasprWebView`: an HTTP endpoint of a Kaspr app.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{CodeSpec, Processors, TableUse, TopicSend};
use crate::status::ComponentStatus;
use crate::validate::{self, Report, limits, patterns, rules, syntax};

/// An HTTP endpoint of a Kaspr app, served by every member: each request runs through a pipeline
/// of Python operations (which may read tables), and the result becomes the response.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "kaspr.io",
    version = "v1alpha1",
    kind = "KasprWebView",
    plural = "kasprwebviews",
    singular = "kasprwebview",
    shortname = "kwebviews",
    shortname = "kwebview",
    category = "kaspr",
    namespaced,
    status = "ComponentStatus",
    derive = "Default",
    derive = "PartialEq",
    doc = "An HTTP endpoint of the KasprApp named by its `kaspr.io/app` label: each request runs through a pipeline of Python operations, whose result becomes the response.",
    printcolumn = r#"{"name":"App","type":"string","jsonPath":".metadata.labels.kaspr\\.io/app"}"#,
    printcolumn = r#"{"name":"Method","type":"string","jsonPath":".spec.request.method"}"#,
    printcolumn = r#"{"name":"Path","type":"string","jsonPath":".spec.request.path"}"#,
    printcolumn = r#"{"name":"App Status","type":"string","jsonPath":".status.app.status"}"#,
    printcolumn = r#"{"name":"Hash","type":"string","jsonPath":".status.hash","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KasprWebViewSpec {
    /// Ignored: the web view is named after its `metadata.name` (upstream overwrites this field
    /// with it too). Accepted so that manifests written for upstream, which requires it, apply
    /// unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub name: Option<String>,
    /// A short description of what this web view does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The requests this web view answers: an HTTP method and a path.
    pub request: WebViewRequest,
    /// How the pipeline's result (or error) becomes the HTTP response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<WebViewResponse>,
    /// The pipeline each request runs through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processors: Option<WebViewProcessors>,
}

/// The processors of a web view.
pub type WebViewProcessors = Processors<TopicSend>;

/// The requests a web view answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebViewRequest {
    /// The HTTP method.
    pub method: HttpMethod,
    /// The URL path, starting with `/`; `{name}` segments are passed to the first operation as
    /// arguments, e.g. `/api/v1/metrics/{dimension}`.
    #[schemars(regex(pattern = patterns::URL_PATH))]
    pub path: String,
}

impl Default for WebViewRequest {
    fn default() -> Self {
        WebViewRequest {
            method: HttpMethod::Get,
            path: "/".to_owned(),
        }
    }
}

/// An HTTP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::common::field_describes)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// DELETE.
    Delete,
    /// PATCH.
    Patch,
    /// HEAD.
    Head,
    /// OPTIONS.
    Options,
}

/// How a web view's result becomes the HTTP response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebViewResponse {
    /// The response's content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<ContentType>,
    /// The HTTP status code on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 100, max = 599))]
    pub status_code: Option<i32>,
    /// Headers of every response, name to value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend(
        "maxProperties" = limits::MAX_HEADERS,
        "additionalProperties" = {
            "type": "string",
            "maxLength": limits::MAX_HEADER_VALUE_LEN,
            "pattern": patterns::HEADER_VALUE
        },
        "x-kubernetes-validations" = [{
            "rule": rules::HEADER_NAMES,
            "message": "header names must be HTTP tokens: letters, digits and !#$%&'*+-.^_`|~"
        }]
    ))]
    pub headers: BTreeMap<String, String>,
    /// Python code returning the response body, on success and on error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_selector: Option<ResponseSelector>,
    /// Python code returning the status code, on success and on error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code_selector: Option<ResponseSelector>,
    /// Python code returning the headers, on success and on error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers_selector: Option<ResponseSelector>,
}

/// The content type of a web view's responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::common::field_describes)]
pub enum ContentType {
    /// `text/html`.
    #[serde(rename = "text/html")]
    Html,
    /// `application/json`.
    #[serde(rename = "application/json")]
    Json,
    /// `text/plain`.
    #[serde(rename = "text/plain")]
    Text,
    /// `application/octet-stream`.
    #[serde(rename = "application/octet-stream")]
    OctetStream,
}

/// Python code for part of a response: on success (given the pipeline's result), on error
/// (given the exception), or both.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": rules::SUCCESS_OR_ERROR,
    "message": "set onSuccess, onError or both"
}]))]
pub struct ResponseSelector {
    /// Python code run on success, given the pipeline's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_success: Option<CodeSpec>,
    /// Python code run on error, given the exception.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<CodeSpec>,
}

impl KasprWebViewSpec {
    /// Checks the spec: every rule of the CRD schema serde does not enforce, and beyond it. Each
    /// error names its field, e.g. `spec.request.path`.
    pub fn check(&self) -> Result<(), validate::ValidationErrors> {
        let mut r = Report::default();
        if let Some(name) = &self.name {
            r.non_empty("spec.name", name, "the web view's name, or leave name out");
        }
        let path = &self.request.path;
        if !path.starts_with('/') || path.chars().any(char::is_whitespace) {
            r.add(
                "spec.request.path",
                format!(
                    "{} is not a URL path; start it with '/' and use no whitespace, e.g. \
                     \"/api/v1/metrics/{{dimension}}\"",
                    syntax::shown(path)
                ),
            );
        }
        if let Some(resp) = &self.response {
            if let Some(code) = resp.status_code.filter(|c| !(100..=599).contains(c)) {
                r.add(
                    "spec.response.statusCode",
                    format!("{code} is not an HTTP status code; accepted: 100 to 599"),
                );
            }
            r.at_most(
                "spec.response.headers",
                resp.headers.len(),
                limits::MAX_HEADERS,
                "headers",
            );
            for (name, value) in &resp.headers {
                let p = format!("spec.response.headers[{name}]");
                r.field(&p, syntax::header_name(name));
                r.field(&p, syntax::header_value(value));
                if value.len() > limits::MAX_HEADER_VALUE_LEN {
                    r.add(
                        &p,
                        format!("longer than {} bytes", limits::MAX_HEADER_VALUE_LEN),
                    );
                }
            }
            for (field, selector) in resp.selectors() {
                let Some(s) = selector else { continue };
                let p = format!("spec.response.{field}");
                if s.on_success.is_none() && s.on_error.is_none() {
                    r.add(&p, "set onSuccess, onError or both");
                }
                validate::code_opt(&mut r, &format!("{p}.onSuccess"), s.on_success.as_ref());
                validate::code_opt(&mut r, &format!("{p}.onError"), s.on_error.as_ref());
            }
        }
        if let Some(p) = &self.processors {
            validate::processors(&mut r, "spec.processors", p, |r, path, send| {
                send.check(r, path)
            });
        }
        r.finish()
    }

    /// Things that are allowed but probably not what was meant.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(p) = &self.processors {
            validate::processor_warnings("spec.processors", p, &mut out);
        }
        for (path, code) in self.code() {
            validate::entrypoint_warning(&path, Some(code), &mut out);
        }
        out
    }

    /// Every table the web view's operations use.
    pub fn table_uses(&self) -> Vec<TableUse> {
        self.processors
            .as_ref()
            .map(|p| p.table_uses("spec.processors"))
            .unwrap_or_default()
    }

    /// Every block of Python code, with its field path.
    pub fn code(&self) -> Vec<(String, &CodeSpec)> {
        let mut out = Vec::new();
        if let Some(resp) = &self.response {
            for (field, selector) in resp.selectors() {
                let Some(s) = selector else { continue };
                if let Some(c) = &s.on_success {
                    out.push((format!("spec.response.{field}.onSuccess"), c));
                }
                if let Some(c) = &s.on_error {
                    out.push((format!("spec.response.{field}.onError"), c));
                }
            }
        }
        if let Some(p) = &self.processors {
            crate::common::processors_code(&mut out, "spec.processors", p, |out, path, s| {
                s.code(out, path)
            });
        }
        out
    }
}

impl WebViewResponse {
    fn selectors(&self) -> [(&'static str, Option<&ResponseSelector>); 3] {
        [
            ("bodySelector", self.body_selector.as_ref()),
            ("statusCodeSelector", self.status_code_selector.as_ref()),
            ("headersSelector", self.headers_selector.as_ref()),
        ]
    }
}
