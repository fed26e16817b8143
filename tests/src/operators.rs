//! The operators' channel as the tests use it: the demo market with an
//! `[admin]` listener on loopback and operator 9, and that operator's
//! client.

use cetx_gateway::admin::AdminClient;
use cetx_gateway::config::{ServerConfig, DEFAULT_TOML};

use crate::server::TestServer;

/// The operator of [`config_with`]'s market.
pub const OPERATOR: u32 = 9;

/// Operator 9's secret in [`config_with`]'s market.
pub const OPERATOR_SECRET: &str = "operator-secret-9";

/// The demo market with an operators' channel on 127.0.0.1:0 and
/// operator 9.
#[must_use]
pub fn config() -> ServerConfig {
    config_with("")
}

/// [`config`] with `more` TOML at its end.
///
/// # Panics
/// When `more` makes the config invalid.
#[must_use]
pub fn config_with(more: &str) -> ServerConfig {
    let text = format!(
        "{DEFAULT_TOML}\n[admin]\nlisten = \"127.0.0.1:0\"\n\n[[operators]]\nid = {OPERATOR}\nname = \"desk\"\nsecret = \"{OPERATOR_SECRET}\"\n{more}"
    );
    ServerConfig::from_toml_str(&text).expect("a valid config")
}

/// Operator 9, logged in to `server`'s operators' channel.
///
/// # Panics
/// When the server has no channel or the login fails.
pub async fn operator(server: &TestServer) -> AdminClient {
    AdminClient::connect(
        server.admin.expect("an operators' channel"),
        OPERATOR,
        OPERATOR_SECRET,
    )
    .await
    .expect("the operator logs in")
}
