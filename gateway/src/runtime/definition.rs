//! The market's definition at start-up: the config held against the
//! journal's own.
//!
//! A journal describes its market (`docs/JOURNAL.md`, "The market's
//! definition"). A fresh data directory gets the config's definition as
//! its first entries. A directory with a journal must agree with the
//! config on every instrument the config names (matched by symbol: an
//! instrument an operator listed is the journal's, and the config need not
//! name it); where it does not, the server refuses to start and names the
//! first difference, unless the operator passes `--accept-config-change`:
//! then the change is journaled (a new calendar, an instrument listed or
//! revised, a new reference price) at the next sequence numbers, and the
//! market runs by it from there.
//!
//! The entries are planned on the recovered engine first, so that a
//! refused change journals nothing and the feed starts from the engine as
//! they leave it; they are then written before anything else (no broker is
//! connected, no report comes of them) and are durable before the runtime
//! goes on.

use cetx_engine::{
    journal::Durability, BlockRules, Calendar, Command, Engine, Event, JournalWriter,
    MarketDefinition, Phase, RejectReason, SpecError, Stamp, Transition,
};
use chrono::NaiveDate;

use super::RuntimeError;

/// The entries that bring a journal's definition to the config's, and the
/// engine as it stands after them.
pub(super) struct Planned {
    /// The engine after the entries.
    pub engine: Engine,
    /// Each entry, stamped, with the events it gives.
    pub entries: Vec<(Stamp, Command, Vec<Event>)>,
}

/// Plans the entries that journal the config's definition: all of it for
/// a fresh journal (`next_seq` 1); else nothing if the journal agrees, the
/// changes with `accept_change`, or a refusal naming the first
/// difference. Stamps follow `next_seq`, at `time_ns`.
///
/// # Errors
/// [`RuntimeError::ConfigDiffers`] naming the first difference (without
/// `accept_change`);
/// [`RuntimeError::DefinitionRefused`] when the engine refuses a change.
pub(super) fn plan(
    engine: Engine,
    config: &MarketDefinition,
    block_rules: &[(&str, BlockRules)],
    accept_change: bool,
    next_seq: u64,
    time_ns: i64,
) -> Result<Planned, RuntimeError> {
    let commands = if next_seq == 1 {
        config.genesis()
    } else {
        match engine.first_difference(config) {
            None => Vec::new(),
            Some(difference) if !accept_change => {
                return Err(RuntimeError::ConfigDiffers(difference))
            }
            Some(_) => engine.changes_to(config),
        }
    };
    let mut planned = Planned {
        engine,
        entries: Vec::with_capacity(commands.len()),
    };
    apply(&mut planned, commands, next_seq, time_ns)?;
    // Block rules are the config's to set, at every start: an instrument
    // whose journaled rules differ gets a `SetBlockRules` (for offers
    // posted from then on). The config names instruments by symbol; each
    // is listed by now (above), at whatever id the journal gave it.
    let engine = &planned.engine;
    let blocks: Vec<Command> = block_rules
        .iter()
        .filter_map(|(symbol, rules)| Some((engine.instrument_id(symbol)?, rules)))
        .filter(|(id, rules)| engine.block_rules(*id) != Some(*rules))
        .map(|(instrument, rules)| Command::SetBlockRules {
            instrument,
            rules: Box::new(rules.clone()),
        })
        .collect();
    let seq = next_seq + planned.entries.len() as u64;
    apply(&mut planned, blocks, seq, time_ns)?;
    Ok(planned)
}

/// Refuses a calendar that takes back the trading day the journal has
/// begun: its `last_time_ns` falls after that day's first open by the
/// journal's calendar, the day is not closed, and `calendar` makes it a
/// holiday, or dates the day after the last close otherwise (a holiday
/// before it removed). Its end of day would then never come, or come for
/// another date: its day orders would rest on into the next trading day,
/// and its trades be settled as another day's.
///
/// # Errors
/// [`RuntimeError::DayBegun`] naming the day.
pub(super) fn check_day_begun(
    engine: &Engine,
    calendar: &Calendar,
    last_time_ns: Option<i64>,
) -> Result<(), RuntimeError> {
    const NS_PER_DAY: i64 = 86_400 * 1_000_000_000;
    let (Some(journal), Some(last_ns)) = (engine.calendar(), last_time_ns) else {
        return Ok(());
    };
    // The next day the journal's calendar would close.
    let date = journal.trading_date(last_ns);
    let day = i32::try_from(date / 10_000)
        .ok()
        .and_then(|y| NaiveDate::from_ymd_opt(y, date / 100 % 100, date % 100));
    let closed = engine.closed_date().is_some_and(|closed| closed >= date);
    let kept = match engine.closed_date() {
        Some(closed) => calendar.next_trading_date(closed) == Some(date),
        None => day.is_some_and(|day| calendar.is_trading_day(day)),
    };
    if closed || kept {
        return Ok(());
    }
    // Its sessions lie within one local day, so its first open, if passed,
    // is within the day before the last entry.
    let begun = journal
        .transitions(last_ns.saturating_sub(NS_PER_DAY), last_ns)
        .iter()
        .any(|&(at_ns, transition)| {
            transition == Transition::Phase(Phase::Continuous)
                && journal.trading_date(at_ns) == date
        });
    if begun {
        return Err(RuntimeError::DayBegun { trading_date: date });
    }
    Ok(())
}

