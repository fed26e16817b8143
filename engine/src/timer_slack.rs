//! Sleeps that end when asked: Linux lets a thread's sleep run over by
//! its timer slack, 50 µs by default, so that the kernel can fold nearby
//! wake-ups into one. On the project's VM a 500 µs sleep ran over by 92 µs
//! at the median, and by 38 µs with a slack of 1 ns (BENCHMARKS.md,
//! *Syncs paced at 500 µs*). A thread whose sleeps are on a latency's
//! path asks for the smaller slack: the journal writer pacing its syncs,
//! the load tester's sender pacing its orders.

/// Sets the calling thread's timer slack to 1 ns. Elsewhere than on
/// Linux, or if the kernel refuses, sleeps stay as they were.
#[allow(unsafe_code)]
pub fn precise_sleeps() {
    #[cfg(target_os = "linux")]
    // SAFETY: `PR_SET_TIMERSLACK` sets the calling thread's timer slack,
    // a number; it reads and writes no memory of the process.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1, 0, 0, 0);
    }
}
