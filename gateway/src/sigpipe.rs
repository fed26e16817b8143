//! One-shot commands (`cetx order`, `cetx replay`, `cetx-stream`, …) piped
//! into `head` end as Unix tools do, killed by `SIGPIPE` when the reader
//! goes away, not with a panic in `println!` (Rust ignores `SIGPIPE`, so
//! a write to a closed pipe is an error, which `println!` turns into a
//! panic and exit code 101).
//!
//! Sockets are not concerned: the clients' connections ([`crate::tls::Stream`],
//! [`crate::tls::Tcp`]) send with `MSG_NOSIGNAL` and never `writev`, so a
//! peer that hangs up is still an error to handle.
//! The server never calls this: a closed standard output must not stop a
//! market.

/// Restores the default disposition of `SIGPIPE`: the process ends
/// quietly when it writes to a pipe nobody reads.
#[allow(unsafe_code)]
pub fn restore_default() {
    // SAFETY: `signal` with `SIG_DFL` installs no handler of ours, only
    // the kernel's default action; it touches no memory of the process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
