//! `Engine::replay` on hostile journal entries: see `fuzz/README.md`.
//!
//! A journal record's checksums cover whatever payload it carries, so a
//! hostile journal has valid ones; what stands between its payload and
//! the engine is the decoder and replay's checks. This target starts from
//! the payloads of a small legitimate market (a listed CEA, a buyer with
//! cash, a seller with allowances, continuous trading, a resting sell and
//! a trade), applies the edits the input describes, and replays the
//! result as recovery does: decode each payload, replay it, stop at the
//! first refusal. Whatever replays must keep every invariant.
//!
//! The input is a list of edits, each `[entry u8][offset u16 LE][len u8]`
//! and `len` bytes: they overwrite the payload of entry `entry` (modulo
//! the number of entries) from `offset` (modulo its length), growing it
//! where they run past its end; entry 255 appends the bytes as a new
//! entry instead.

#![no_main]

use std::sync::OnceLock;

use cetx_engine::journal::format::{decode_entry_payload, encode_entry_record, RECORD_PREFIX_LEN};
use cetx_engine::{
    AccountId, BrokerId, Command, Engine, InstrumentId, InstrumentSpec, NewOrder, OrderId,
    OrderType, ParticipantType, Phase, Side, Stamp, TimeInForce,
};
use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;

const CEA: InstrumentId = InstrumentId(0);
const BUYER: AccountId = AccountId(1);
const SELLER: AccountId = AccountId(2);
/// The longest payload an edit may grow an entry to: far above any real
/// entry of this market, far below the format's limit.
const MAX_PAYLOAD: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    let mut payloads = market().clone();
    edit(&mut payloads, data);
    let mut engine = Engine::default();
    for (i, payload) in payloads.iter().enumerate() {
        let Ok(entry) = decode_entry_payload(i as u64 + 1, payload) else {
            return;
        };
        if engine
            .replay(entry.stamp, &entry.command, &entry.events)
            .is_err()
        {
            return;
        }
        engine.check_invariants();
    }
});

/// Applies the edits of `data` to `payloads`.
fn edit(payloads: &mut Vec<Vec<u8>>, mut data: &[u8]) {
    while let [entry, lo, hi, len, rest @ ..] = data {
        let len = usize::from(*len).min(rest.len());
        let (bytes, next) = rest.split_at(len);
        data = next;
        if *entry == u8::MAX {
            payloads.push(bytes.to_vec());
            continue;
        }
        let count = payloads.len();
        let payload = &mut payloads[usize::from(*entry) % count];
        let at = usize::from(u16::from_le_bytes([*lo, *hi])) % payload.len().max(1);
        let end = (at + bytes.len()).min(MAX_PAYLOAD);
        if payload.len() < end {
            payload.resize(end, 0);
        }
        payload[at..end].copy_from_slice(&bytes[..end - at]);
    }
}

/// The payloads of the legitimate market, as the live engine made them.
fn market() -> &'static Vec<Vec<u8>> {
    static MARKET: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    MARKET.get_or_init(|| {
        let spec = InstrumentSpec::cea(2025, Decimal::new(90_00, 2));
        let order = |order_id, account, side, quantity_t| {
            Command::Submit(NewOrder {
                order_id: OrderId(order_id),
                account,
                instrument: CEA,
                side,
                order_type: OrderType::Limit,
                time_in_force: TimeInForce::Day,
                price_ticks: 90_00,
                quantity_t,
                client_order_id: order_id,
            })
        };
        let commands = [
            Command::ListInstrument(Box::new(spec)),
            Command::OpenAccount {
                account: BUYER,
                participant: ParticipantType::ComplianceEntity,
                broker: BrokerId(1),
            },
            Command::OpenAccount {
                account: SELLER,
                participant: ParticipantType::ComplianceEntity,
                broker: BrokerId(2),
            },
            Command::Deposit {
                account: BUYER,
                amount_fen: 10_000_000_000,
            },
            Command::CreditHoldings {
                account: SELLER,
                instrument: CEA,
                quantity_t: 10_000,
            },
            Command::SetPhase {
                instrument: CEA,
                phase: Phase::Continuous,
            },
            order(7, SELLER, Side::Sell, 100),
            order(8, BUYER, Side::Buy, 40),
            Command::EndOfDay {
                trading_date: Some(2026_11_27),
            },
        ];
        let mut engine = Engine::default();
        let mut payloads = Vec::new();
        for (i, command) in commands.iter().enumerate() {
            let stamp = Stamp {
                seq: i as u64 + 1,
                time_ns: 1_795_743_000_000_000_000 + i as i64 * 1_000,
            };
            let mut events = Vec::new();
            engine.apply(command, stamp, &mut events);
            let mut record = Vec::new();
            encode_entry_record(stamp, command, &events, &mut record)
                .expect("a small entry fits a record");
            payloads.push(record[RECORD_PREFIX_LEN..].to_vec());
        }
        payloads
    })
}
