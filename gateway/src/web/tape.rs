//! What the page shows besides the market's own state: the last trades and
//! the day's one-minute candles, kept from the trades the server has
//! published since it started, bounded; and the JSON the page reads.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use cetx_engine::{Phase, Side};
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use cetx_engine::settlement::Cny;

use crate::exchange_time;
use crate::market_data::{MarketData, Update, View};

/// Trades the tape keeps per instrument.
const TAPE_LEN: usize = 40;

/// One-minute candles kept per instrument (a trading day has 240).
const CANDLES: usize = 600;

const NS_PER_MINUTE: i64 = 60_000_000_000;

/// A trade on the tape.
#[derive(Clone, Copy, Debug)]
struct TradeRow {
    time_ns: i64,
    price_ticks: i64,
    quantity_t: u64,
    aggressor: Side,
}

/// One minute of trading.
#[derive(Clone, Copy, Debug)]
struct Candle {
    minute: i64,
    open: i64,
    high: i64,
    low: i64,
    close: i64,
    volume_t: u64,
}

#[derive(Debug, Default)]
struct Trades {
    tape: VecDeque<TradeRow>,
    candles: VecDeque<Candle>,
}

impl Trades {
    fn record(&mut self, trade: TradeRow) {
        if self.tape.len() == TAPE_LEN {
            self.tape.pop_back();
        }
        self.tape.push_front(trade);
        let minute = trade.time_ns.div_euclid(NS_PER_MINUTE);
        match self.candles.back_mut() {
            Some(candle) if candle.minute == minute => {
                candle.high = candle.high.max(trade.price_ticks);
                candle.low = candle.low.min(trade.price_ticks);
                candle.close = trade.price_ticks;
                candle.volume_t += trade.quantity_t;
            }
            _ => {
                if self.candles.len() == CANDLES {
                    self.candles.pop_front();
                }
                self.candles.push_back(Candle {
                    minute,
                    open: trade.price_ticks,
                    high: trade.price_ticks,
                    low: trade.price_ticks,
                    close: trade.price_ticks,
                    volume_t: trade.quantity_t,
                });
            }
        }
    }
}

/// Every instrument's tape and candles.
#[derive(Debug)]
pub(super) struct Tape {
    instruments: Mutex<Vec<Trades>>,
    utc_offset_s: i32,
}

