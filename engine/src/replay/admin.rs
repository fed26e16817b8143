//! Replaying the events of administration and of the end of the day:
//! accounts, cash and allowance transfers, phases, reference prices, the
//! close and the next day.
//!
//! Each journaled balance must be the previous one plus or minus the
//! amount moved, with checked arithmetic; each band must be the one the
//! rules compute for its reference price; each close must be the one the
//! day's trades make. So a journal cannot set a balance, a band or a day
//! the live engine could not have.

use crate::day_stats::DayStats;
use crate::engine::Engine;
use crate::event::{CashMoved, Event, HoldingsMoved, ReferencePriceSet};
use crate::risk;

impl Engine {
    pub(super) fn replay_admin(&mut self, event: &Event) -> Result<(), String> {
        match event {
            Event::Rejected(_) | Event::LargeHolder(_) => {}
            Event::BlockPosted(_)
            | Event::BlockAccepted(_)
            | Event::BlockTraded(_)
            | Event::BlockCancelled(_) => {}
            Event::AccountOpened(o) => {
                if let Err(reason) = self.membership.check_broker_active(o.broker) {
                    return Err(format!("account {} opened ({reason:?})", o.account.0));
                }
                if !self.accounts.open(o.account, o.participant, o.broker) {
                    return Err(format!("account {} opened twice", o.account.0));
                }
            }
            Event::CashDeposited(c) => self.replay_cash(c, true)?,
            Event::CashWithdrawn(c) => self.replay_cash(c, false)?,
            Event::HoldingsCredited(h) => self.replay_holdings(h, true)?,
            Event::HoldingsDebited(h) => self.replay_holdings(h, false)?,
            Event::PhaseChanged(p) => {
                let i = self
                    .instrument_index(p.instrument)
                    .map_err(|_| format!("phase of unknown instrument {}", p.instrument.0))?;
                self.markets[i].phase = p.phase;
            }
            Event::ReferencePriceSet(r) => self.replay_reference(r)?,
            Event::DayClosed(d) => {
                let i = self
                    .instrument_index(d.instrument)
                    .map_err(|_| format!("close of unknown instrument {}", d.instrument.0))?;
                let rules = self.books[i].rules();
                let expected = self.markets[i].today.close(
                    self.trading_day,
                    d.instrument,
                    rules.reference_ticks,
                    rules.step_ticks,
                );
                if *d != expected {
                    return Err(format!(
                        "the close of {} on the engine's trading day {} is not the one its trades make: the event has close {}, open {}, high {}, low {} (ticks); the day's trades make {}, {}, {}, {}",
                        self.named(d.instrument),
                        d.trading_day,
                        d.close_ticks,
                        d.open_ticks,
                        d.high_ticks,
                        d.low_ticks,
                        expected.close_ticks,
                        expected.open_ticks,
                        expected.high_ticks,
                        expected.low_ticks,
                    ));
                }
                self.markets[i].today = DayStats::default();
            }
            Event::DayStarted(d) => {
                if Some(d.trading_day) != self.trading_day.checked_add(1) {
                    return Err(format!(
                        "day {} starts after day {}",
                        d.trading_day, self.trading_day
                    ));
                }
                self.accounts.unlock_bought_today();
                self.trading_day = d.trading_day;
                self.forget_old_references();
            }
            Event::Accepted(_)
            | Event::Trade(_)
            | Event::Cancelled(_)
            | Event::Amended(_)
            | Event::InstrumentListed(_)
            | Event::InstrumentRevised(_)
            | Event::CalendarSet
            | Event::BrokerAdded(_)
            | Event::BrokerStatusChanged(_)
            | Event::AccountStatusChanged(_)
            | Event::AuctionAnnounced(_)
            | Event::BidAccepted(_)
            | Event::BidAmended(_)
            | Event::BidCancelled(_)
            | Event::AuctionAllocation(_)
            | Event::AuctionClosed(_) => {
                unreachable!(
                    "order, definition and membership events are replayed by Engine::replay"
                )
            }
        }
        Ok(())
    }

    /// A deposit (`deposit`) or a withdrawal: a positive amount, within the
    /// free cash for a withdrawal, and the new balance the old one plus or
    /// minus it.
    fn replay_cash(&mut self, c: &CashMoved, deposit: bool) -> Result<(), String> {
        if self.membership.check_open(c.account).is_err() {
            return Err(format!("cash moved for closed account {}", c.account.0));
        }
        let account = self
            .accounts
            .get_mut(c.account)
            .ok_or_else(|| format!("cash moved for unknown account {}", c.account.0))?;
        let cash_fen = if deposit {
            account.cash_fen.checked_add(c.amount_fen)
        } else if c.amount_fen <= account.available_fen() {
            account.cash_fen.checked_sub(c.amount_fen)
        } else {
            None
        };
        if c.amount_fen <= 0 || cash_fen != Some(c.cash_fen) {
            return Err(format!(
                "{} fen moved for account {} do not make its balance {} fen",
                c.amount_fen, c.account.0, c.cash_fen
            ));
        }
        account.cash_fen = c.cash_fen;
        self.accounts
            .count_cash(if deposit { c.amount_fen } else { -c.amount_fen });
        Ok(())
    }

    /// A credit (`credit`) or a debit of allowances: a positive quantity,
    /// free to leave for a debit, and the new balance the old one plus or
    /// minus it.
    fn replay_holdings(&mut self, h: &HoldingsMoved, credit: bool) -> Result<(), String> {
        self.instrument_index(h.instrument)
            .map_err(|_| format!("holdings of unknown instrument {}", h.instrument.0))?;
        if self.membership.check_open(h.account).is_err() {
            return Err(format!("holdings moved for closed account {}", h.account.0));
        }
        let (_, holding) = self
            .accounts
            .get_with_holding_mut(h.account, h.instrument)
            .ok_or_else(|| format!("holdings moved for unknown account {}", h.account.0))?;
        let balance_t = if credit {
            holding.balance_t.checked_add(h.quantity_t)
        } else if risk::check_sellable(holding, h.quantity_t).is_ok() {
            holding.balance_t.checked_sub(h.quantity_t)
        } else {
            None
        };
        if h.quantity_t == 0 || balance_t != Some(h.balance_t) {
            return Err(format!(
                "{} t moved for account {} do not make its balance {} t",
                h.quantity_t, h.account.0, h.balance_t
            ));
        }
        holding.balance_t = h.balance_t;
        let i = usize::from(h.instrument.0);
        self.accounts.count_held(i, credit, h.quantity_t);
        Ok(())
    }

    /// A new reference price: an empty book, a usable price, and the band
    /// the rules compute for it.
    fn replay_reference(&mut self, r: &ReferencePriceSet) -> Result<(), String> {
        let i = self
            .instrument_index(r.instrument)
            .map_err(|_| format!("reference of unknown instrument {}", r.instrument.0))?;
        if !self.books[i].is_empty() {
            return Err(format!(
                "the reference of {} moves under resting orders",
                self.named(r.instrument)
            ));
        }
        let rules = self.books[i]
            .rules()
            .with_reference(r.price_ticks)
            .map_err(|e| format!("the reference of {}: {e}", self.named(r.instrument)))?;
        if (rules.floor_ticks, rules.ceiling_ticks) != (r.floor_ticks, r.ceiling_ticks) {
            return Err(format!(
                "the band {}..={} of {} is not the one its reference {} makes",
                r.floor_ticks,
                r.ceiling_ticks,
                self.named(r.instrument),
                r.price_ticks
            ));
        }
        self.books[i].rebase(rules);
        Ok(())
    }
}
