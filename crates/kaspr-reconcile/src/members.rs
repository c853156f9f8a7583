//! The app's members through their Kaspr web API, as upstream reads them: `GET /status/` on
//! every available pod (leader, rebalancing, recovering) and `POST /signal/rebalance` to the
//! leader. Plain HTTP inside the cluster, to `<pod>.<headless service>.<namespace>.svc`.
//!
//! A member that does not answer within the timeout is left out of the status (as upstream);
//! nothing here fails a reconcile.

use std::time::Duration;

use bytes::Bytes;
use futures::future::join_all;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kaspr_types::KasprApp;
use kube::ResourceExt;
use serde::Deserialize;

use crate::build::web_port;
use crate::names;

/// Where a member's web API is, with `{pod}`, `{index}`, `{service}`, `{namespace}` and
/// `{port}` filled in. Tests point it at a local server.
pub const DEFAULT_ADDRESS: &str = "http://{pod}.{service}.{namespace}.svc.cluster.local:{port}";
/// The whole round of status calls (upstream's `CLIENT_STATUS_CHECK_TIMEOUT_SECONDS`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// How members are asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberCheck {
    /// Upstream's `CLIENT_STATUS_CHECK_ENABLED` (default true).
    pub enabled: bool,
    /// For every call of one round together.
    pub timeout: Duration,
    /// See [`DEFAULT_ADDRESS`].
    pub address: String,
}

impl Default for MemberCheck {
    fn default() -> Self {
        Self {
            enabled: true,
            timeout: DEFAULT_TIMEOUT,
            address: DEFAULT_ADDRESS.to_owned(),
        }
    }
}

/// What one member said about itself (its `GET /status/`; other fields are ignored).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct MemberReport {
    /// The pod's ordinal (not part of the answer: the pod asked).
    #[serde(skip)]
    pub id: u32,
    #[serde(default)]
    pub leader: Option<bool>,
    #[serde(default)]
    pub rebalancing: Option<bool>,
    #[serde(default)]
    pub recovering: Option<bool>,
}

/// The HTTP client of the member calls.
#[derive(Clone)]
pub struct Members {
    check: MemberCheck,
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl Members {
    pub fn new(check: MemberCheck) -> Self {
        Self {
            check,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.check.enabled
    }

    /// The base URL of member `id` of `app`.
    fn base(&self, app: &KasprApp, id: u32) -> String {
        let service = names::component(app);
        self.check
            .address
            .replace("{pod}", &format!("{service}-{id}"))
            .replace("{index}", &id.to_string())
            .replace("{service}", &service)
            .replace("{namespace}", &app.namespace().unwrap_or_default())
            .replace("{port}", &web_port(app).to_string())
    }

    /// Members `0..available` that answered, by id.
    pub async fn statuses(&self, app: &KasprApp, available: u32) -> Vec<MemberReport> {
        if !self.check.enabled || available == 0 {
            return Vec::new();
        }
        let calls = (0..available).map(|id| async move {
            let url = format!("{}/status/", self.base(app, id));
            match self.call(http::Method::GET, &url).await {
                Ok(body) => match serde_json::from_slice::<MemberReport>(&body) {
                    Ok(report) => Some(MemberReport { id, ..report }),
                    Err(e) => {
                        tracing::warn!(member = id, error = %e, "member status is not the expected JSON");
                        None
                    }
                },
                Err(e) => {
                    tracing::warn!(member = id, error = %e, "member status call failed");
                    None
                }
            }
        });
        match tokio::time::timeout(self.check.timeout, join_all(calls)).await {
            Ok(reports) => reports.into_iter().flatten().collect(),
            Err(_) => {
                tracing::warn!(timeout = ?self.check.timeout, "member status calls timed out");
                Vec::new()
            }
        }
    }

    /// Asks member `leader` to rebalance the group.
    pub async fn rebalance(&self, app: &KasprApp, leader: u32) -> Result<(), String> {
        let url = format!("{}/signal/rebalance", self.base(app, leader));
        tokio::time::timeout(self.check.timeout, self.call(http::Method::POST, &url))
            .await
            .map_err(|_| format!("no answer from {url} within {:?}", self.check.timeout))?
            .map(|_| ())
    }

    /// One call; a status other than 2xx is an error naming it.
    async fn call(&self, method: http::Method, url: &str) -> Result<Bytes, String> {
        let request = http::Request::builder()
            .method(method)
            .uri(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("{url}: {e}"))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{url}: {e}"))?
            .to_bytes();
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("{url} answered {status}"))
        }
    }
}
