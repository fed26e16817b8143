//! A string's claimed length is checked against the bytes in the frame before
//! anything is allocated for it.
//!
//! A counting allocator records the largest single allocation while a frame
//! whose symbol claims 60,000 bytes is decoded. Decoding through serde's
//! owned-string path would allocate the claimed length first; the codec must
//! not. This file holds one test so that no other test allocates meanwhile.

// A global allocator is `unsafe` to implement; this one only forwards to the
// system allocator and counts.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use cetx_gateway::codec::{decode_payload, encode_payload, DecodeError};
use cetx_gateway::protocol::{ClientMessage, OrderType, Side, TimeInForce};

struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on as it is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on as it is.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn a_string_longer_than_the_frame_allocates_nothing_for_it() {
    let order = ClientMessage::NewOrder {
        client_order_id: 1,
        account: 1,
        symbol: "CEA2025".into(),
        side: Side::Buy,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Day,
        price_ticks: 1,
        quantity_t: 1,
    };
    let mut payload = encode_payload(&order).unwrap();
    payload[16..24].copy_from_slice(&60_000u64.to_le_bytes());

    LARGEST.store(0, Ordering::Relaxed);
    let result = decode_payload::<ClientMessage>(&payload);
    let largest = LARGEST.load(Ordering::Relaxed);

    assert!(matches!(result, Err(DecodeError::Truncated)), "{result:?}");
    assert!(
        largest < 1024,
        "decoding allocated {largest} bytes at once for a 59-byte frame"
    );
}
