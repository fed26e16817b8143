//! Rebuilding the engine's state from journaled events, without matching.
//!
//! Recovery and standbys apply what the engine *decided*, not what it was
//! asked: [`Engine::replay`] takes one command's events and makes exactly
//! the changes that produced them. Nothing is matched or checked again, so
//! replay is fast and a later change to the rules cannot rewrite history.
//! Each event is still checked against the state it lands on (the order it
//! names rests, quantities add up, trade ids follow on); a journal that does
//! not fit is reported as [`ReplayError`], never applied halfway silently.
//!
//! A journal is input like any other: registries replay journals they are
//! handed, whose checksums prove only that the bytes were not damaged on
//! the way. So nothing an event says is taken on trust where it could
//! break the state or the process: prices are positive, on the tick and
//! inside the band; every band is recomputed and must equal the journaled
//! one, and no band spans more price levels than configured; quantities
//! are within the instrument's order sizes; every account, order and
//! instrument is known; reservations are funded; balances add up with
//! checked arithmetic; a day closes with the figures its trades make, the
//! next day follows it, and the dates that end of days close rise. An
//! event that breaks any of these is a [`ReplayError`], which readers
//! report as corruption of the entry.

mod admin;
mod auction;
mod blocks;
mod membership;
use crate::account::{Account, Holding};
use crate::command::{Asset, Command, Direction, Stamp, TransferTerms};
use crate::engine::Engine;
use crate::event::{Accepted, Amended, CancelCause, Cancelled, Event, Trade};
use crate::instrument::InstrumentId;
use crate::matching::Fill;
use crate::order::{AccountId, OrderId, OrderType, Side, TimeInForce};
use crate::risk::{self, Claim};
use crate::trading::settle_fill;

/// Why a journal's events do not fit the state they are replayed onto.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("replaying seq {seq}: {what}")]
pub struct ReplayError {
    /// Sequence number of the command whose events did not fit.
    pub seq: u64,
    /// What did not fit.
    pub what: String,
}

/// The order a command is trading for while its events are replayed: a new
/// order, or an amended one that lost its place.
#[derive(Clone, Copy, Debug)]
struct Incoming {
    order_id: OrderId,
    account: AccountId,
    account_at: u32,
    instrument: InstrumentId,
    side: Side,
    limit_ticks: i64,
    remaining_t: u64,
    /// Whether what is left rests at the end of the command.
    rests: bool,
}

/// The kind of an event that repeats its command's sequence number and
/// time (for the registries, which read them from the event), and the two
/// it says.
const fn stamp_copy(event: &Event) -> Option<(&'static str, u64, i64)> {
    match event {
        Event::Trade(t) => Some(("Trade", t.seq, t.time_ns)),
        Event::BlockTraded(t) => Some(("BlockTraded", t.seq, t.time_ns)),
        Event::AuctionAllocation(a) => Some(("AuctionAllocation", a.seq, a.time_ns)),
        _ => None,
    }
}

