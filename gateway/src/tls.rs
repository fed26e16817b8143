//! TLS on the broker port (`[server.tls]`) and in the Rust client, with
//! rustls through tokio-rustls and ring as the crypto provider.
//!
//! The server loads a PEM certificate chain and its private key once, at
//! start, into a [`TlsAcceptor`]; each connection's handshake then runs in
//! its session task, within the login timeout and while it holds its
//! pending-login slot, so a peer that never finishes one costs what an
//! idle plain connection costs. Both sides speak TLS 1.2 and 1.3.
//!
//! With `client_ca`, the server also asks for client certificates signed
//! by that CA (mutual TLS); a broker whose config names a `tls_name` then
//! logs in only with a certificate valid for that name, besides its
//! secret.
//!
//! [`Stream`] is a connection either way, plain or TLS, so that the
//! session and the client frame one type.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, crypto, RootCertStore};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("reading {what} {path}: {source}")]
    Read {
        /// Which file it was meant to be.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A file held no PEM item of the kind wanted, or a bad one.
    #[error("{path}: {why}")]
    Pem {
        /// Its path.
        path: PathBuf,
        /// What was wrong.
        why: String,
    },
    /// rustls refused the certificates or key.
    #[error("setting up TLS: {0}")]
    Rustls(#[from] rustls::Error),
    /// The key is not the certificate's.
    #[error("the private key {} is not the key of the certificate {} ({why})", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        why: rustls::Error,
    },
    /// A file's path is empty, or only spaces (`cert = ""`).
    #[error("{0}: the path is empty")]
    EmptyPath(&'static str),
    /// The name to check the server's certificate against is not a DNS
    /// name or an IP address.
    #[error("invalid TLS server name {0:?}")]
    ServerName(String),
}

fn provider() -> Arc<crypto::CryptoProvider> {
    Arc::new(crypto::ring::default_provider())
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    if path.to_str().is_some_and(|p| p.trim().is_empty()) {
        return Err(TlsError::EmptyPath(what));
    }
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// The CA certificates in the PEM file at `ca`, as trust anchors; `what`
/// names the file in errors.
fn roots(what: &'static str, ca: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certificates(what, ca)? {
        roots.add(cert)?;
    }
    Ok(roots)
}

/// The private key in the PEM file at `path`; `what` names the file in
/// errors.
fn load_key(what: &'static str, path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(what, path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::Pem {
        path: path.to_path_buf(),
        why: format!(
            "no private key ({e}): it must hold an unencrypted PKCS#8, PKCS#1 or SEC1 key in PEM"
        ),
    })
}

/// Every certificate in the PEM file at `path`, in order; `what` names
/// the file (and the key or option that gave it) in errors.
///
/// # Errors
/// [`TlsError`] when it cannot be read or holds no certificate.
pub fn load_certificates(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_path_buf(),
            why: "no CERTIFICATE in the file".into(),
        });
    }
    Ok(certs)
}

/// How close to its end a certificate is warned about: 30 days.
const EXPIRES_SOON_S: i64 = 30 * 86_400;

/// What is wrong with the dates of the first certificate in the PEM file
/// at `path` at `now_s` (seconds since the epoch): expired, not valid yet,
/// or ending within 30 days. `None` when they are fine, or when the file
/// cannot be read or parsed (loading it says why).
#[must_use]
pub fn validity_warning(path: &Path, now_s: i64) -> Option<String> {
    let certs = load_certificates("the certificate file", path).ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(certs.first()?.as_ref()).ok()?;
    let validity = cert.validity();
    let (from, until) = (validity.not_before, validity.not_after);
    if until.timestamp() <= now_s {
        Some(format!("it expired on {until}: every client refuses it"))
    } else if from.timestamp() > now_s {
        Some(format!(
            "it is not valid before {from}: every client refuses it until then"
        ))
    } else if until.timestamp() - now_s < EXPIRES_SOON_S {
        let days = (until.timestamp() - now_s) / 86_400;
        Some(format!(
            "it expires on {until}, in {days} days: every client will refuse it from then; renew it"
        ))
    } else {
        None
    }
}

