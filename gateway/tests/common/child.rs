//! A child process run to its end within a time limit, so that a child
//! that hangs fails its test instead of hanging the run. Shared by the
//! tests of every crate that runs one (`#[path]` from `tests/tests/` and
//! `bench/tests/`): it needs nothing but the standard library.

use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Waits for `child` (stdout and stderr piped) at most `limit`, on a
/// thread that collects its output: its output, or, past the limit, a
/// kill and a panic naming `what` with what it had printed. Where the
/// child leads a process group of its own (`CommandExt::process_group(0)`,
/// for a child with helpers, such as a browser), the whole group is
/// killed: a helper left alive would hold the pipes open, and what was
/// printed would never be read.
///
/// # Panics
/// Past the limit, as above; when the child's output cannot be read.
pub fn output_within(child: Child, what: &str, limit: Duration) -> Output {
    let pid = child.id().to_string();
    let (done, output) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match output.recv_timeout(limit) {
        Ok(output) => output.expect("the child's output"),
        Err(_) => {
            // A group that does not exist is an error of `kill` alone.
            for target in [format!("-{pid}"), pid] {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &target])
                    .stderr(Stdio::null())
                    .status();
            }
            let printed = output
                .recv_timeout(Duration::from_secs(5))
                .ok()
                .and_then(Result::ok)
                .map(|o| {
                    format!(
                        "{}\n{}",
                        String::from_utf8_lossy(&o.stdout),
                        String::from_utf8_lossy(&o.stderr)
                    )
                })
                .unwrap_or_default();
            panic!("{what} did not finish within {limit:?}:\n{printed}");
        }
    }
}