/// Tries a fresh market's account genesis (`commands`, the config's
/// `[[accounts]]`) on a copy of the planned engine, stamped from
/// `next_seq`, so that a start whose genesis the engine would refuse is
/// refused before anything is journaled: the definition's entries alone
/// would be a journal that a later start takes for a market, one without
/// the accounts. The runtime applies the genesis itself once this passes
/// (`lifecycle::start_up`); the engine decides alike both times.
///
/// # Errors
/// [`RuntimeError::DefinitionRefused`] naming the first command refused
/// and the engine's reason.
pub(super) fn check_genesis(
    planned: &Planned,
    commands: Vec<Command>,
    next_seq: u64,
    time_ns: i64,
) -> Result<(), RuntimeError> {
    if commands.is_empty() {
        return Ok(());
    }
    let mut trial = Planned {
        engine: planned.engine.clone(),
        entries: Vec::with_capacity(commands.len()),
    };
    apply(&mut trial, commands, next_seq, time_ns)
}

/// Applies `commands` to the planned engine, stamped from `next_seq`, and
/// adds them to the entries.
fn apply(
    planned: &mut Planned,
    commands: Vec<Command>,
    next_seq: u64,
    time_ns: i64,
) -> Result<(), RuntimeError> {
    for (seq, command) in (next_seq..).zip(commands) {
        let stamp = Stamp { seq, time_ns };
        let mut events = Vec::with_capacity(1);
        planned.engine.apply(&command, stamp, &mut events);
        if let Some(Event::Rejected(rejected)) = events.first() {
            // A refusal left the state as it was: asked of it now.
            let engine = &planned.engine;
            let identity = matches!(
                engine.spec_error(&command),
                Some(SpecError::RevisionChangesIdentity(_))
            );
            let why = (engine.why_refused(&command, rejected.reason))
                .map_or_else(String::new, |why| format!(": {why}"));
            let hint = match (rejected.reason, &command) {
                (RejectReason::InstrumentBusy | RejectReason::ReferencePriceLocked, _) => {
                    ". An instrument's rules change only while it is closed with an empty book: start with the journal's config until the calendar's close, then with this one (a close that passed while the server was down runs only once it has started: start once with the journal's config, stop it, then start with this one)"
                }
                (RejectReason::InvalidInstrumentSpec, Command::ReviseInstrument { .. })
                    if identity || why.is_empty() =>
                {
                    ". A revision keeps the instrument's symbol and kind (a CEA's vintage too): list another instrument for another kind or vintage"
                }
                (RejectReason::InvalidInstrumentSpec, Command::ListInstrument(_))
                    if why.is_empty() =>
                {
                    ". A CEA's symbol must hold its vintage year, and each vintage is listed once (the journal may list one already)"
                }
                _ => "",
            };
            // Block rules by the symbol the config names them by (tester
            // 164 F4: "instrument 7").
            let command_said = match &command {
                Command::SetBlockRules { instrument, .. } => (planned.engine.spec(*instrument))
                    .map_or_else(
                        || described(&command),
                        |spec| format!("the block rules of {} ([[blocks]])", spec.symbol),
                    ),
                _ => described(&command),
            };
            return Err(RuntimeError::DefinitionRefused {
                command: command_said,
                reason: rejected.reason,
                why,
                hint,
            });
        }
        planned.entries.push((stamp, command, events));
    }
    Ok(())
}