impl Engine {
    /// Applies the events one command produced, as the live engine did when
    /// it produced them.
    ///
    /// Only the market's definition is taken from the command itself: an
    /// `InstrumentListed`, `InstrumentRevised` or `CalendarSet` event
    /// applies the spec or calendar its [`Command`] carries.
    ///
    /// # Errors
    /// A [`ReplayError`] when an event does not fit the current state (an
    /// unknown order or account, quantities that do not add up, a trade id
    /// out of turn). The engine may then be part-way through the command:
    /// recovery must stop and report, not continue.
    pub fn replay(
        &mut self,
        stamp: Stamp,
        command: &Command,
        events: &[Event],
    ) -> Result<(), ReplayError> {
        let fail = |what: String| ReplayError {
            seq: stamp.seq,
            what,
        };
        self.check_member_cancels(command, events).map_err(fail)?;
        self.check_block_cancels(command, events).map_err(fail)?;
        let mut incoming: Option<Incoming> = None;
        let mut struck = None;
        for event in events {
            if let Some((kind, seq, time_ns)) = stamp_copy(event) {
                if (seq, time_ns) != (stamp.seq, stamp.time_ns) {
                    return Err(fail(format!(
                        "its {kind} says seq {seq} at {time_ns} ns, but the entry is seq {} at {} ns",
                        stamp.seq, stamp.time_ns
                    )));
                }
            }
            match event {
                Event::BlockPosted(_)
                | Event::BlockAccepted(_)
                | Event::BlockTraded(_)
                | Event::BlockCancelled(_) => {
                    self.replay_block(event, &mut struck).map_err(fail)?;
                }
                Event::Accepted(a) => incoming = Some(self.replay_accepted(a).map_err(fail)?),
                Event::Trade(t) => self.replay_trade(t, incoming.as_mut()).map_err(fail)?,
                Event::Cancelled(c) => {
                    if let Some(order) = incoming.filter(|o| o.order_id == c.order_id) {
                        if order.remaining_t != c.cancelled_t {
                            return Err(fail(format!(
                                "order {} cancels {} t but has {} t left",
                                c.order_id.0, c.cancelled_t, order.remaining_t
                            )));
                        }
                        let remainder_cause = matches!(
                            c.cause,
                            CancelCause::Unfilled
                                | CancelCause::FokKilled
                                | CancelCause::BookFull
                                | CancelCause::SelfTrade
                        );
                        if (c.account, c.side) != (order.account, order.side) || !remainder_cause {
                            return Err(fail(format!(
                                "the cancel of order {}'s remainder says account {} {:?}, cause {:?}; the order is account {}'s {:?}",
                                c.order_id.0, c.account.0, c.side, c.cause, order.account.0, order.side
                            )));
                        }
                        self.release_open(
                            order.account_at,
                            order.instrument,
                            order.side,
                            order.limit_ticks,
                            order.remaining_t,
                        );
                        incoming = None;
                    } else {
                        self.replay_cancelled(command, c).map_err(fail)?;
                    }
                }
                Event::Amended(a) => {
                    if let Some(order) = self.replay_amended(a).map_err(fail)? {
                        incoming = Some(order);
                    }
                }
                Event::InstrumentListed(_) | Event::InstrumentRevised(_) | Event::CalendarSet => {
                    self.replay_definition(stamp, command, event)
                        .map_err(fail)?;
                }
                Event::BrokerAdded(_)
                | Event::BrokerStatusChanged(_)
                | Event::AccountStatusChanged(_) => {
                    self.replay_membership(command, event).map_err(fail)?;
                }
                Event::AuctionAnnounced(_)
                | Event::BidAccepted(_)
                | Event::BidAmended(_)
                | Event::BidCancelled(_)
                | Event::AuctionAllocation(_)
                | Event::AuctionClosed(_) => self.replay_auction(stamp, event).map_err(fail)?,
                other => self.replay_admin(other).map_err(fail)?,
            }
        }
        if let Some(deal) = struck {
            return Err(fail(format!(
                "deal {} accepted but not traded",
                deal.deal_id
            )));
        }
        if let Command::SetBlockRules { instrument, rules } = command {
            if !events.iter().any(|e| matches!(e, Event::Rejected(_))) {
                self.set_journaled_block_rules(*instrument, rules)
                    .map_err(|reason| fail(format!("block rules refused ({reason:?})")))?;
            }
        }
        if let Command::EndOfDay {
            trading_date: Some(date),
        } = *command
        {
            if self.closed_date.is_some_and(|closed| date <= closed) {
                return Err(fail(format!(
                    "end of day closes {date}, not after {}",
                    self.closed_date.unwrap_or_default()
                )));
            }
            self.closed_date = Some(date);
        }
        if let Some(asked) = moves_asked(command) {
            // What moved is what the command asked for: an event of another
            // account or amount cannot come from it.
            let applied = !events.iter().any(|e| matches!(e, Event::Rejected(_)));
            let moved: Vec<TransferTerms> = events.iter().filter_map(moved).collect();
            if applied && moved != [asked] {
                return Err(fail(format!(
                    "the command moves {asked:?}, but its events move {moved:?}"
                )));
            }
            if let (Command::Transfer(transfer), true) = (command, applied) {
                self.remember(transfer.reference.clone(), asked);
            }
        }
        if let Some(order) = incoming.filter(|o| o.remaining_t > 0) {
            if !order.rests {
                return Err(fail(format!(
                    "order {} has {} t left but may not rest and was not cancelled",
                    order.order_id.0, order.remaining_t
                )));
            }
            let broker_at = self.accounts.broker_at(order.account_at);
            let book = &mut self.books[usize::from(order.instrument.0)];
            if !book.insert(
                order.order_id,
                (order.account, order.account_at, broker_at),
                order.side,
                order.limit_ticks,
                order.remaining_t,
            ) {
                return Err(fail(format!(
                    "order {} finds its book full",
                    order.order_id.0
                )));
            }
        }
        Ok(())
    }

