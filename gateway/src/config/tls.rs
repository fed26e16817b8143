//! `[server.tls]`: TLS on the broker port (`docs/CONFIG.md`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[server.tls]`: the server's certificate chain and private key, PEM
/// files; brokers then connect with TLS only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// The certificate chain, the server's own first; relative to the
    /// directory the server starts in.
    pub cert: PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates (PEM) that sign brokers' client certificates:
    /// mutual TLS. A broker with `tls_name` must then present one valid
    /// for that name; without this key no client certificate is asked for.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}
