//! The QuantCup 2011 feed trades the contest's reference quantity in cetx,
//! with every rule on, in lobster, and in the contest's winner (C), so the
//! benches compare the three on the same work.

#[path = "../benches/common/lobster.rs"]
mod lobster_orders;

use cetx_bench::flow::{open_market, INSTRUMENT};
use cetx_bench::quantcup::Message;
use cetx_bench::quantcup::{
    self, account, engine_config, traded_t, FEED_MESSAGES, REFERENCE_TRADED_T,
};
use cetx_bench::quantcup_c;
use cetx_engine::{CancelCause, Command, CommandKind, Engine, Event, RejectReason, Side, Stamp};

/// What one replay of a stream did in cetx.
#[derive(Debug, Default)]
struct Outcome {
    traded_t: u64,
    /// Cancels of orders that did not rest.
    unknown_cancels: u64,
    self_trade_cancels: u64,
}

fn replay_cetx(commands: &[(Command, Stamp)]) -> (Engine, Outcome) {
    let mut engine = open_market(&engine_config());
    let mut events = Vec::new();
    let mut outcome = Outcome::default();
    for (command, stamp) in commands {
        engine.apply(command, *stamp, &mut events);
        outcome.traded_t += traded_t(&events);
        for event in &events {
            match event {
                Event::Rejected(rejected) => {
                    // The only refusals: cancels of orders that no longer
                    // rest or have not arrived (the contest ignores them).
                    assert_eq!(rejected.command, CommandKind::Cancel, "{rejected:?}");
                    assert_eq!(rejected.reason, RejectReason::UnknownOrder);
                    outcome.unknown_cancels += 1;
                }
                Event::Cancelled(cancelled) if cancelled.cause == CancelCause::SelfTrade => {
                    outcome.self_trade_cancels += 1;
                }
                _ => {}
            }
        }
        events.clear();
    }
    engine.check_invariants();
    (engine, outcome)
}

#[test]
fn the_feed_is_the_contests() {
    let feed = quantcup::load().expect("the feed in the lobster crate");
    assert_eq!(feed.len(), FEED_MESSAGES);
    let limits = feed
        .iter()
        .filter(|m| matches!(m, quantcup::Message::Limit { .. }))
        .count();
    assert_eq!(limits, 17_894);
}

#[test]
fn cetx_trades_the_reference_quantity_with_every_rule_on() {
    let feed = quantcup::load().expect("the feed in the lobster crate");
    let commands = quantcup::commands(&feed);
    let (engine, outcome) = replay_cetx(&commands);
    assert_eq!(outcome.traded_t, REFERENCE_TRADED_T, "{outcome:?}");
    assert_eq!(outcome.self_trade_cancels, 0);
    let today = engine.today(INSTRUMENT).expect("one instrument");
    assert_eq!(today.volume_t, REFERENCE_TRADED_T);
    // Some cancels hit, some miss: both paths ran.
    let cancels = (feed.len() - 17_894) as u64;
    assert!(outcome.unknown_cancels > 0 && outcome.unknown_cancels < cancels);
}

#[test]
fn one_account_per_trader_would_stop_self_trades() {
    let feed = quantcup::load().expect("the feed in the lobster crate");
    let mut commands = quantcup::commands(&feed);
    for (command, _) in &mut commands {
        if let Command::Submit(order) = command {
            order.account = account((order.account.0 - 1) as u8 / 2, Side::Buy);
        }
    }
    let (_, outcome) = replay_cetx(&commands);
    assert_eq!(outcome.self_trade_cancels, 1_527, "{outcome:?}");
    assert_eq!(outcome.traded_t, 6_838_166);
}

#[test]
fn lobster_trades_the_reference_quantity() {
    let feed = quantcup::load().expect("the feed in the lobster crate");
    let mut book = lobster::OrderBook::default();
    let traded: u64 = quantcup::commands(&feed)
        .iter()
        .map(|(command, _)| {
            lobster_orders::traded_t(&book.execute(lobster_orders::to_lobster(command)))
        })
        .sum();
    assert_eq!(traded, REFERENCE_TRADED_T);
}

#[test]
fn the_contest_winner_trades_the_reference_quantity_each_replay() {
    let feed = quantcup::load().expect("the feed in the lobster crate");
    let c_feed = quantcup_c::Feed::new(&feed).expect("every price fits the C book");
    assert_eq!(c_feed.len(), FEED_MESSAGES);
    // The second replay starts from an empty book again.
    for _ in 0..2 {
        assert_eq!(quantcup_c::Book::new().replay(&c_feed), REFERENCE_TRADED_T);
    }
    // Half the feed trades less: the count is the C book's, not a constant.
    let half = quantcup_c::Feed::new(&feed[..FEED_MESSAGES / 2]).expect("prices fit");
    let traded_half = quantcup_c::Book::new().replay(&half);
    assert!(
        traded_half > 0 && traded_half < REFERENCE_TRADED_T,
        "{traded_half}"
    );
}

#[test]
fn a_price_the_c_book_cannot_hold_is_named() {
    let mut feed = quantcup::load().expect("the feed in the lobster crate");
    let index = feed
        .iter()
        .position(|message| matches!(message, Message::Limit { .. }))
        .expect("a limit order");
    if let Message::Limit { price_ticks, .. } = &mut feed[index] {
        *price_ticks = 70_000;
    }
    let error = quantcup_c::Feed::new(&feed).expect_err("70,000 is beyond t_price");
    assert!(
        matches!(error, quantcup_c::FeedError::Price { number, price_ticks: 70_000 } if number == index + 1),
        "{error}"
    );
}

#[test]
fn no_feed_reaches_past_the_c_books_arena() {
    // The arena holds ids 0 to 1,009,999; limit orders take ids from 1.
    let limit = Message::Limit {
        trader: 0,
        side: Side::Buy,
        price_ticks: 4_800,
        quantity_t: 100,
    };
    let fits = vec![limit; 1_009_999];
    assert_eq!(
        quantcup_c::Book::new().replay(&quantcup_c::Feed::new(&fits).expect("fits")),
        0
    );
    let error = quantcup_c::Feed::new(&vec![limit; 1_010_000]).expect_err("one too many");
    assert!(
        matches!(
            error,
            quantcup_c::FeedError::TooManyOrders {
                limits: 1_010_000,
                arena: 1_010_000
            }
        ),
        "{error}"
    );
    let cancels = [
        limit,
        Message::Cancel { nth: 1 },
        Message::Cancel { nth: 1_010_000 },
    ];
    let error = quantcup_c::Feed::new(&cancels).expect_err("a cancel past the arena");
    assert!(
        matches!(
            error,
            quantcup_c::FeedError::CancelPastArena {
                number: 3,
                nth: 1_010_000,
                ..
            }
        ),
        "{error}"
    );
}