    fn replay_accepted(&mut self, a: &Accepted) -> Result<Incoming, String> {
        if self.last_order_id >= Some(a.order_id) {
            return Err(format!(
                "order {} is not above the last accepted id",
                a.order_id.0
            ));
        }
        let i = self.instrument_index(a.instrument).map_err(|_| {
            format!(
                "order {} names unknown instrument {}",
                a.order_id.0, a.instrument.0
            )
        })?;
        let account_at = self.accounts.locate(a.account).ok_or_else(|| {
            format!(
                "order {} names unknown account {}",
                a.order_id.0, a.account.0
            )
        })?;
        let broker = self.accounts.at(account_at).broker;
        if let Err(reason) = self.membership.check_order(a.account, broker) {
            return Err(format!("order {} of a {reason:?} account", a.order_id.0));
        }
        let rules = self.books[i].rules();
        if rules.check_price(a.price_ticks).is_err() {
            return Err(format!("order {} is priced outside the band", a.order_id.0));
        }
        if let Err(reason) = rules.check_quantity(a.quantity_t) {
            return Err(format!(
                "order {} of {} t breaks the order sizes ({reason:?})",
                a.order_id.0, a.quantity_t
            ));
        }
        let claim = Claim {
            instrument: a.instrument,
            side: a.side,
            price_ticks: a.price_ticks,
            quantity_t: a.quantity_t,
        };
        let (account, holding) = self.accounts.with_holding_mut(account_at, claim.instrument);
        check_funded(account, holding, &claim)
            .map_err(|why| format!("order {}: {why}", a.order_id.0))?;
        self.last_order_id = Some(a.order_id);
        risk::reserve(account, holding, &claim);
        Ok(Incoming {
            order_id: a.order_id,
            account: a.account,
            account_at,
            instrument: a.instrument,
            side: a.side,
            limit_ticks: a.price_ticks,
            remaining_t: a.quantity_t,
            rests: a.order_type == OrderType::Limit && a.time_in_force == TimeInForce::Day,
        })
    }

    fn replay_trade(&mut self, t: &Trade, incoming: Option<&mut Incoming>) -> Result<(), String> {
        let taker = incoming
            .filter(|o| o.order_id == t.taker_order_id && o.instrument == t.instrument)
            .ok_or_else(|| {
                format!(
                    "trade {} has no incoming order {}",
                    t.trade_id, t.taker_order_id.0
                )
            })?;
        if t.trade_id != self.next_trade_id {
            return Err(format!(
                "trade {} out of turn, expected {}",
                t.trade_id, self.next_trade_id
            ));
        }
        let i = usize::from(t.instrument.0);
        let book = &mut self.books[i];
        let (slot, maker) = book.find(t.maker_order_id).ok_or_else(|| {
            format!(
                "trade {} names maker {} that does not rest",
                t.trade_id, t.maker_order_id.0
            )
        })?;
        let fits = maker.price_ticks == t.price_ticks
            && t.quantity_t > 0
            && maker.quantity_t.checked_sub(t.quantity_t) == Some(t.maker_remaining_t)
            && taker.remaining_t.checked_sub(t.quantity_t) == Some(t.taker_remaining_t)
            && maker.side != taker.side
            && t.aggressor == taker.side
            && maker.account == t.maker_account
            && taker.account == t.taker_account
            && maker.account != taker.account;
        if !fits {
            return Err(format!("trade {} does not fit its orders", t.trade_id));
        }
        let maker_at = book.account_at(slot);
        if t.maker_remaining_t == 0 {
            book.remove(slot);
        } else {
            book.reduce(slot, t.maker_remaining_t);
        }
        taker.remaining_t = t.taker_remaining_t;
        self.next_trade_id += 1;
        let fill = Fill {
            instrument: t.instrument,
            price_ticks: t.price_ticks,
            quantity_t: t.quantity_t,
            aggressor: t.aggressor,
            maker_at,
        };
        let taker = (taker.account_at, taker.limit_ticks);
        let (market, accounts) = (&mut self.markets[i], &mut self.accounts);
        // The large-holder event, if any, is in the journal already.
        let _ = settle_fill(market, accounts, self.trading_day, taker, &fill);
        Ok(())
    }

