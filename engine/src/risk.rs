//! Pre-trade checks and the money side of each order: full pre-funding,
//! holding rules, eligibility and position limits.
//!
//! Every open order holds a reservation on its account: a buy reserves its
//! limit price × open quantity in cash, a sell reserves its open quantity in
//! allowances. The reservation is taken when the order is accepted, released
//! as it trades, is cancelled or expires, and resized when it is amended, so
//! no account can ever promise the same fen or tonne twice.

use crate::account::{Account, Holding};
use crate::event::LargeHolder;
use crate::instrument::{InstrumentId, Policy};
use crate::order::{AccountId, Side};
use crate::reject::RejectReason;

/// Cash in fen for `quantity_t` tonnes at `price_ticks` (1 tick = 1 fen).
///
/// Prices are bounded by the band and quantities by the maximum order
/// size, so the product of two configured values fits an `i64`: one
/// multiply. If a config ever says otherwise, the value saturates rather
/// than wraps.
#[inline]
pub(crate) fn value_fen(price_ticks: i64, quantity_t: u64) -> i64 {
    match i64::try_from(quantity_t) {
        Ok(quantity) => match price_ticks.checked_mul(quantity) {
            Some(value) => value,
            None => value_fen_wide(price_ticks, quantity_t),
        },
        Err(_) => value_fen_wide(price_ticks, quantity_t),
    }
}

/// [`value_fen`] for a product past `i64`, or a quantity past `i64::MAX`,
/// whose value may still fit (a price of 0).
#[cold]
fn value_fen_wide(price_ticks: i64, quantity_t: u64) -> i64 {
    i64::try_from(i128::from(price_ticks) * i128::from(quantity_t)).unwrap_or(i64::MAX)
}

/// Whether `available_fen` pays for `quantity_t` tonnes at `price_ticks`:
/// a cost past an `i64` (a config whose prices times its largest order
/// pass one) is more than any account has, where [`value_fen`] would
/// saturate at `i64::MAX`, which an account holding all of it covers.
#[inline]
fn covers(available_fen: i64, price_ticks: i64, quantity_t: u64) -> bool {
    i64::try_from(quantity_t)
        .ok()
        .and_then(|quantity| price_ticks.checked_mul(quantity))
        .is_some_and(|cost_fen| cost_fen <= available_fen)
}

/// An order's claim on its account: what it may trade and at what price.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Claim {
    pub(crate) instrument: InstrumentId,
    pub(crate) side: Side,
    /// Price the cash of a buy is reserved at: its limit.
    pub(crate) price_ticks: i64,
    pub(crate) quantity_t: u64,
}

/// Checks whether `account`, holding `holding` of the claim's instrument,
/// may place `claim` today, in this order: eligibility, the opposite-side
/// gap, then the position limit and cash for a buy, or free allowances for
/// a sell.
///
/// # Errors
/// The first rule the order breaks.
#[inline(always)]
pub(crate) fn check(
    account: &Account,
    holding: &Holding,
    policy: &Policy,
    claim: &Claim,
    trading_day: u32,
) -> Result<(), RejectReason> {
    if !policy.admits(account.participant) {
        return Err(RejectReason::ParticipantNotEligible);
    }
    if policy.opposite_side_gap_days > 0 {
        let (open_opposite_t, last_opposite_day) = match claim.side {
            Side::Buy => (holding.reserved_t, holding.last_sell_day),
            Side::Sell => (holding.buying_t, holding.last_buy_day),
        };
        let too_soon =
            last_opposite_day.is_some_and(|day| trading_day - day < policy.opposite_side_gap_days);
        if open_opposite_t > 0 || too_soon {
            return Err(RejectReason::OppositeSideTooSoon);
        }
    }
    match claim.side {
        Side::Buy => {
            let position_t = u128::from(holding.balance_t)
                + u128::from(holding.buying_t)
                + u128::from(claim.quantity_t);
            if position_t > u128::from(policy.position_limit_t) {
                return Err(RejectReason::PositionLimitExceeded);
            }
            if !covers(account.available_fen(), claim.price_ticks, claim.quantity_t) {
                return Err(RejectReason::InsufficientCash);
            }
        }
        Side::Sell => check_sellable(holding, claim.quantity_t)?,
    }
    Ok(())
}

/// Whether `quantity_t` of a holding is free to sell or transfer out now:
/// not reserved by open sells, and not bought today under T+1.
///
/// # Errors
/// [`RejectReason::HoldingsLockedUntilNextDay`] when today's purchases
/// would cover it, otherwise [`RejectReason::InsufficientHoldings`].
#[inline]
pub(crate) const fn check_sellable(holding: &Holding, quantity_t: u64) -> Result<(), RejectReason> {
    if quantity_t <= holding.sellable_t() {
        Ok(())
    } else if quantity_t <= holding.sellable_t() + holding.locked_t {
        Err(RejectReason::HoldingsLockedUntilNextDay)
    } else {
        Err(RejectReason::InsufficientHoldings)
    }
}

/// Takes the reservation of an accepted order from its account and the
/// account's holding of the order's instrument.
#[inline]
pub(crate) fn reserve(account: &mut Account, holding: &mut Holding, claim: &Claim) {
    match claim.side {
        Side::Buy => {
            account.reserved_fen += value_fen(claim.price_ticks, claim.quantity_t);
            holding.buying_t += claim.quantity_t;
        }
        Side::Sell => holding.reserved_t += claim.quantity_t,
    }
}

