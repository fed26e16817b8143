//! The market's definition as commands: listing and revising instruments,
//! setting the calendar, their rejects, their replay, and the differences
//! between a config and a journal's market.

use cetx_engine::{
    AccountId, BlockRules, BrokerId, Calendar, Command, Difference, Engine, Event, InstrumentId,
    InstrumentSpec, MarketDefinition, ParticipantType, Phase, RejectReason, Stamp, MAX_OPEN_TOTAL,
};
use rust_decimal::Decimal;

fn cny(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// The definition of a small market: CEA2025 around 90.00 and a CCER on a
/// tick of 0.05 around 85.00, on the default calendar.
fn market() -> MarketDefinition {
    let mut ccer = InstrumentSpec::ccer(cny("85.00"));
    ccer.tick = cny("0.05");
    MarketDefinition {
        instruments: vec![InstrumentSpec::cea(2025, cny("90.00")), ccer],
        calendar: Calendar::default(),
    }
}

/// Applies each command with the next sequence number; returns the events
/// of each.
fn apply_all(engine: &mut Engine, seq: &mut u64, commands: &[Command]) -> Vec<Vec<Event>> {
    commands
        .iter()
        .map(|command| {
            *seq += 1;
            let mut events = Vec::new();
            engine.apply(
                command,
                Stamp {
                    seq: *seq,
                    time_ns: 0,
                },
                &mut events,
            );
            events
        })
        .collect()
}

fn rejected(events: &[Event]) -> Option<RejectReason> {
    match events {
        [Event::Rejected(r)] => Some(r.reason),
        _ => None,
    }
}

#[test]
fn a_journal_defines_its_market_from_an_empty_engine() {
    let mut engine = Engine::default();
    let mut seq = 0;
    let open = Command::OpenAccount {
        account: AccountId(1),
        participant: ParticipantType::ComplianceEntity,
        broker: BrokerId(1),
    };
    let mut commands = market().genesis();
    // An account opened before the CCER is listed gets a holding of it.
    commands.insert(2, open);
    let events = apply_all(&mut engine, &mut seq, &commands);
    assert_eq!(events[0], [Event::CalendarSet]);
    assert!(matches!(events[1][..], [Event::InstrumentListed(b)]
        if b.instrument == InstrumentId(0) && b.price_ticks == 90_00 && b.floor_ticks == 81_00));
    assert!(matches!(events[3][..], [Event::InstrumentListed(b)]
        if b.instrument == InstrumentId(1) && b.price_ticks == 85_00));
    assert_eq!(engine.calendar(), Some(&Calendar::default()));
    assert_eq!(engine.instrument_id("CCER"), Some(InstrumentId(1)));
    assert_eq!(engine.book(InstrumentId(1)).unwrap().rules().step_ticks, 5);
    assert_eq!(engine.holdings(AccountId(1)).unwrap().len(), 2);
    engine.check_invariants();
    assert_eq!(engine.first_difference(&market()), None);
}

#[test]
fn a_listing_or_revision_that_cannot_be_is_rejected_and_changes_nothing() {
    let mut engine = Engine::default();
    let mut seq = 0;
    apply_all(&mut engine, &mut seq, &market().genesis());
    let before = engine.state();
    let mut off_tick = InstrumentSpec::cea(2026, cny("90.00"));
    off_tick.tick = cny("0.005");
    let mut ccer = market().instruments[1].clone();
    ccer.band_bps = 3_000;
    let mut renamed = ccer.clone();
    renamed.symbol = "CCER2".into();
    let mut bad_band = ccer.clone();
    bad_band.band_bps = 10_000;
    let named = |symbol: &str| {
        let mut spec = InstrumentSpec::cea(2026, cny("90.00"));
        spec.symbol = symbol.into();
        Command::ListInstrument(Box::new(spec))
    };
    let cases = [
        // A symbol is 1 to 16 printable ASCII bytes.
        (named(""), RejectReason::InvalidInstrumentSpec),
        (named("CEA 2026"), RejectReason::InvalidInstrumentSpec),
        (
            named("CEA2026-TOO-LONG-"),
            RejectReason::InvalidInstrumentSpec,
        ),
        (
            Command::ListInstrument(Box::new(InstrumentSpec::cea(2025, cny("80.00")))),
            RejectReason::SymbolExists,
        ),
        // One instrument per vintage, and a CEA's symbol names its year: a
        // typo in either would take another vintage's place for good (an
        // outside tester listed vintage 2024 as CEA2025).
        (named("CEA2025B"), RejectReason::InvalidInstrumentSpec),
        // A vintage is a year of four digits (vintage 5 was told its
        // symbol must hold 5, "as CEA5 does", when it was CEA5).
        (
            Command::ListInstrument(Box::new(InstrumentSpec::cea(5, cny("80.00")))),
            RejectReason::InvalidInstrumentSpec,
        ),
        (
            Command::ListInstrument(Box::new(InstrumentSpec::cea(65_535, cny("80.00")))),
            RejectReason::InvalidInstrumentSpec,
        ),
        (
            Command::ListInstrument(Box::new({
                let mut again = InstrumentSpec::cea(2025, cny("80.00"));
                again.symbol = "CEA2025B".into();
                again
            })),
            RejectReason::InvalidInstrumentSpec,
        ),
        (
            Command::ListInstrument(Box::new(off_tick)),
            RejectReason::InvalidInstrumentSpec,
        ),
        (
            Command::ReviseInstrument {
                instrument: InstrumentId(1),
                spec: Box::new(renamed),
            },
            RejectReason::InvalidInstrumentSpec,
        ),
        (
            Command::ReviseInstrument {
                instrument: InstrumentId(1),
                spec: Box::new(bad_band),
            },
            RejectReason::InvalidInstrumentSpec,
        ),
        (
            Command::ReviseInstrument {
                instrument: InstrumentId(9),
                spec: Box::new(ccer.clone()),
            },
            RejectReason::UnknownInstrument,
        ),
    ];
    // The rule each 109 breaks, as an operator is told it.
    let why = [
        Some("a symbol must be 1 to 16 printable ASCII bytes, not \"\""),
        Some("a symbol must be 1 to 16 printable ASCII bytes, not \"CEA 2026\""),
        Some("a symbol must be 1 to 16 printable ASCII bytes, not \"CEA2026-TOO-LONG-\""),
        Some("symbol CEA2025 is configured twice"),
        Some("a CEA's symbol must hold its vintage year (2026), as CEA2026 does"),
        Some("vintage 5 is not a year of four digits"),
        Some("vintage 65535 is not a year of four digits"),
        Some("vintage 2025 is listed already, as CEA2025"),
        Some("tick 0.005 must be a positive multiple of 0.01 CNY, at most 2^63 - 1 fen"),
        Some("a revision of CCER must keep its symbol and kind"),
        Some("band_bps 10000 must be from 1 to 9999 (below 100%)"),
        None,
    ];
    for ((command, reason), why) in cases.into_iter().zip(why) {
        let said = engine.spec_error(&command).map(|e| e.to_string());
        assert_eq!(said.as_deref(), why, "{command:?}");
        let events = apply_all(&mut engine, &mut seq, std::slice::from_ref(&command));
        assert_eq!(rejected(&events[0]), Some(reason), "{command:?}");
        assert_eq!(engine.state(), before, "{command:?} changed the state");
    }
    // Today's reference off a revision's tick is 102, and said so.
    let mut coarse = ccer.clone();
    coarse.tick = cny("0.30");
    coarse.reference_price = cny("84.90");
    let revise_coarse = Command::ReviseInstrument {
        instrument: InstrumentId(1),
        spec: Box::new(coarse),
    };
    assert_eq!(
        engine.spec_error(&revise_coarse).map(|e| e.to_string()),
        Some("today's reference 85.00 CNY is not on the new tick 0.30 CNY".to_owned())
    );
    let events = apply_all(&mut engine, &mut seq, &[revise_coarse]);
    assert_eq!(rejected(&events[0]), Some(RejectReason::PriceNotOnTick));
    // A trading instrument is busy; once closed, the revision takes.
    let revise = Command::ReviseInstrument {
        instrument: InstrumentId(1),
        spec: Box::new(ccer.clone()),
    };
    let open = Command::SetPhase {
        instrument: InstrumentId(1),
        phase: Phase::Continuous,
    };
    let events = apply_all(&mut engine, &mut seq, &[open, revise.clone()]);
    assert_eq!(rejected(&events[1]), Some(RejectReason::InstrumentBusy));
    // Why, for the operator (tester 157 F2).
    assert_eq!(
        engine
            .why_refused(&revise, RejectReason::InstrumentBusy)
            .as_deref(),
        Some("it trades (Continuous): halt it first")
    );
    let close = Command::SetPhase {
        instrument: InstrumentId(1),
        phase: Phase::Closed,
    };
    let events = apply_all(&mut engine, &mut seq, &[close, revise]);
    assert!(matches!(events[1][..], [Event::InstrumentRevised(b)]
        if b.price_ticks == 85_00 && b.floor_ticks == 59_50 && b.ceiling_ticks == 110_50));
    assert_eq!(engine.spec(InstrumentId(1)), Some(&ccer));
}

/// Every book's `max_orders` and blocks' `max_open` together stay within
/// what one end of day can expire in its journal entry (reviewer 158 F1:
/// 10.8M resting orders made an end of day too large to write, and the
/// runtime stopped at every close): a listing, a revision or block rules
/// past [`MAX_OPEN_TOTAL`] are refused, and what fits exactly is taken.
#[test]
fn books_and_blocks_together_stay_within_what_an_end_of_day_can_journal() {
    let mut engine = Engine::default();
    let mut seq = 0;
    let mut cea = InstrumentSpec::cea(2025, cny("90.00"));
    let default_open = u64::from(BlockRules::for_kind(&cea.kind).max_open);
    let ccer_open = BlockRules::for_kind(&InstrumentSpec::ccer(cny("1")).kind).max_open;
    assert_eq!(u64::from(ccer_open), default_open);
    cea.max_orders = 1 << 23;
    let list = |spec: &InstrumentSpec| Command::ListInstrument(Box::new(spec.clone()));
    let events = apply_all(&mut engine, &mut seq, &[list(&cea)]);
    assert_eq!(rejected(&events[0]), None, "one book at the bound");
    let room = MAX_OPEN_TOTAL - u64::from(cea.max_orders) - 2 * default_open;
    let mut ccer = InstrumentSpec::ccer(cny("85.00"));
    ccer.max_orders = u32::try_from(room + 1).unwrap();
    let over = list(&ccer);
    assert_eq!(
        engine.spec_error(&over).map(|e| e.to_string()).as_deref(),
        Some(format!(
            "max_orders plus blocks' max_open of all instruments would be {}, over {MAX_OPEN_TOTAL}",
            MAX_OPEN_TOTAL + 1
        ))
        .as_deref()
    );
    let before = engine.state();
    let events = apply_all(&mut engine, &mut seq, &[over]);
    assert_eq!(
        rejected(&events[0]),
        Some(RejectReason::InvalidInstrumentSpec)
    );
    assert_eq!(engine.state(), before);
    ccer.max_orders -= 1;
    let events = apply_all(&mut engine, &mut seq, &[list(&ccer)]);
    assert_eq!(rejected(&events[0]), None, "exactly the bound");
    let full = engine.state();
    // Full: one order more in a book, or one block more, is refused.
    let mut bigger = ccer.clone();
    bigger.max_orders += 1;
    let revise = Command::ReviseInstrument {
        instrument: InstrumentId(1),
        spec: Box::new(bigger),
    };
    let mut rules = BlockRules::for_kind(&cea.kind);
    let mut set_rules = |max_open| Command::SetBlockRules {
        instrument: InstrumentId(0),
        rules: Box::new({
            rules.max_open = max_open;
            rules.clone()
        }),
    };
    let one_more = u32::try_from(default_open + 1).unwrap();
    let events = apply_all(
        &mut engine,
        &mut seq,
        &[revise.clone(), set_rules(one_more)],
    );
    for refused in &events {
        assert_eq!(rejected(refused), Some(RejectReason::InvalidInstrumentSpec));
    }
    assert_eq!(engine.state(), full);
    // One block fewer makes room for one order more.
    let one_fewer = u32::try_from(default_open - 1).unwrap();
    let events = apply_all(&mut engine, &mut seq, &[set_rules(one_fewer), revise]);
    for taken in &events {
        assert_eq!(rejected(taken), None);
    }
}

/// A journal written before the bounds on new specs (reviewer 160 F2)
/// replays: its listing past `MAX_OPEN_TOTAL` and `MAX_FILLS` is taken as
/// it was, while the same listing as a new command is refused; and the
/// market it made may come down towards the bound, never go up.
#[test]
fn a_journal_past_the_bounds_on_new_specs_replays_and_may_only_come_down() {
    let mut big = InstrumentSpec::cea(2025, cny("90.00"));
    big.max_orders = cetx_engine::MAX_ORDERS;
    big.max_order_t = u64::from(big.max_orders);
    let rules = big.rules().unwrap();
    let listed = Event::InstrumentListed(cetx_engine::ReferencePriceSet {
        instrument: InstrumentId(0),
        price_ticks: rules.reference_ticks,
        floor_ticks: rules.floor_ticks,
        ceiling_ticks: rules.ceiling_ticks,
    });
    let list = Command::ListInstrument(Box::new(big.clone()));
    let stamp = Stamp { seq: 1, time_ns: 0 };
    let mut fresh = Engine::default();
    let mut events = Vec::new();
    fresh.apply(&list, stamp, &mut events);
    assert_eq!(rejected(&events), Some(RejectReason::InvalidInstrumentSpec));
    let mut replayed = Engine::default();
    replayed.replay(stamp, &list, &[listed]).unwrap();
    assert_eq!(replayed.spec(InstrumentId(0)), Some(&big));
    // Over the bound: a revision may lower the total, not raise it.
    let mut seq = 1;
    let revise = |max_orders: u32| {
        let mut spec = big.clone();
        (spec.max_orders, spec.max_order_t) = (max_orders, 1_000);
        Command::ReviseInstrument {
            instrument: InstrumentId(0),
            spec: Box::new(spec),
        }
    };
    let up = apply_all(&mut replayed, &mut seq, &[revise(big.max_orders)]);
    assert_eq!(
        rejected(&up[0]),
        None,
        "the same total, fills within bounds"
    );
    let higher = revise(big.max_orders);
    let lower = revise(big.max_orders - 1);
    let events = apply_all(&mut replayed, &mut seq, &[lower]);
    assert_eq!(rejected(&events[0]), None, "down");
    let events = apply_all(&mut replayed, &mut seq, &[higher]);
    assert_eq!(
        rejected(&events[0]),
        Some(RejectReason::InvalidInstrumentSpec),
        "back up"
    );
}

#[test]
fn replaying_the_definition_gives_the_same_engine() {
    let mut live = Engine::default();
    let mut seq = 0;
    let mut commands = market().genesis();
    let mut revised = market().instruments[0].clone();
    revised.max_order_t = 50_000;
    commands.push(Command::ReviseInstrument {
        instrument: InstrumentId(0),
        spec: Box::new(revised),
    });
    let events = apply_all(&mut live, &mut seq, &commands);
    let mut replica = Engine::default();
    for (i, (command, events)) in commands.iter().zip(&events).enumerate() {
        let stamp = Stamp {
            seq: i as u64 + 1,
            time_ns: 0,
        };
        replica.replay(stamp, command, events).unwrap();
    }
    assert_eq!(replica.state(), live.state());
    // An event its command does not give is not replayed.
    let wrong = [Event::CalendarSet];
    let stamp = Stamp { seq: 9, time_ns: 0 };
    let listing = Command::ListInstrument(Box::new(InstrumentSpec::cea(2026, cny("90.00"))));
    assert!(replica.replay(stamp, &listing, &wrong).is_err());
    // And a snapshot of it carries the definition.
    let rebuilt = Engine::from_state(&live.state()).unwrap();
    assert_eq!(rebuilt.state(), live.state());
    assert_eq!(rebuilt.calendar(), Some(&Calendar::default()));
}

#[test]
fn differences_are_named_and_changes_are_commands() {
    let mut engine = Engine::default();
    let mut seq = 0;
    apply_all(&mut engine, &mut seq, &market().genesis());

    let mut config = market();
    config.calendar.utc_offset_s = 0;
    assert!(matches!(
        engine.first_difference(&config),
        Some(Difference::Calendar { field: "utc_offset_s", ref journal, ref config })
            if journal == "28800" && config == "0"
    ));

    let mut config = market();
    config
        .calendar
        .holidays
        .insert(chrono::NaiveDate::from_ymd_opt(2026, 12, 25).unwrap());
    assert_eq!(
        engine.first_difference(&config).unwrap().to_string(),
        "calendar.holidays: the journal has none, the config 2026-12-25"
    );

    let mut config = market();
    config.instruments[1].tick = cny("0.01");
    let difference = engine.first_difference(&config).unwrap();
    assert_eq!(
        difference.to_string(),
        "instrument CCER.tick: the journal has 0.05, the config 0.01"
    );
    assert_eq!(
        engine.changes_to(&config),
        [Command::ReviseInstrument {
            instrument: InstrumentId(1),
            spec: Box::new(config.instruments[1].clone()),
        }]
    );

    let mut config = market();
    config
        .instruments
        .push(InstrumentSpec::cea(2026, cny("95.00")));
    assert_eq!(
        engine.first_difference(&config),
        Some(Difference::NotListed("CEA2026".into()))
    );
    assert_eq!(
        engine.changes_to(&config),
        [Command::ListInstrument(Box::new(
            config.instruments[2].clone()
        ))]
    );

    // A config that writes a rule's default out trades alike: no change.
    let mut config = market();
    let cea = &mut config.instruments[0];
    cea.eligible = Some(vec![ParticipantType::ComplianceEntity]);
    cea.t_plus_one = Some(true);
    cea.opposite_side_gap_days = Some(0);
    cea.max_orders_per_account = Some(cea.max_orders / 64);
    cea.max_orders_per_broker = Some(cea.max_orders / 8);
    cea.max_price_levels = Some(100_000);
    cea.auctions = Some(true);
    cea.min_auction_t = Some(100_000);
    config.instruments[1].eligible = Some(vec![
        ParticipantType::Institution,
        ParticipantType::ComplianceEntity,
    ]);
    assert_eq!(engine.first_difference(&config), None);
    assert!(engine.changes_to(&config).is_empty(), "nothing to journal");
    // Another value is a change, named by its values.
    config.instruments[0].max_orders_per_broker = Some(7);
    assert_eq!(
        engine.first_difference(&config).unwrap().to_string(),
        format!(
            "instrument CEA2025.max_orders_per_broker: the journal has {}, the config 7",
            config.instruments[0].max_orders / 8
        )
    );

    // The journal defines the market: instruments keep the journal's ids
    // wherever the config lists them, and one the config lacks (listed by
    // an operator) stays listed.
    let mut config = market();
    config.instruments.reverse();
    assert_eq!(engine.first_difference(&config), None);
    assert!(
        engine.changes_to(&config).is_empty(),
        "instruments keep ids"
    );

    let mut config = market();
    config.instruments.pop();
    assert_eq!(engine.first_difference(&config), None);
    assert!(engine.changes_to(&config).is_empty(), "nothing is delisted");

    // A new instrument in a config that lacks one listed by an operator
    // gets the next id, not its position in the config.
    let mut config = market();
    config.instruments.pop();
    config
        .instruments
        .push(InstrumentSpec::cea(2027, cny("96.00")));
    assert_eq!(
        engine.changes_to(&config),
        [Command::ListInstrument(Box::new(
            config.instruments[1].clone()
        ))]
    );
    let mut revised = market();
    revised.instruments.reverse();
    revised.instruments[0].band_bps = 500;
    assert_eq!(
        engine.changes_to(&revised),
        [Command::ReviseInstrument {
            instrument: InstrumentId(1),
            spec: Box::new(revised.instruments[0].clone()),
        }]
    );

    let mut config = market();
    config.instruments[0].reference_price = cny("95.00");
    assert_eq!(
        engine.changes_to(&config),
        [
            Command::ReviseInstrument {
                instrument: InstrumentId(0),
                spec: Box::new(config.instruments[0].clone()),
            },
            Command::SetReferencePrice {
                instrument: InstrumentId(0),
                price_ticks: 95_00,
            },
        ]
    );
}

/// A difference names each value as the config spells it, not as Rust's
/// `Debug` does (an outside tester read `Cea { vintage: 2025 }` and
/// `Some([ComplianceEntity])` in a refused start).
#[test]
fn differences_name_values_as_the_config_writes_them() {
    let mut engine = Engine::default();
    let mut seq = 0;
    apply_all(&mut engine, &mut seq, &market().genesis());
    let said = |edit: fn(&mut InstrumentSpec)| {
        let mut config = market();
        edit(&mut config.instruments[0]);
        engine.first_difference(&config).unwrap().to_string()
    };
    assert_eq!(
        said(|cea| cea.kind = cetx_engine::InstrumentKind::Cea { vintage: 2026 }),
        "instrument CEA2025.kind: the journal has { type = \"cea\", vintage = 2025 }, \
         the config { type = \"cea\", vintage = 2026 }"
    );
    assert_eq!(
        said(|cea| cea.kind = cetx_engine::InstrumentKind::Ccer {}),
        "instrument CEA2025.kind: the journal has { type = \"cea\", vintage = 2025 }, \
         the config { type = \"ccer\" }"
    );
    assert_eq!(
        said(|cea| {
            cea.eligible = Some(vec![
                ParticipantType::Individual,
                ParticipantType::ComplianceEntity,
            ]);
        }),
        "instrument CEA2025.eligible: the journal has [\"compliance_entity\"], \
         the config [\"compliance_entity\", \"individual\"]"
    );
    assert_eq!(
        said(|cea| cea.position_limit_t = Some(5_000)),
        "instrument CEA2025.position_limit_t: the journal has none, the config 5000"
    );
    assert_eq!(
        said(|cea| cea.reference_price = cny("91.50")),
        "instrument CEA2025.reference_price: the journal has 90.00, the config 91.50"
    );
}