    /// A resting order's cancellation by `command`: with the cause that
    /// command gives, of the order as it rests (its account, side and
    /// tonnes).
    fn replay_cancelled(&mut self, command: &Command, c: &Cancelled) -> Result<(), String> {
        let i = self
            .instrument_index(c.instrument)
            .map_err(|_| format!("cancel names unknown instrument {}", c.instrument.0))?;
        let (order, account_at) = self.books[i]
            .take(c.order_id)
            .ok_or_else(|| format!("cancel of order {} that does not rest", c.order_id.0))?;
        if (order.account, order.side, order.quantity_t) != (c.account, c.side, c.cancelled_t) {
            return Err(format!(
                "the cancel of order {} says account {} {:?} {} t, but it rests as account {}'s {:?} of {} t",
                c.order_id.0,
                c.account.0,
                c.side,
                c.cancelled_t,
                order.account.0,
                order.side,
                order.quantity_t
            ));
        }
        if resting_cancel_cause(command) != Some(c.cause) {
            return Err(format!(
                "a {:?} cancels resting order {} with cause {:?}",
                command.kind(),
                c.order_id.0,
                c.cause
            ));
        }
        self.release_open(
            account_at,
            c.instrument,
            order.side,
            order.price_ticks,
            order.quantity_t,
        );
        Ok(())
    }

    /// Applies an amend; returns the order when it lost its place and now
    /// trades as an incoming order.
    fn replay_amended(&mut self, a: &Amended) -> Result<Option<Incoming>, String> {
        let i = self
            .instrument_index(a.instrument)
            .map_err(|_| format!("amend names unknown instrument {}", a.instrument.0))?;
        let book = &mut self.books[i];
        let (slot, old) = book
            .find(a.order_id)
            .ok_or_else(|| format!("amend of order {} that does not rest", a.order_id.0))?;
        if book.rules().check_price(a.price_ticks).is_err() {
            return Err(format!(
                "order {} is amended outside the band",
                a.order_id.0
            ));
        }
        if book.rules().check_quantity(a.quantity_t).is_err() {
            return Err(format!(
                "order {} is amended to {} t, outside the order sizes",
                a.order_id.0, a.quantity_t
            ));
        }
        let keeps = a.price_ticks == old.price_ticks && a.quantity_t <= old.quantity_t;
        if a.priority_kept != keeps || a.side != old.side || a.account != old.account {
            return Err(format!(
                "the amend of order {} does not fit the order",
                a.order_id.0
            ));
        }
        let account_at = book.account_at(slot);
        let old_claim = Claim {
            instrument: a.instrument,
            side: old.side,
            price_ticks: old.price_ticks,
            quantity_t: old.quantity_t,
        };
        let new_claim = Claim {
            price_ticks: a.price_ticks,
            quantity_t: a.quantity_t,
            ..old_claim
        };
        let (account, holding) = self.accounts.with_holding_mut(account_at, a.instrument);
        risk::release(account, holding, &old_claim);
        if let Err(why) = check_funded(account, holding, &new_claim) {
            risk::reserve(account, holding, &old_claim);
            return Err(format!("amend of order {}: {why}", a.order_id.0));
        }
        risk::reserve(account, holding, &new_claim);
        let book = &mut self.books[i];
        if a.priority_kept {
            book.reduce(slot, a.quantity_t);
            return Ok(None);
        }
        book.remove(slot);
        Ok(Some(Incoming {
            order_id: a.order_id,
            account: old.account,
            account_at,
            instrument: a.instrument,
            side: old.side,
            limit_ticks: a.price_ticks,
            remaining_t: a.quantity_t,
            rests: true,
        }))
    }