/// The server side: the certificate chain at `cert` (PEM, the server's
/// first) and its private key at `key` (PEM: PKCS#8, PKCS#1 or SEC1).
/// With `client_ca`, a client may present a certificate, which must then
/// be signed by a CA in that PEM file; one without a certificate is let
/// in too, and the login decides (a broker with `tls_name` needs one).
///
/// # Errors
/// [`TlsError`] when a file cannot be read or parsed, or the key does not
/// fit the certificate.
pub fn server(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<ServerTls, TlsError> {
    let certs = load_certificates("the certificate file (cert)", cert)?;
    let key_der = load_key("the private key file (key)", key)?;
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots("the client CA file (client_ca)", ca)?),
                provider(),
            )
            .allow_unauthenticated()
            .build()
            .map_err(|e| TlsError::Pem {
                path: ca.to_path_buf(),
                why: e.to_string(),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(certs, key_der)
        .map_err(|why| TlsError::KeyMismatch {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            why,
        })?;
    Ok(ServerTls(TlsAcceptor::from(Arc::new(config))))
}

/// What the server needs to accept TLS connections; cheap to clone.
#[derive(Clone)]
pub struct ServerTls(TlsAcceptor);

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Runs the server's handshake on `stream`.
    ///
    /// # Errors
    /// The handshake's failure (a peer that does not speak TLS, say), its
    /// alert sent: close the connection with [`HandshakeFailed::close`].
    pub async fn accept(&self, stream: TcpStream) -> Result<Stream, HandshakeFailed> {
        match self.0.accept(Tcp(stream)).into_fallible().await {
            Ok(tls) => Ok(Stream::Tls(Box::new(tls.into()))),
            Err((error, Tcp(stream))) => Err(HandshakeFailed {
                error,
                stream: Stream::Plain(stream),
            }),
        }
    }
}

/// A TLS handshake that failed: why, and the connection, its alert sent.
#[derive(Debug)]
pub struct HandshakeFailed {
    /// Why it failed.
    pub error: io::Error,
    stream: Stream,
}

impl HandshakeFailed {
    /// Closes the connection as a session's end does: this side shut,
    /// then what the client still sends read and dropped, for up to
    /// [`HANDSHAKE_CLOSE_WAIT`] or until it closes too, so that what it
    /// sent behind its side of the handshake does not reset the connection
    /// and lose the alert (a client whose certificate is refused is told
    /// so, not `Broken pipe`). Call it once the failure is logged.
    pub async fn close(mut self) {
        if tokio::io::AsyncWriteExt::shutdown(&mut self.stream)
            .await
            .is_ok()
        {
            self.stream.drain_unread(HANDSHAKE_CLOSE_WAIT).await;
        }
    }
}

/// The client side: trusts the CA certificates in the PEM file at `ca`
/// (only those: a private exchange's CA, not the system's), and checks
/// the server's certificate against `server_name` (a DNS name or an IP
/// address).
///
/// # Errors
/// [`TlsError`] when the file cannot be read or parsed, or the name is
/// neither.
pub fn client(ca: &Path, server_name: &str) -> Result<ClientTls, TlsError> {
    client_with(ca, server_name, None)
}

/// [`client`] that also presents the client certificate chain at `cert`
/// with its key at `key` (PEM), for a server with `client_ca` and a broker
/// with `tls_name`.
///
/// # Errors
/// As [`client`], and for the certificate and key as [`server`].
pub fn client_with_certificate(
    ca: &Path,
    server_name: &str,
    cert: &Path,
    key: &Path,
) -> Result<ClientTls, TlsError> {
    client_with(ca, server_name, Some((cert, key)))
}

fn client_with(
    ca: &Path,
    server_name: &str,
    identity: Option<(&Path, &Path)>,
) -> Result<ClientTls, TlsError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots("the CA file (--tls-ca)", ca)?);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                load_certificates("the client certificate file (--tls-cert)", cert)?,
                load_key("the client key file (--tls-key)", key)?,
            )
            .map_err(|why| TlsError::KeyMismatch {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
                why,
            })?,
    };
    let server_name = ServerName::try_from(server_name.to_owned())
        .map_err(|_| TlsError::ServerName(server_name.to_owned()))?;
    Ok(ClientTls {
        connector: TlsConnector::from(Arc::new(config)),
        server_name,
    })
}