impl Tape {
    /// Starts keeping the tape of `market` until `stop`; the receiver's
    /// version moves each time the market does.
    pub(super) fn follow(
        market: &MarketData,
        utc_offset_s: i32,
        stop: CancellationToken,
    ) -> (Arc<Self>, watch::Receiver<u64>) {
        let count = market.views().len();
        let ids: Vec<u16> = (0..count).filter_map(|i| u16::try_from(i).ok()).collect();
        let (_, mut updates) = market.subscribe(&ids);
        let tape = Arc::new(Self {
            instruments: Mutex::new((0..count).map(|_| Trades::default()).collect()),
            utc_offset_s,
        });
        let (version, receiver) = watch::channel(0_u64);
        let keeper = Arc::clone(&tape);
        tokio::spawn(async move {
            loop {
                let batch = tokio::select! {
                    () = stop.cancelled() => return,
                    batch = updates.recv() => batch,
                };
                match batch {
                    Ok(batch) => {
                        let mut instruments = keeper.lock();
                        for (id, update) in batch.iter() {
                            // An instrument listed since the start gets
                            // its tape at its first update.
                            let i = usize::from(*id);
                            if i >= instruments.len() {
                                instruments.resize_with(i + 1, Trades::default);
                            }
                            let trades = &mut instruments[i];
                            match *update {
                                Update::Trade {
                                    price_ticks,
                                    quantity_t,
                                    aggressor,
                                    time_ns,
                                    ..
                                } => trades.record(TradeRow {
                                    time_ns,
                                    price_ticks,
                                    quantity_t,
                                    aggressor,
                                }),
                                Update::EndOfDay { .. } => trades.candles.clear(),
                                _ => {}
                            }
                        }
                    }
                    // Trades were missed; the rest of the view is the
                    // market's own and stays exact.
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                }
                version.send_modify(|v| *v += 1);
            }
        });
        (tape, receiver)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Trades>> {
        self.instruments
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The page's view of the market: `views` with the tape and candles.
    pub(super) fn market_json(&self, views: &[View], depth: usize) -> MarketJson {
        let instruments = self.lock();
        let instruments = views
            .iter()
            .enumerate()
            .map(|(i, view)| {
                let trades = instruments.get(i);
                let levels = |side| {
                    view.levels(side)
                        .take(depth)
                        .map(|(price_ticks, level)| LevelJson {
                            price: Cny(i128::from(price_ticks)),
                            quantity: level.quantity_t,
                            orders: level.orders,
                        })
                        .collect()
                };
                let day = &view.day;
                let traded = day.trade_count > 0;
                let price = |ticks: i64| traded.then_some(Cny(i128::from(ticks)));
                InstrumentJson {
                    symbol: view.symbol.clone(),
                    phase: view.phase,
                    reference: Cny(i128::from(view.reference_ticks)),
                    floor: Cny(i128::from(view.floor_ticks)),
                    ceiling: Cny(i128::from(view.ceiling_ticks)),
                    bids: levels(Side::Buy),
                    asks: levels(Side::Sell),
                    open: price(day.open_ticks),
                    high: price(day.high_ticks),
                    low: price(day.low_ticks),
                    last: price(day.last_ticks),
                    vwap: price(day.vwap_ticks),
                    volume: day.volume_t,
                    turnover: Cny(i128::from(day.turnover_fen)),
                    trades: day.trade_count,
                    tape: trades.map_or_else(Vec::new, |t| {
                        t.tape.iter().map(|r| self.trade_json(r)).collect()
                    }),
                    candles: trades.map_or_else(Vec::new, |t| {
                        t.candles.iter().map(|c| self.candle_json(c)).collect()
                    }),
                    auctions: view
                        .auctions
                        .values()
                        .map(|notice| AuctionJson {
                            id: notice.auction_id,
                            pricing: notice.pricing.name(),
                            quantity: notice.quantity_t,
                            floor: Cny(i128::from(notice.floor_ticks)),
                            ceiling: Cny(i128::from(notice.ceiling_ticks)),
                            start: self.date_time(notice.start_ns),
                            end: self.date_time(notice.end_ns),
                        })
                        .collect(),
                    auction_results: view
                        .closed_auctions
                        .values()
                        .map(|closed| AuctionResultJson {
                            id: closed.auction_id,
                            pricing: closed.pricing.name(),
                            clearing: (closed.sold_t > 0)
                                .then_some(Cny(i128::from(closed.clearing_ticks))),
                            sold: closed.sold_t,
                            unsold: closed.unsold_t,
                        })
                        .collect(),
                    offers: view
                        .offers
                        .iter()
                        .map(|(&id, offer)| OfferJson {
                            id,
                            side: side(offer.side),
                            price: Cny(i128::from(offer.price_ticks)),
                            quantity: offer.quantity_t,
                        })
                        .collect(),
                }
            })
            .collect();
        MarketJson { instruments }
    }

    /// Exchange time of day: `14:44:00`.
    fn clock(&self, time_ns: i64) -> String {
        exchange_time::clock(time_ns, self.utc_offset_s)
    }

    /// Exchange date and time: `2026-11-27 14:44:00`.
    fn date_time(&self, time_ns: i64) -> String {
        exchange_time::date_time(time_ns, self.utc_offset_s)
    }

    fn trade_json(&self, row: &TradeRow) -> TradeJson {
        TradeJson {
            time: self.clock(row.time_ns),
            price: Cny(i128::from(row.price_ticks)),
            quantity: row.quantity_t,
            side: side(row.aggressor),
        }
    }

    fn candle_json(&self, candle: &Candle) -> CandleJson {
        CandleJson {
            time: self.clock(candle.minute * NS_PER_MINUTE)[..5].to_owned(),
            open: Cny(i128::from(candle.open)),
            high: Cny(i128::from(candle.high)),
            low: Cny(i128::from(candle.low)),
            close: Cny(i128::from(candle.close)),
            volume: candle.volume_t,
        }
    }
}

const fn side(side: Side) -> &'static str {
    match side {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

/// What `/api/market` and each `/events` event carry.
#[derive(Debug, Serialize)]
pub(super) struct MarketJson {
    instruments: Vec<InstrumentJson>,
}

#[derive(Debug, Serialize)]
struct InstrumentJson {
    symbol: String,
    phase: Phase,
    reference: Cny,
    floor: Cny,
    ceiling: Cny,
    bids: Vec<LevelJson>,
    asks: Vec<LevelJson>,
    open: Option<Cny>,
    high: Option<Cny>,
    low: Option<Cny>,
    last: Option<Cny>,
    vwap: Option<Cny>,
    volume: u64,
    turnover: Cny,
    trades: u64,
    tape: Vec<TradeJson>,
    candles: Vec<CandleJson>,
    /// One-way auctions open now, by id.
    auctions: Vec<AuctionJson>,
    /// The outcomes of the auctions closed this trading day, by id.
    auction_results: Vec<AuctionResultJson>,
    /// Block offers open to every account, by id.
    offers: Vec<OfferJson>,
}

#[derive(Debug, Serialize)]
struct AuctionJson {
    id: u64,
    pricing: &'static str,
    quantity: u64,
    floor: Cny,
    ceiling: Cny,
    /// The bidding window, exchange date and time.
    start: String,
    end: String,
}

#[derive(Debug, Serialize)]
struct AuctionResultJson {
    id: u64,
    pricing: &'static str,
    /// The lowest accepted bid's price; none when nothing sold.
    clearing: Option<Cny>,
    sold: u64,
    unsold: u64,
}

#[derive(Debug, Serialize)]
struct OfferJson {
    id: u64,
    side: &'static str,
    price: Cny,
    quantity: u64,
}

#[derive(Debug, Serialize)]
struct LevelJson {
    price: Cny,
    quantity: u64,
    orders: u32,
}

#[derive(Debug, Serialize)]
struct TradeJson {
    time: String,
    price: Cny,
    quantity: u64,
    side: &'static str,
}

#[derive(Debug, Serialize)]
struct CandleJson {
    time: String,
    open: Cny,
    high: Cny,
    low: Cny,
    close: Cny,
    volume: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_s_view_has_the_open_auctions_today_s_results_and_the_block_offers() {
        use cetx_engine::{AccountId, AuctionClosed, AuctionNotice, InstrumentId, Pricing};

        use crate::market_data::BlockQuote;

        // 09:30 and 10:00 in Beijing, 2026-11-27.
        let start_ns = 1_795_743_000_000_000_000;
        let mut view = View::default();
        view.auctions.insert(
            7,
            AuctionNotice {
                auction_id: 7,
                instrument: InstrumentId(0),
                seller: AccountId(9001),
                quantity_t: 150_000,
                floor_ticks: 85_00,
                ceiling_ticks: 99_00,
                start_ns,
                end_ns: start_ns + 1_800_000_000_000,
                pricing: Pricing::Uniform,
            },
        );
        let closed = |auction_id, sold_t, clearing_ticks| AuctionClosed {
            auction_id,
            instrument: InstrumentId(0),
            seller: AccountId(9001),
            pricing: Pricing::PayAsBid,
            clearing_ticks,
            sold_t,
            unsold_t: 150_000 - sold_t,
            turnover_fen: 0,
        };
        view.closed_auctions.insert(5, closed(5, 0, 0));
        view.closed_auctions.insert(6, closed(6, 120_000, 92_00));
        view.offers.insert(
            3,
            BlockQuote {
                side: Side::Sell,
                price_ticks: 95_00,
                quantity_t: 200_000,
            },
        );
        let tape = Tape {
            instruments: Mutex::new(Vec::new()),
            utc_offset_s: 8 * 3_600,
        };
        let json = serde_json::to_value(tape.market_json(&[view], 10)).unwrap();
        let instrument = &json["instruments"][0];
        assert_eq!(
            instrument["auctions"],
            serde_json::json!([{
                "id": 7, "pricing": "uniform", "quantity": 150_000, "floor": "85.00",
                "ceiling": "99.00", "start": "2026-11-27 09:30:00", "end": "2026-11-27 10:00:00"
            }])
        );
        assert_eq!(
            instrument["auction_results"],
            serde_json::json!([
                {"id": 5, "pricing": "pay-as-bid", "clearing": null, "sold": 0, "unsold": 150_000},
                {"id": 6, "pricing": "pay-as-bid", "clearing": "92.00", "sold": 120_000, "unsold": 30_000}
            ])
        );
        assert_eq!(
            instrument["offers"],
            serde_json::json!([{"id": 3, "side": "sell", "price": "95.00", "quantity": 200_000}])
        );
    }

    #[test]
    fn trades_make_minute_candles_and_a_bounded_tape() {
        let mut trades = Trades::default();
        let at = |minute: i64, second: i64| minute * NS_PER_MINUTE + second * 1_000_000_000;
        for (i, (time_ns, price_ticks)) in [
            (at(1, 0), 85_00),
            (at(1, 30), 85_40),
            (at(1, 59), 84_90),
            (at(2, 1), 85_10),
        ]
        .into_iter()
        .enumerate()
        {
            trades.record(TradeRow {
                time_ns,
                price_ticks,
                quantity_t: 10 + i as u64,
                aggressor: Side::Buy,
            });
        }
        let candles: Vec<_> = trades
            .candles
            .iter()
            .map(|c| (c.minute, c.open, c.high, c.low, c.close, c.volume_t))
            .collect();
        assert_eq!(
            candles,
            [
                (1, 85_00, 85_40, 84_90, 84_90, 33),
                (2, 85_10, 85_10, 85_10, 85_10, 13)
            ]
        );
        assert_eq!(trades.tape.front().map(|t| t.price_ticks), Some(85_10));
        for i in 0..100 {
            trades.record(TradeRow {
                time_ns: at(3, 0),
                price_ticks: 85_00 + i,
                quantity_t: 1,
                aggressor: Side::Sell,
            });
        }
        assert_eq!(trades.tape.len(), TAPE_LEN);
    }
}