/// Gives back the reservation of an order's open quantity that will not
/// trade (cancelled, expired, killed, or about to be resized), to its
/// account and the account's holding of the order's instrument.
#[inline]
pub(crate) fn release(account: &mut Account, holding: &mut Holding, claim: &Claim) {
    match claim.side {
        Side::Buy => {
            account.reserved_fen -= value_fen(claim.price_ticks, claim.quantity_t);
            holding.buying_t -= claim.quantity_t;
        }
        Side::Sell => holding.reserved_t -= claim.quantity_t,
    }
}

/// One side of a trade: an account and its holding of the instrument
/// traded, as [`crate::account::Accounts::pair_at_mut`] lends them.
pub(crate) type TradeSide<'a> = (&'a mut Account, &'a mut Holding);

/// What moves in one trade, and the price the buyer's cash was reserved
/// at: a buying taker's limit, or the trade price for a buying maker and
/// for both sides of a block deal.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deal {
    pub(crate) instrument: InstrumentId,
    pub(crate) price_ticks: i64,
    pub(crate) quantity_t: u64,
    pub(crate) buyer_limit_ticks: i64,
}

impl Deal {
    /// A block deal: both sides reserved at its price.
    pub(crate) const fn at(instrument: InstrumentId, price_ticks: i64, quantity_t: u64) -> Self {
        Self {
            instrument,
            price_ticks,
            quantity_t,
            buyer_limit_ticks: price_ticks,
        }
    }
}

/// Moves cash and allowances for one trade, between each side's account
/// and its holding of the deal's instrument. The buyer's reservation was
/// at `deal.buyer_limit_ticks`; the difference to the trade price (the
/// price improvement) returns to its free cash. Returns a large-holder
/// event when the buyer's holding reaches the threshold.
#[inline]
pub(crate) fn settle(
    (buyer, holding): TradeSide<'_>,
    seller: TradeSide<'_>,
    policy: &Policy,
    deal: &Deal,
    trading_day: u32,
) -> Option<LargeHolder> {
    let paid_fen = value_fen(deal.price_ticks, deal.quantity_t);
    let released_fen = if deal.buyer_limit_ticks == deal.price_ticks {
        paid_fen
    } else {
        value_fen(deal.buyer_limit_ticks, deal.quantity_t)
    };
    let bought = Bought {
        quantity_t: deal.quantity_t,
        paid_fen,
        released_fen,
    };
    let before_t = settle_buyer((&mut *buyer, holding), policy, &bought, trading_day);
    settle_seller(seller, deal.quantity_t, paid_fen, trading_day);
    large_holder(policy, buyer.id, deal.instrument, before_t, deal.quantity_t)
}

/// What a buyer takes in one trade, or in a taker's trades of one match
/// together: tonnes, the cash they cost, and the cash their reservation
/// held (at the buyer's limit, or at the trade price when it is the same).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bought {
    pub(crate) quantity_t: u64,
    pub(crate) paid_fen: i64,
    pub(crate) released_fen: i64,
}

/// The buying side of a trade: the tonnes into its holding (locked until
/// the next day under T+1), the cash out of its account and its
/// reservation. Returns the holding's balance before, for
/// [`large_holder`].
#[inline(always)]
pub(crate) fn settle_buyer(
    (buyer, h): TradeSide<'_>,
    policy: &Policy,
    bought: &Bought,
    trading_day: u32,
) -> u64 {
    buyer.reserved_fen -= bought.released_fen;
    buyer.cash_fen -= bought.paid_fen;
    let before_t = h.balance_t;
    h.balance_t += bought.quantity_t;
    h.buying_t -= bought.quantity_t;
    if policy.t_plus_one {
        h.locked_t += bought.quantity_t;
    }
    h.last_buy_day = Some(trading_day);
    before_t
}

/// The selling side of a trade: the tonnes out of its holding and their
/// reservation, the cash into its account.
#[inline(always)]
pub(crate) fn settle_seller(
    (seller, h): TradeSide<'_>,
    quantity_t: u64,
    paid_fen: i64,
    trading_day: u32,
) {
    seller.cash_fen += paid_fen;
    h.balance_t -= quantity_t;
    h.reserved_t -= quantity_t;
    h.last_sell_day = Some(trading_day);
}

/// The large-holder event of `account`, if buying `quantity_t` took its
/// holding of `instrument` from `before_t` to the threshold or past it.
#[inline(always)]
pub(crate) fn large_holder(
    policy: &Policy,
    account: AccountId,
    instrument: InstrumentId,
    before_t: u64,
    quantity_t: u64,
) -> Option<LargeHolder> {
    let balance_t = before_t + quantity_t;
    crossed(policy, before_t, balance_t).map(|threshold_t| LargeHolder {
        account,
        instrument,
        balance_t,
        threshold_t,
    })
}

/// The large-holder threshold, if a holding that went from `before_t` to
/// `after_t` reached it.
pub(crate) fn crossed(policy: &Policy, before_t: u64, after_t: u64) -> Option<u64> {
    policy
        .large_holder_t
        .filter(|&threshold_t| before_t < threshold_t && threshold_t <= after_t)
}

#[cfg(test)]
mod tests {
    use super::value_fen;

    #[test]
    fn a_value_is_one_multiply_and_saturates_past_i64() {
        assert_eq!(value_fen(7_512, 300), 2_253_600);
        assert_eq!(value_fen(i64::MAX, 1), i64::MAX);
        assert_eq!(value_fen(2, u64::MAX / 4), (u64::MAX / 2) as i64 - 1);
        // Past i64: saturates, whether the multiply or the quantity is.
        assert_eq!(value_fen(i64::MAX / 2, 3), i64::MAX);
        assert_eq!(value_fen(1, u64::MAX), i64::MAX);
        assert_eq!(value_fen(-5, u64::MAX), i64::MAX);
        // A quantity past i64 may still have a value that fits.
        assert_eq!(value_fen(0, u64::MAX), 0);
    }
}