/// What a client needs to open TLS connections to one server; cheap to
/// clone.
#[derive(Clone)]
pub struct ClientTls {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// Runs the client's handshake on `stream`.
    ///
    /// # Errors
    /// The handshake's failure (a certificate that does not check out,
    /// say) as an I/O error; an answer that is no TLS record says that
    /// the port speaks plain TCP.
    pub async fn connect(&self, stream: TcpStream) -> io::Result<Stream> {
        let tls = self
            .connector
            .connect(self.server_name.clone(), Tcp(stream))
            .await
            .map_err(|error| {
                let not_tls = error
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<tokio_rustls::rustls::Error>())
                    .is_some_and(|inner| {
                        matches!(
                            inner,
                            tokio_rustls::rustls::Error::InvalidMessage(
                                tokio_rustls::rustls::InvalidMessage::InvalidContentType
                            )
                        )
                    });
                if not_tls {
                    io::Error::new(
                        error.kind(),
                        format!("{error} (the answer is no TLS record: the port speaks plain TCP; leave out the TLS options for it, or use the port of its [server.tls] or [admin.tls])"),
                    )
                } else {
                    error
                }
            })?;
        Ok(Stream::Tls(Box::new(tls.into())))
    }
}

/// A broker connection, plain TCP or TLS over it.
///
/// Its writes never raise `SIGPIPE`: each is a `send` (the standard
/// library's) or a `sendmsg` ([`Tcp`]) with `MSG_NOSIGNAL`, never a
/// `writev`, which has no such flag. A one-shot command (`cetx admin`,
/// `cetx order`) takes `SIGPIPE`'s default action for its standard output
/// ([`crate::sigpipe`]), and a `writev` to a server that had just stopped
/// killed it silently, its last answers unprinted (an outside tester's
/// `cetx admin batch`: 126 rows applied with no line). A write to a
/// closed connection is an error to report instead. A plain connection
/// writes one buffer a call (a frame codec writes one contiguous buffer).
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP (either side's).
    Tls(Box<tokio_rustls::TlsStream<Tcp>>),
}

/// TCP under TLS, and under the market-data client's codec: a write never
/// raises `SIGPIPE`, one buffer a `send` or several a `sendmsg`, each with
/// `MSG_NOSIGNAL` (TLS writes its records several at a time: reviewer
/// 160 F7).
#[derive(Debug)]
pub struct Tcp(TcpStream);

/// Sends `bufs` (as many as one call takes) on `socket` with
/// `MSG_NOSIGNAL`: `writev` without the signal.
fn send_vectored(socket: &TcpStream, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let count = bufs.len().min(1024);
    // SAFETY: `IoSlice` has `iovec`'s layout on Unix (the standard
    // library's promise); `message` points at `count` of them, which
    // outlive the call, and at nothing else; `sendmsg` only reads them.
    #[allow(unsafe_code)]
    let sent = unsafe {
        let mut message: libc::msghdr = std::mem::zeroed();
        message.msg_iov = bufs.as_ptr().cast_mut().cast();
        message.msg_iovlen = count;
        libc::sendmsg(socket.as_raw_fd(), &raw const message, libc::MSG_NOSIGNAL)
    };
    usize::try_from(sent).map_err(|_| io::Error::last_os_error())
}

impl From<TcpStream> for Tcp {
    fn from(stream: TcpStream) -> Self {
        Self(stream)
    }
}

