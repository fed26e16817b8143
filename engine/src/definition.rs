//! The market's definition (its instruments and its calendar) as a config
//! gives it, held against the definition a journal carries.
//!
//! A journal describes its own market: its first entries set the calendar
//! and list each instrument, and any later change is an entry too (see
//! [`Command::ListInstrument`], [`Command::ReviseInstrument`] and
//! [`Command::SetCalendar`]). The journal, not the config, defines the
//! market: an instrument an operator listed while the server ran is in the
//! journal and need not be in the config, and instruments keep the ids the
//! journal gave them wherever the config lists them. A config is only
//! trusted where it agrees with the journal on what it does name:
//! [`Engine::first_difference`] names where it does not, and
//! [`Engine::changes_to`] gives the commands that would journal the
//! config's definition, for an operator who means the change.

use crate::calendar::Calendar;
use crate::command::Command;
use crate::engine::Engine;
use crate::instrument::{InstrumentKind, InstrumentSpec};
use crate::participant::ParticipantType;

/// A market's instruments, in id order, and its calendar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketDefinition {
    /// The instruments; an instrument's id is its position here.
    pub instruments: Vec<InstrumentSpec>,
    /// The exchange calendar.
    pub calendar: Calendar,
}

impl MarketDefinition {
    /// The commands that start a journal of this market: the calendar,
    /// then each instrument in order.
    #[must_use]
    pub fn genesis(&self) -> Vec<Command> {
        std::iter::once(Command::SetCalendar(Box::new(self.calendar.clone())))
            .chain(
                self.instruments
                    .iter()
                    .map(|spec| Command::ListInstrument(Box::new(spec.clone()))),
            )
            .collect()
    }
}

/// Where a config's market differs from the journal's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Difference {
    /// The journal has no calendar (it sets none).
    #[error("the journal sets no calendar")]
    NoCalendar,
    /// A calendar field differs.
    #[error("calendar.{field}: the journal has {journal}, the config {config}")]
    Calendar {
        /// The field.
        field: &'static str,
        /// The journal's value.
        journal: String,
        /// The config's value.
        config: String,
    },
    /// The config has an instrument the journal never listed.
    #[error("instrument {0} is in the config but not listed in the journal")]
    NotListed(String),
    /// A field of an instrument differs.
    #[error("instrument {symbol}.{field}: the journal has {journal}, the config {config}")]
    Instrument {
        /// The symbol.
        symbol: String,
        /// The field.
        field: &'static str,
        /// The journal's value.
        journal: String,
        /// The config's value.
        config: String,
    },
}

impl Engine {
    /// Every difference between `config` and the definition this engine
    /// holds (as its journal left it), the calendar's first, then by
    /// instrument in the config's order. Instruments are matched by
    /// symbol: one the journal lists and the config lacks (listed by an
    /// operator) is no difference, and neither is the config's order.
    #[must_use]
    pub fn differences(&self, config: &MarketDefinition) -> Vec<Difference> {
        let mut found = Vec::new();
        match self.calendar() {
            None => found.push(Difference::NoCalendar),
            Some(journal) => calendar_differences(journal, &config.calendar, &mut found),
        }
        for spec in &config.instruments {
            match self.instrument_id(&spec.symbol) {
                None => found.push(Difference::NotListed(spec.symbol.clone())),
                Some(id) => {
                    let listed = self.spec(id).expect("a listed instrument has a spec");
                    spec_differences(listed, spec, &mut found);
                }
            }
        }
        found
    }

    /// The first difference between `config` and this engine's definition.
    #[must_use]
    pub fn first_difference(&self, config: &MarketDefinition) -> Option<Difference> {
        self.differences(config).into_iter().next()
    }

    /// The commands that journal `config`'s definition over this engine's:
    /// a new calendar, each instrument listed (at the next id) or revised
    /// (at its id), and a new reference price where the config's listing
    /// price changed (the engine may still refuse a revision, of an
    /// instrument that trades or has resting orders). Instruments the
    /// config does not name stay as the journal has them.
    #[must_use]
    pub fn changes_to(&self, config: &MarketDefinition) -> Vec<Command> {
        let mut commands = Vec::new();
        if self.calendar() != Some(&config.calendar) {
            commands.push(Command::SetCalendar(Box::new(config.calendar.clone())));
        }
        for spec in &config.instruments {
            let listed = self
                .instrument_id(&spec.symbol)
                .and_then(|id| Some((id, self.spec(id)?)));
            match listed {
                None => commands.push(Command::ListInstrument(Box::new(spec.clone()))),
                Some((instrument, listed)) if normal(listed) != normal(spec) => {
                    commands.push(Command::ReviseInstrument {
                        instrument,
                        spec: Box::new(spec.clone()),
                    });
                    if listed.reference_price != spec.reference_price {
                        commands.push(Command::SetReferencePrice {
                            instrument,
                            price_ticks: crate::instrument::price_to_ticks(spec.reference_price)
                                .unwrap_or(0),
                        });
                    }
                }
                Some(_) => {}
            }
        }
        commands
    }
}