    /// Applies the definition command an event says was applied, and
    /// checks that it gives that very event.
    fn replay_definition(
        &mut self,
        stamp: Stamp,
        command: &Command,
        event: &Event,
    ) -> Result<(), String> {
        let fits = matches!(
            (command, event),
            (Command::ListInstrument(_), Event::InstrumentListed(_))
                | (
                    Command::ReviseInstrument { .. },
                    Event::InstrumentRevised(_)
                )
                | (Command::SetCalendar(_), Event::CalendarSet)
        );
        if !fits {
            return Err(format!("{event:?} for a {:?} command", command.kind()));
        }
        let mut made = Vec::with_capacity(1);
        if let Command::ReviseInstrument {
            instrument,
            ref spec,
        } = *command
        {
            self.revise_journaled_instrument(instrument, spec, &mut made)
                .map_err(|reason| format!("{event:?} where the command is refused ({reason:?})"))?;
        } else if let Command::ListInstrument(ref spec) = *command {
            self.list_journaled_instrument(spec, &mut made)
                .map_err(|reason| format!("{event:?} where the command is refused ({reason:?})"))?;
        } else {
            self.apply(command, stamp, &mut made);
        }
        if made != [*event] {
            return Err(format!("{event:?} where the command gives {made:?}"));
        }
        Ok(())
    }
}

/// Whether `account` has the free cash (a buy), or its `holding` of the
/// claim's instrument the free allowances (a sell), that `claim` reserves,
/// as the live engine checked before it accepted the order.
pub(super) fn check_funded(
    account: &Account,
    holding: &Holding,
    claim: &Claim,
) -> Result<(), String> {
    let funded = match claim.side {
        Side::Buy => {
            risk::value_fen(claim.price_ticks, claim.quantity_t) <= account.available_fen()
        }
        Side::Sell => risk::check_sellable(holding, claim.quantity_t).is_ok(),
    };
    if funded {
        Ok(())
    } else {
        Err(format!(
            "account {} cannot fund {} t at {} ticks",
            account.id.0, claim.quantity_t, claim.price_ticks
        ))
    }
}

/// What a command that moves cash or allowances asks to move.
fn moves_asked(command: &Command) -> Option<TransferTerms> {
    let (account, asset, direction, amount) = match *command {
        Command::Transfer(ref transfer) => return Some(transfer.terms()),
        Command::Deposit {
            account,
            amount_fen,
        } => (
            account,
            Asset::Cash,
            Direction::In,
            amount_fen.unsigned_abs(),
        ),
        Command::Withdraw {
            account,
            amount_fen,
        } => (
            account,
            Asset::Cash,
            Direction::Out,
            amount_fen.unsigned_abs(),
        ),
        Command::CreditHoldings {
            account,
            instrument,
            quantity_t,
        } => (
            account,
            Asset::Allowances(instrument),
            Direction::In,
            quantity_t,
        ),
        Command::DebitHoldings {
            account,
            instrument,
            quantity_t,
        } => (
            account,
            Asset::Allowances(instrument),
            Direction::Out,
            quantity_t,
        ),
        _ => return None,
    };
    Some(TransferTerms {
        account,
        asset,
        direction,
        amount,
    })
}

/// What a cash or allowance event moved.
fn moved(event: &Event) -> Option<TransferTerms> {
    let cash = |c: &crate::event::CashMoved, direction| TransferTerms {
        account: c.account,
        asset: Asset::Cash,
        direction,
        amount: c.amount_fen.unsigned_abs(),
    };
    let held = |h: &crate::event::HoldingsMoved, direction| TransferTerms {
        account: h.account,
        asset: Asset::Allowances(h.instrument),
        direction,
        amount: h.quantity_t,
    };
    match event {
        Event::CashDeposited(c) => Some(cash(c, Direction::In)),
        Event::CashWithdrawn(c) => Some(cash(c, Direction::Out)),
        Event::HoldingsCredited(h) => Some(held(h, Direction::In)),
        Event::HoldingsDebited(h) => Some(held(h, Direction::Out)),
        _ => None,
    }
}

/// The cause with which `command` cancels resting orders, if it does.
const fn resting_cancel_cause(command: &Command) -> Option<CancelCause> {
    match command {
        Command::Cancel { .. } => Some(CancelCause::Requested),
        Command::EndOfDay { .. } => Some(CancelCause::Expired),
        Command::SetAccountStatus { .. } | Command::SetBrokerStatus { .. } => {
            Some(CancelCause::Suspended)
        }
        Command::CancelOnDisconnect { .. } => Some(CancelCause::Disconnected),
        _ => None,
    }
}