/// A definition command in a few words, for the refusal's message and
/// the log.
fn described(command: &Command) -> String {
    match command {
        Command::ListInstrument(spec) => format!("the listing of {}", spec.symbol),
        Command::ReviseInstrument { spec, .. } => format!("the revision of {}", spec.symbol),
        Command::SetReferencePrice {
            instrument,
            price_ticks,
        } => format!(
            "the reference price {price_ticks} ticks for instrument {}",
            instrument.0
        ),
        Command::SetCalendar(_) => "the new calendar".to_owned(),
        Command::SetBlockRules { instrument, .. } => {
            format!("the block rules of instrument {}", instrument.0)
        }
        Command::OpenAccount {
            account, broker, ..
        } => format!(
            "the opening of account {} for broker {} ([[accounts]])",
            account.0, broker.0
        ),
        Command::Deposit {
            account,
            amount_fen,
        } => format!(
            "the opening deposit of {amount_fen} fen to account {} ([[accounts]] cash)",
            account.0
        ),
        Command::CreditHoldings {
            account,
            instrument,
            quantity_t,
        } => format!(
            "the opening credit of {quantity_t} t of instrument {} to account {} ([[accounts]] holdings)",
            instrument.0, account.0
        ),
        other => format!("{:?}", other.kind()),
    }
}

/// Journals the planned entries and waits until they are durable (with
/// `durability` [`Durability::None`], hands them to a writer that keeps
/// nothing).
///
/// # Errors
/// [`RuntimeError::Journal`] when they cannot be appended or made durable.
pub(super) fn journal<R: Send + 'static>(
    writer: &JournalWriter<R>,
    entries: &[(Stamp, Command, Vec<Event>)],
    durability: Durability,
) -> Result<(), RuntimeError> {
    let Some((last, _, _)) = entries.last() else {
        return Ok(());
    };
    let failed = |context| move |source| RuntimeError::Journal { context, source };
    for (stamp, command, events) in entries {
        writer
            .append_blocking(*stamp, command, events)
            .map_err(failed("journaling the market's definition"))?;
        if durability == Durability::None {
            tracing::info!(seq = stamp.seq, command = ?command.kind(), what = %described(command), "applied the market's definition, unjournaled (durability = \"none\")");
        } else {
            tracing::info!(seq = stamp.seq, command = ?command.kind(), what = %described(command), "journaled the market's definition");
        }
    }
    while !writer
        .wait_durable(last.seq, std::time::Duration::from_secs(1))
        .map_err(failed("making the market's definition durable"))?
    {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use cetx_engine::{Engine, EngineConfig};

    use super::plan;
    use crate::config::ServerConfig;

    /// A market journaled with the demo config's instruments, and the
    /// sequence number after its definition.
    fn journaled(config: &ServerConfig) -> (Engine, u64) {
        let fresh = Engine::new(&EngineConfig::default()).unwrap();
        let planned = plan(fresh, &config.market(), &config.block_rules(), false, 1, 0).unwrap();
        let next_seq = 1 + planned.entries.len() as u64;
        (planned.engine, next_seq)
    }

    /// Each of `config`'s instruments has its block rules, found by symbol.
    fn assert_rules_as_configured(engine: &Engine, config: &ServerConfig) {
        for (symbol, rules) in config.block_rules() {
            let id = engine.instrument_id(symbol).unwrap();
            assert_eq!(engine.block_rules(id), Some(&rules), "{symbol}");
        }
    }

    #[test]
    fn block_rules_go_to_the_instrument_of_their_symbol_in_any_order() {
        let config = ServerConfig::embedded_default();
        let (engine, next_seq) = journaled(&config);
        let mut reordered = config.clone();
        reordered.instruments.reverse();
        let rules = reordered.block_rules();
        let again = plan(engine, &reordered.market(), &rules, false, next_seq, 0).unwrap();
        // The same market in another order: nothing to journal.
        assert!(again.entries.is_empty(), "{:?}", again.entries);
        // CCER's rules differ from the CEAs' (no blocks, confirmation), so
        // rules given by place would have moved them.
        assert_rules_as_configured(&again.engine, &config);
    }

    #[test]
    fn an_instrument_the_config_leaves_out_keeps_its_block_rules() {
        let config = ServerConfig::embedded_default();
        let (engine, next_seq) = journaled(&config);
        let mut fewer = config.clone();
        fewer.instruments.retain(|spec| spec.symbol != "CEA2024");
        let rules = fewer.block_rules();
        let again = plan(engine, &fewer.market(), &rules, false, next_seq, 0).unwrap();
        assert!(again.entries.is_empty(), "{:?}", again.entries);
        assert_rules_as_configured(&again.engine, &config);
    }
}
