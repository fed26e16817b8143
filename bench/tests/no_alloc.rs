//! The engine's steady state allocates nothing.
//!
//! A counting global allocator wraps the system one. After the harness is
//! warm (book at ~5,000 resting orders, or ~1,000,000 in the resting-heavy
//! case; event buffer sized), 100,000 commands of the mixed stream run and
//! each test asserts that not one allocation or reallocation happened,
//! neither inside `Engine::apply` nor anywhere in the loop (the flow's
//! generation and bookkeeping included).
//!
//! Counts are per thread, so allocations by the test harness's other threads
//! (the other test among them) cannot leak in.

// A `GlobalAlloc` impl must be `unsafe impl`; this counting allocator is the
// one place in the workspace that needs unsafe code.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use cetx_bench::flow::{engine_config_with_room, Harness};

thread_local! {
    /// Allocations and reallocations made by this thread.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator, counting `alloc`, `alloc_zeroed` and `realloc`
/// calls per thread.
struct CountingAllocator;

fn count_one() {
    // `try_with` because the allocator can be called while thread-locals
    // are being torn down; those calls are not ours to count.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees carry over; counting touches only a
// const-initialised thread-local `Cell`, which never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged; see the impl's comment.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged; see the impl's comment.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged; see the impl's comment.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; see the impl's comment.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Runs 100,000 mixed commands on a warm harness and asserts that they
/// allocated nothing.
fn assert_steady_state_allocates_nothing(mut harness: Harness) {
    const COMMANDS: usize = 100_000;
    let before_loop = allocations();
    let mut in_apply = 0;
    for _ in 0..COMMANDS {
        let (command, stamp) = harness.flow.next_command();
        let before = allocations();
        harness.engine.apply(&command, stamp, &mut harness.events);
        in_apply += allocations() - before;
        harness.flow.observe(&harness.events);
        harness.events.clear();
    }
    let in_loop = allocations() - before_loop;
    // The run must have been the real thing: every cancel hit, book steady.
    assert_eq!(harness.flow.rejected(), 0);
    let counts = harness.flow.counts();
    assert!(counts.cancel > 0 && counts.marketable > 0);
    assert_eq!(in_apply, 0, "Engine::apply allocated {in_apply} times");
    assert_eq!(in_loop, 0, "the loop allocated {in_loop} times");
}

#[test]
fn mixed_stream_allocates_nothing_in_steady_state() {
    assert_steady_state_allocates_nothing(Harness::warmed_up(42, 5_000));
}

#[test]
fn a_million_resting_orders_allocate_nothing_in_steady_state() {
    const RESTING: usize = 1_000_000;
    let harness = Harness::warmed_up_in(&engine_config_with_room(RESTING), 42, RESTING);
    assert!(
        harness
            .engine
            .book(cetx_bench::flow::INSTRUMENT)
            .expect("one book")
            .len()
            > RESTING * 9 / 10
    );
    assert_steady_state_allocates_nothing(harness);
}
