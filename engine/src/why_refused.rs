//! What an operator must fix when the engine refuses an action whose code
//! alone does not say: the rule a listing or revision breaks (109), and
//! (an outside tester: 116 did not say what an account
//! still held, 305 not why the instrument was busy, 212 not what the
//! reference was used for, 108 not that the market's total would
//! overflow). Asked after the refusal, of the state the refusal left as it
//! was: the engine keeps only the code; the words are the gateway's to
//! send.

use rust_decimal::Decimal;

use crate::command::{Asset, Command, Direction};
use crate::engine::{Applied, Engine};
use crate::membership::Status;
use crate::reject::RejectReason;

impl Engine {
    /// Why the engine refused `command` for `reason`, in words, where the
    /// code alone does not say what to fix; `None` otherwise.
    #[must_use]
    pub fn why_refused(&self, command: &Command, reason: RejectReason) -> Option<String> {
        match (command, reason) {
            // The rule a listing or revision breaks.
            (
                Command::ListInstrument(_) | Command::ReviseInstrument { .. },
                RejectReason::InvalidInstrumentSpec,
            ) => self.spec_error(command).map(|e| e.to_string()),
            (
                Command::SetAccountStatus {
                    account,
                    status: Status::Closed,
                },
                RejectReason::AccountNotEmpty,
            ) => {
                let a = self.accounts.get(*account)?;
                // Short: a reply holds 128 bytes (tester 164: one resting
                // buy and one sell already passed it).
                let mut held = Vec::new();
                if a.cash_fen != 0 || a.reserved_fen != 0 {
                    let mut cash = format!("{} CNY", Decimal::new(a.cash_fen, 2));
                    if a.reserved_fen != 0 {
                        cash += &format!(" ({} reserved)", Decimal::new(a.reserved_fen, 2));
                    }
                    held.push(cash);
                }
                let holdings = self.accounts.holdings_of(*account).unwrap_or_default();
                for (i, h) in holdings.iter().enumerate() {
                    if h.balance_t == 0 && h.buying_t == 0 {
                        continue;
                    }
                    let symbol = self.markets.get(i).map_or("?", |m| m.spec.symbol.as_str());
                    let mut tonnes = format!("{symbol} {} t", h.balance_t);
                    // What its open sells, offers and bids hold of them
                    // (tester 166 F1: a resting sell was not named).
                    if h.reserved_t != 0 {
                        tonnes += &format!(" ({} t reserved)", h.reserved_t);
                    }
                    if h.buying_t != 0 {
                        tonnes += &format!(" (+{} t bid)", h.buying_t);
                    }
                    held.push(tonnes);
                }
                Some(format!("it holds {}", held.join(", ")))
            }
            (Command::ReviseInstrument { instrument, .. }, RejectReason::InstrumentBusy) => {
                let i = self.instrument_index(*instrument).ok()?;
                let phase = self.markets[i].phase;
                Some(if phase.accepts_orders() {
                    format!("it trades ({phase:?}): halt it first")
                } else if !self.books[i].is_empty() {
                    "orders rest in its book: cancel them, or wait for the end of day".to_owned()
                } else {
                    "a block offer, a deal waiting for confirmation or an auction of it is open"
                        .to_owned()
                })
            }
            (Command::Transfer(transfer), RejectReason::ReferenceReused) => {
                let Applied {
                    terms: Some(terms),
                    trading_day,
                } = self.references.get(&transfer.reference)?
                else {
                    return None;
                };
                let what = match (terms.asset, terms.direction) {
                    (Asset::Cash, Direction::In) => "a deposit",
                    (Asset::Cash, Direction::Out) => "a withdrawal",
                    (Asset::Allowances(_), Direction::In) => "a transfer in",
                    (Asset::Allowances(_), Direction::Out) => "a transfer out",
                };
                let amount = match terms.asset {
                    Asset::Cash => i64::try_from(terms.amount).map_or_else(
                        |_| format!("{} fen", terms.amount),
                        |fen| format!("{} CNY", Decimal::new(fen, 2)),
                    ),
                    Asset::Allowances(instrument) => {
                        let symbol = self.spec(instrument).map_or("?", |s| s.symbol.as_str());
                        format!("{} t of {symbol}", terms.amount)
                    }
                };
                let when = match self.trading_day.saturating_sub(*trading_day) {
                    0 => "today".to_owned(),
                    1 => "the trading day before".to_owned(),
                    days => format!("{days} trading days ago"),
                };
                Some(format!(
                    "it named {what} of {amount} for account {}, {when}",
                    terms.account.0
                ))
            }
            (Command::Transfer(transfer), RejectReason::InvalidAmount)
                if transfer.direction == Direction::In && transfer.amount > 0 =>
            {
                Some(match transfer.asset {
                    Asset::Cash => {
                        "every account's cash together would pass 2^63 - 1 fen".to_owned()
                    }
                    Asset::Allowances(_) => {
                        "every account's tonnes of the instrument together would pass 2^64 - 1"
                            .to_owned()
                    }
                })
            }
            (Command::SetBlockRules { instrument, rules }, RejectReason::InvalidInstrumentSpec) => {
                let i = self.instrument_index(*instrument).ok()?;
                let max_orders = self.markets[i].spec.max_orders;
                match (
                    rules.problem(),
                    self.check_open_total(Some(i), max_orders, rules.max_open),
                ) {
                    (Some(problem), _) => Some(problem.to_owned()),
                    (None, Err(error)) => Some(error.to_string()),
                    (None, Ok(_)) => None,
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::command::{Asset, Command, Direction, Stamp, Transfer};
    use crate::engine::Engine;
    use crate::event::Event;
    use crate::order::AccountId;
    use crate::participant::ParticipantType;
    use crate::reject::RejectReason;
    use crate::BrokerId;

    fn apply(engine: &mut Engine, seq: &mut u64, command: &Command) -> Option<RejectReason> {
        *seq += 1;
        let mut events = Vec::new();
        let stamp = Stamp {
            seq: *seq,
            time_ns: 0,
        };
        engine.apply(command, stamp, &mut events);
        match events.as_slice() {
            [Event::Rejected(r)] => Some(r.reason),
            _ => None,
        }
    }

    #[test]
    fn a_deposit_past_the_market_s_cash_says_so_and_a_zero_one_does_not() {
        let (mut engine, mut seq) = (Engine::default(), 0);
        let open = Command::OpenAccount {
            account: AccountId(1),
            participant: ParticipantType::ComplianceEntity,
            broker: BrokerId(1),
        };
        assert_eq!(apply(&mut engine, &mut seq, &open), None);
        let deposit = |reference: &str, amount| {
            Command::Transfer(Box::new(Transfer {
                reference: reference.to_owned(),
                account: AccountId(1),
                asset: Asset::Cash,
                direction: Direction::In,
                amount,
            }))
        };
        let all = deposit("ALL", i64::MAX as u64);
        assert_eq!(apply(&mut engine, &mut seq, &all), None);
        let one_more = deposit("ONE", 1);
        let refused = apply(&mut engine, &mut seq, &one_more);
        assert_eq!(refused, Some(RejectReason::InvalidAmount));
        assert_eq!(
            engine
                .why_refused(&one_more, RejectReason::InvalidAmount)
                .as_deref(),
            Some("every account's cash together would pass 2^63 - 1 fen")
        );
        let nothing = deposit("ZERO", 0);
        assert_eq!(
            apply(&mut engine, &mut seq, &nothing),
            Some(RejectReason::InvalidAmount)
        );
        assert_eq!(
            engine.why_refused(&nothing, RejectReason::InvalidAmount),
            None
        );
        // The same reference for other terms: what it named.
        let reused = deposit("ALL", 5);
        assert_eq!(
            apply(&mut engine, &mut seq, &reused),
            Some(RejectReason::ReferenceReused)
        );
        assert_eq!(
            engine
                .why_refused(&reused, RejectReason::ReferenceReused)
                .as_deref(),
            Some("it named a deposit of 92233720368547758.07 CNY for account 1, today")
        );
    }

    /// 116 names what the account holds: its cash, and its tonnes with
    /// what its open sells reserve of them.
    #[test]
    fn a_close_refused_names_the_tonnes_a_resting_sell_reserves() {
        use crate::command::NewOrder;
        use crate::instrument::{InstrumentId, InstrumentSpec};
        use crate::membership::Status;
        use crate::order::{OrderId, OrderType, Side, TimeInForce};
        use crate::phase::Phase;
        let (mut engine, mut seq) = (Engine::default(), 0);
        let spec = InstrumentSpec::cea(2025, rust_decimal::Decimal::new(100_00, 2));
        let cea = InstrumentId(0);
        let account = AccountId(1);
        for command in [
            Command::ListInstrument(Box::new(spec)),
            Command::OpenAccount {
                account,
                participant: ParticipantType::ComplianceEntity,
                broker: BrokerId(1),
            },
            Command::CreditHoldings {
                account,
                instrument: cea,
                quantity_t: 100,
            },
            Command::SetPhase {
                instrument: cea,
                phase: Phase::Continuous,
            },
            Command::Submit(NewOrder {
                order_id: OrderId(1),
                account,
                instrument: cea,
                side: Side::Sell,
                order_type: OrderType::Limit,
                time_in_force: TimeInForce::Day,
                price_ticks: 100_00,
                quantity_t: 30,
                client_order_id: 1,
            }),
        ] {
            assert_eq!(apply(&mut engine, &mut seq, &command), None, "{command:?}");
        }
        let close = Command::SetAccountStatus {
            account,
            status: Status::Closed,
        };
        let refused = apply(&mut engine, &mut seq, &close);
        assert_eq!(refused, Some(RejectReason::AccountNotEmpty));
        assert_eq!(
            engine
                .why_refused(&close, RejectReason::AccountNotEmpty)
                .as_deref(),
            Some("it holds CEA2025 100 t (30 t reserved)")
        );
    }
}