impl AsyncRead for Tcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let socket = &self.get_mut().0;
        loop {
            std::task::ready!(socket.poll_write_ready(cx))?;
            let sent = socket.try_io(tokio::io::Interest::WRITABLE, || {
                send_vectored(socket, bufs)
            });
            match sent {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                sent => return Poll::Ready(sent),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl Stream {
    /// The TCP socket underneath.
    #[must_use]
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(stream) => stream,
            Self::Tls(stream) => &stream.get_ref().0 .0,
        }
    }

    /// Whether the peer presented a certificate (checked against the
    /// server's `client_ca` in the handshake) that is valid for `name`, a
    /// DNS name or an IP address among its subject alternative names.
    #[must_use]
    pub fn peer_certificate_is_for(&self, name: &str) -> bool {
        let Self::Tls(stream) = self else {
            return false;
        };
        let Some(cert) = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
        else {
            return false;
        };
        let Ok(name) = ServerName::try_from(name) else {
            return false;
        };
        webpki::EndEntityCert::try_from(cert)
            .is_ok_and(|cert| cert.verify_is_valid_for_subject_name(&name).is_ok())
    }

    /// Reads and drops what the peer still sends, until it closes its side
    /// too, `wait` has passed or [`DRAIN_MAX_BYTES`] have come: call it
    /// once this side is shut down, before dropping the connection. A
    /// socket closed with unread input is reset, and a reset throws away
    /// what the peer has not read yet: the answers to its last requests.
    pub async fn drain_unread(&mut self, wait: std::time::Duration) {
        use tokio::io::AsyncReadExt;
        let drain = async {
            let mut buffer = [0; 4096];
            let mut left = DRAIN_MAX_BYTES;
            while left > 0 {
                match self.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => left = left.saturating_sub(n),
                }
            }
        };
        let _ = tokio::time::timeout(wait, drain).await;
    }
}

/// Longest wait, after a failed handshake's alert, for the client to
/// close its side.
pub const HANDSHAKE_CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Most bytes [`Stream::drain_unread`] reads from a closing connection.
pub const DRAIN_MAX_BYTES: usize = 1 << 20;

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::validity_warning;

    /// A self-signed certificate valid from `from` to `until` (years), as
    /// PEM in a file of `dir`.
    fn certificate(dir: &std::path::Path, from: i32, until: i32) -> std::path::PathBuf {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.not_before = rcgen::date_time_ymd(from, 1, 1);
        params.not_after = rcgen::date_time_ymd(until, 1, 1);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let path = dir.join(format!("{from}-{until}.pem"));
        std::fs::write(&path, cert.pem()).unwrap();
        path
    }

    #[test]
    fn a_certificate_out_of_its_dates_or_near_their_end_is_named() {
        let dir = tempfile::tempdir().unwrap();
        // 2026-12-05 00:00 UTC.
        let now_s = 1_796_428_800;
        let expired = validity_warning(&certificate(dir.path(), 2020, 2021), now_s).unwrap();
        assert!(
            expired.starts_with("it expired on ") && expired.contains("2021"),
            "{expired}"
        );
        let early = validity_warning(&certificate(dir.path(), 2030, 2031), now_s).unwrap();
        assert!(early.starts_with("it is not valid before "), "{early}");
        let soon = validity_warning(&certificate(dir.path(), 2026, 2027), now_s).unwrap();
        assert!(soon.contains("in 27 days"), "{soon}");
        assert_eq!(
            validity_warning(&certificate(dir.path(), 2026, 2030), now_s),
            None
        );
        assert_eq!(validity_warning(&dir.path().join("none.pem"), now_s), None);
    }

    /// Several buffers go in one `sendmsg`, whole and in order; to a peer
    /// gone, a write is an error, not a signal.
    #[tokio::test]
    async fn vectored_writes_arrive_whole_and_a_closed_peer_is_an_error() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let connect = tokio::net::TcpStream::connect(listener.local_addr().unwrap());
        let (connected, accepted) = tokio::join!(connect, listener.accept());
        let mut writer = super::Tcp::from(connected.unwrap());
        let mut reader = accepted.unwrap().0;
        let parts = [
            b"first ".as_slice(),
            b"second ".as_slice(),
            b"third".as_slice(),
        ];
        let slices = parts.map(std::io::IoSlice::new);
        let sent = writer.write_vectored(&slices).await.unwrap();
        assert_eq!(sent, 18, "one call takes all three");
        let mut got = [0; 18];
        reader.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"first second third");
        drop(reader);
        // The first write after the close may be taken (the peer answers
        // it with a reset); one after that fails.
        let mut failed = None;
        for _ in 0..100 {
            if let Err(error) = writer.write_vectored(&slices).await {
                failed = Some(error.kind());
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(
            matches!(
                failed,
                Some(std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset)
            ),
            "{failed:?}"
        );
    }
}
