//! What anyone may do to the broker port without credentials costs the
//! log a line per interval, not a line each (OPERATIONS.md, *Metrics*): a
//! tester's 16 connections sending a `Heartbeat` as their first frame got
//! 117,815 `LoginRejected` 401 in 8 s, and the log a line for each.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::BytesMut;
use cetx_gateway::codec::ClientCodec;
use cetx_gateway::protocol::{ClientMessage, Secret};
use common::ServeProcess;
use tokio_util::codec::Encoder;

/// Connections opened, each refused or closed before a login.
const CONNECTIONS: usize = 60;

#[test]
fn connections_closed_before_a_login_are_logged_a_line_per_interval() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("serve.log");
    let server = ServeProcess::start_logging_to(&tmp.path().join("data"), &log);
    for i in 0..CONNECTIONS {
        let mut socket = TcpStream::connect(server.addr).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        if i % 2 == 0 {
            // A `Heartbeat` (tag 4) as the first frame: refused 401.
            socket.write_all(&[4, 0, 0, 0, 4, 0, 0, 0]).unwrap();
            let mut answer = Vec::new();
            let _ = socket.read_to_end(&mut answer);
            assert!(!answer.is_empty(), "the refusal is sent before the close");
        }
        // The others close without a word.
    }
    // A broker's own refusals, after its credentials were checked, are
    // counted in a line per interval too, naming the broker and the code:
    // a client in a reconnect loop (an outside tester's wrote 650 lines a
    // second of `refused a login`). Here a resume past its last report,
    // again and again.
    let mut login = BytesMut::new();
    let ahead = ClientMessage::Login {
        protocol_version: 1,
        broker_id: 1,
        secret: Secret::new("demo-secret-1"),
        resume_from_seq: 1_000_000,
    };
    ClientCodec::default().encode(&ahead, &mut login).unwrap();
    for _ in 0..CONNECTIONS {
        let mut socket = TcpStream::connect(server.addr).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        socket.write_all(&login).unwrap();
        let _ = socket.read_to_end(&mut Vec::new());
    }
    assert_eq!(server.terminate().code(), Some(0));
    let log = std::fs::read_to_string(&log).unwrap();
    let per_connection = log
        .lines()
        .filter(|line| line.contains("refused a login") || line.contains("session closed"))
        .count();
    let tallies: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("closed connections before a login"))
        .collect();
    let refused = log
        .lines()
        .filter(|line| line.contains("refused logins (count: since the last such line)"))
        .collect::<Vec<_>>();
    assert!(
        (1..=2).contains(&refused.len())
            && refused[0].contains("count=1")
            && refused[0].contains("broker 1 why=ResumeSeqAhead (413)"),
        "{refused:?}"
    );
    // Its own warning, naming the numbers, a line per interval too
    // (reviewer 163 F1: a line each).
    let ahead = log
        .lines()
        .filter(|line| line.contains("refusing resumes past the broker's last report (413)"))
        .collect::<Vec<_>>();
    assert!(
        (1..=2).contains(&ahead.len())
            && ahead[0].contains("count=1")
            && ahead[0].contains("why=broker 1 resume_from_seq 1000000 last_seq"),
        "{ahead:?}"
    );
    assert_eq!(per_connection, 0, "a line per connection:\n{log}");
    // The first at once; the rest within the 10 s interval, in one line
    // at the next (or none, when the server stops first).
    assert!(
        (1..=2).contains(&tallies.len()) && tallies[0].contains("count=1"),
        "{tallies:?}"
    );
}
