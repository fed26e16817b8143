//! Settlement from a real journal: the ledger's end balances equal the
//! engine's state at the same sequence number, cash and allowances are
//! conserved, each trade gives one clearing row that pays what it
//! delivers, and the day figures match the engine's own close.

use cetx_engine::journal::{Durability, JournalConfig, JournalEntry, JournalReader};
use cetx_engine::settlement::{Ledger, ReconcileError, TradeMode};
use cetx_engine::Event;
use cetx_tests::{journal_run, workload};

#[test]
fn the_ledger_reconciles_with_the_engine_and_conserves_value() {
    let commands = workload(21, 8_000, 3_000);
    let dir = tempfile::tempdir().unwrap();
    let journal = JournalConfig {
        durability: Durability::Os,
        ..JournalConfig::default()
    };
    let engine = journal_run(dir.path(), &commands, journal, None);

    let mut ledger = Ledger::new(1);
    let mut rows = Vec::new();
    let mut trades = Vec::new();
    let mut closes = Vec::new();
    for entry in JournalReader::open(dir.path()).unwrap() {
        let entry: JournalEntry = entry.unwrap();
        for event in &entry.events {
            match event {
                Event::Trade(t) => trades.push(*t),
                Event::DayClosed(d) => closes.push(*d),
                _ => {}
            }
        }
        ledger.apply(&entry, &mut rows).unwrap();
    }
    assert_eq!(ledger.last_seq(), commands.len() as u64);
    ledger.reconcile(&engine.state()).unwrap();
    ledger.check_conservation().unwrap();

    assert!(trades.len() > 100, "the workload trades");
    assert_eq!(rows.len(), trades.len());
    for (row, trade) in rows.iter().zip(&trades) {
        assert_eq!(
            (row.trade_id, row.quantity_t, row.price_ticks),
            (trade.trade_id, trade.quantity_t, trade.price_ticks)
        );
        assert_eq!(row.amount_fen, trade.price_ticks * trade.quantity_t as i64);
        assert_ne!(row.buyer, row.seller);
    }
    // The day figures agree with the engine's DayClosed events.
    assert_eq!(
        closes.len(),
        2,
        "two ends of day in 8,000 orders every 3,000"
    );
    for close in &closes {
        let day = ledger
            .days()
            .find(|d| {
                d.trading_day == close.trading_day
                    && d.instrument == close.instrument
                    && d.mode == TradeMode::Listing
            })
            .expect("a traded day");
        assert_eq!(
            (
                day.open_ticks,
                day.high_ticks,
                day.low_ticks,
                day.volume_t,
                day.turnover_fen,
                day.trade_count
            ),
            (
                close.open_ticks,
                close.high_ticks,
                close.low_ticks,
                close.volume_t,
                i128::from(close.turnover_fen),
                close.trade_count
            )
        );
        assert_eq!(day.close_ticks, Some(close.close_ticks));
        assert_eq!(Ledger::vwap(day, 1), Some(close.close_ticks));
    }
    // Bought and sold add up across accounts, per instrument.
    let bought: u64 = ledger.accounts().map(|a| a.bought_t[0]).sum();
    let sold: u64 = ledger.accounts().map(|a| a.sold_t[0]).sum();
    assert_eq!(bought, sold);
    assert_eq!(bought, trades.iter().map(|t| t.quantity_t).sum::<u64>());

    // A difference is found and named.
    let mut wrong = engine.state();
    wrong.accounts[3].account.cash_fen += 1;
    let account = wrong.accounts[3].account.id.0;
    assert!(matches!(
        ledger.reconcile(&wrong),
        Err(ReconcileError::Cash { account: a, .. }) if a == account
    ));
}