fn calendar_differences(journal: &Calendar, config: &Calendar, found: &mut Vec<Difference>) {
    let mut differ = |field, journal: String, config: String| {
        let shown = |value: String| {
            if value.is_empty() {
                "none".to_owned()
            } else {
                value
            }
        };
        let (journal, config) = (shown(journal), shown(config));
        if journal != config {
            found.push(Difference::Calendar {
                field,
                journal,
                config,
            });
        }
    };
    differ(
        "utc_offset_s",
        journal.utc_offset_s.to_string(),
        config.utc_offset_s.to_string(),
    );
    let sessions = |c: &Calendar| {
        c.sessions
            .iter()
            .map(|s| {
                format!(
                    "{}-{}",
                    s.open.format("%H:%M:%S"),
                    s.close.format("%H:%M:%S")
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    differ("sessions", sessions(journal), sessions(config));
    let holidays = |c: &Calendar| {
        c.holidays
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    differ("holidays", holidays(journal), holidays(config));
}

/// `spec` as compared: decimals by value (a tick of 0.05 is one of
/// 0.050), and each default written out
/// ([`InstrumentSpec::with_defaults`]).
fn normal(spec: &InstrumentSpec) -> InstrumentSpec {
    let spec = spec.with_defaults();
    InstrumentSpec {
        tick: spec.tick.normalize(),
        reference_price: spec.reference_price.normalize(),
        ..spec
    }
}

/// A value as a difference names it: as the config spells it (a kind as
/// `{ type = "cea", vintage = 2025 }`, participant types as
/// `["compliance_entity"]`), a rule that is not set as `none`.
trait Spelled {
    fn spelled(&self) -> String;
}

macro_rules! spelled_as_displayed {
    ($($t:ty),*) => {
        $(impl Spelled for $t {
            fn spelled(&self) -> String {
                self.to_string()
            }
        })*
    };
}

spelled_as_displayed!(u32, u64, bool, rust_decimal::Decimal);

impl<T: Spelled> Spelled for Option<T> {
    fn spelled(&self) -> String {
        self.as_ref()
            .map_or_else(|| "none".to_owned(), Spelled::spelled)
    }
}

impl Spelled for InstrumentKind {
    fn spelled(&self) -> String {
        match self {
            Self::Cea { vintage } => format!("{{ type = \"cea\", vintage = {vintage} }}"),
            Self::Ccer {} => "{ type = \"ccer\" }".to_owned(),
        }
    }
}

impl Spelled for Vec<ParticipantType> {
    fn spelled(&self) -> String {
        let names: Vec<String> = self
            .iter()
            .map(|p| format!("\"{}\"", p.config_name()))
            .collect();
        format!("[{}]", names.join(", "))
    }
}

fn spec_differences(
    journal: &InstrumentSpec,
    config: &InstrumentSpec,
    found: &mut Vec<Difference>,
) {
    // Compared by what they do, named as written (with each default
    // written out): a reference price of 90.00 is no change from 90, and
    // named 90.00.
    let (ours, theirs) = (normal(journal), normal(config));
    let (shown_ours, shown_theirs) = (journal.with_defaults(), config.with_defaults());
    macro_rules! compare {
        ($($field:ident),* $(,)?) => {
            // Every field is named here, so a new one cannot be forgotten.
            let InstrumentSpec { symbol: _, $($field: _),* } = journal;
            $(
                if ours.$field != theirs.$field {
                    found.push(Difference::Instrument {
                        symbol: config.symbol.clone(),
                        field: stringify!($field),
                        journal: shown_ours.$field.spelled(),
                        config: shown_theirs.$field.spelled(),
                    });
                }
            )*
        };
    }
    compare!(
        kind,
        tick,
        lot_t,
        min_order_t,
        max_order_t,
        band_bps,
        reference_price,
        max_orders,
        eligible,
        position_limit_t,
        large_holder_bps,
        t_plus_one,
        opposite_side_gap_days,
        max_orders_per_account,
        max_orders_per_broker,
        max_price_levels,
        auctions,
        min_auction_t,
    );
}
