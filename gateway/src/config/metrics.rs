//! `[metrics]`: the Prometheus endpoint (`docs/OPERATIONS.md`).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// `[metrics]`: where `GET /metrics` is served in Prometheus's text format.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// Address and port of the endpoint.
    #[serde(deserialize_with = "super::values::listen")]
    pub listen: SocketAddr,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9100)),
        }
    }
}
