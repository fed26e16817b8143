//! The engine's hot path takes no page fault once `Engine::prefault` ran.
//!
//! Each test records its commands first, then counts this thread's minor
//! page faults (`getrusage(RUSAGE_THREAD)`, so the harness's other threads
//! cannot leak in) across nothing but the `Engine::apply` loop, with the
//! event buffer sized beforehand. Every order of `a_million_orders_rest`
//! lands in slab room never used before, the case where the kernel would
//! map a page every 73 orders; the mixed stream reuses freed slots.

// `getrusage` is a C function: calling it is the one unsafe thing here.
#![allow(unsafe_code)]

use cetx_bench::flow::{
    engine_config_with_room, open_market, Harness, MixedFlow, INSTRUMENT, MAX_EVENTS_PER_COMMAND,
};
use cetx_engine::{Command, Engine, Stamp};

/// Minor page faults this thread has taken so far.
fn minor_faults() -> i64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is a valid, writable `rusage`; RUSAGE_THREAD is a
    // valid `who` on Linux; the call writes nothing else.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage failed");
    // SAFETY: getrusage returned 0, so it filled `usage` in.
    unsafe { usage.assume_init() }.ru_minflt
}

/// Applies `commands` to `engine` and returns the minor page faults taken
/// meanwhile.
fn faults_applying(engine: &mut Engine, commands: &[(Command, Stamp)]) -> i64 {
    let mut events = Vec::with_capacity(MAX_EVENTS_PER_COMMAND);
    // Touch the buffer's pages before counting.
    events.extend(std::iter::repeat_n(
        cetx_engine::Event::CalendarSet,
        MAX_EVENTS_PER_COMMAND,
    ));
    events.clear();
    let before = minor_faults();
    for (command, stamp) in commands {
        engine.apply(command, *stamp, &mut events);
        events.clear();
    }
    minor_faults() - before
}

#[test]
fn a_million_orders_rest_without_a_page_fault_after_prefault() {
    const ORDERS: usize = 1_000_000;
    let mut flow = MixedFlow::new(42, ORDERS);
    let commands: Vec<_> = (0..ORDERS).map(|_| flow.next_passive()).collect();
    let market = open_market(&engine_config_with_room(ORDERS));

    let mut cold = market.clone();
    let cold_faults = faults_applying(&mut cold, &commands);
    let mut warm = market.clone();
    warm.prefault();
    let warm_faults = faults_applying(&mut warm, &commands);
    eprintln!("a million resting orders: {cold_faults} minor page faults cold, {warm_faults} after prefault");

    for engine in [&cold, &warm] {
        assert_eq!(engine.book(INSTRUMENT).expect("one book").len(), ORDERS);
    }
    // The counter sees the faults that prefault saves: the slab alone is
    // 56 MB of pages never touched before.
    assert!(
        cold_faults > 1_000,
        "only {cold_faults} faults without prefault"
    );
    assert_eq!(warm_faults, 0, "{warm_faults} page faults after prefault");
}

#[test]
fn the_mixed_stream_takes_no_page_fault_in_steady_state() {
    let mut harness = Harness::warmed_up(42, 5_000);
    let commands = harness.clone().record(100_000);
    harness.engine.prefault();
    let faults = faults_applying(&mut harness.engine, &commands);
    eprintln!("100,000 mixed commands: {faults} minor page faults");
    assert_eq!(faults, 0, "{faults} page faults in steady state");
}
