//! The spec checks, the band arithmetic and the decimal conversions.

use super::*;
use rust_decimal::prelude::FromStr;

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

#[test]
fn first_cea_day_band_matches_the_published_high() {
    // 16 July 2021: reference 48.00, high 52.80 = 48 × 1.10 (CEA_RULES.md §2).
    let rules = InstrumentSpec::cea(2021, dec("48.00")).rules().unwrap();
    assert_eq!(rules.floor_ticks, 43_20);
    assert_eq!(rules.ceiling_ticks, 52_80);
    assert_eq!(rules.level_count(), 961);
}

#[test]
fn band_edges_round_inward_to_the_tick() {
    // 97.49 × 0.9 = 87.741 → 87.75; 97.49 × 1.1 = 107.239 → 107.23.
    let rules = InstrumentSpec::cea(2024, dec("97.49")).rules().unwrap();
    assert_eq!((rules.floor_ticks, rules.ceiling_ticks), (87_75, 107_23));
    // A 0.05 tick rounds the edges inward to multiples of 5.
    let mut spec = InstrumentSpec::ccer(dec("97.50"));
    spec.tick = dec("0.05");
    let rules = spec.rules().unwrap();
    assert_eq!(rules.step_ticks, 5);
    assert_eq!((rules.floor_ticks, rules.ceiling_ticks), (87_75, 107_25));
}

#[test]
fn decimal_prices_convert_exactly_or_not_at_all() {
    assert_eq!(price_to_ticks(dec("101.21")), Ok(101_21));
    assert_eq!(price_to_ticks(dec("101.2100")), Ok(101_21));
    assert_eq!(price_to_ticks(dec("-0.01")), Ok(-1));
    assert_eq!(
        price_to_ticks(dec("101.215")),
        Err(PriceError::NotOnTick(dec("101.215")))
    );
    assert_eq!(ticks_to_price(101_21).to_string(), "101.21");
    assert_eq!(ticks_to_price(5).to_string(), "0.05");
}

#[test]
fn bad_specs_name_the_field() {
    let good = InstrumentSpec::cea(2025, dec("90.00"));
    type Breaker = fn(&mut InstrumentSpec);
    let cases: Vec<(Breaker, SpecError)> = vec![
        (|s| s.tick = dec("0.005"), SpecError::Tick(dec("0.005"))),
        (|s| s.tick = dec("0"), SpecError::Tick(dec("0"))),
        (|s| s.lot_t = 0, SpecError::Lot),
        (
            |s| s.min_order_t = 200_000,
            SpecError::MinOrderAboveMax {
                min_order_t: 200_000,
                max_order_t: 99_999,
            },
        ),
        (
            |s| s.min_order_t = 0,
            SpecError::MinOrderLots {
                min_order_t: 0,
                lot_t: 1,
            },
        ),
        (
            |s| {
                s.lot_t = 2;
                s.min_order_t = 3;
            },
            SpecError::MinOrderLots {
                min_order_t: 3,
                lot_t: 2,
            },
        ),
        (|s| s.band_bps = 10_000, SpecError::Band(10_000)),
        (|s| s.max_orders = 0, SpecError::MaxOrders(0)),
        (
            |s| s.reference_price = dec("0"),
            SpecError::ReferencePrice(dec("0")),
        ),
        (
            |s| s.reference_price = dec("90.001"),
            SpecError::ReferencePrice(dec("90.001")),
        ),
        (
            |s| s.reference_price = dec("-90.00"),
            SpecError::ReferencePrice(dec("-90.00")),
        ),
        (
            |s| s.reference_price = dec("100000000000000000000"),
            SpecError::ReferencePrice(dec("100000000000000000000")),
        ),
        (
            |s| s.max_price_levels = Some(0),
            SpecError::MaxPriceLevels(0),
        ),
        (
            |s| s.max_price_levels = Some(MAX_PRICE_LEVELS + 1),
            SpecError::MaxPriceLevels(MAX_PRICE_LEVELS + 1),
        ),
        (
            // ±10% of 10,000 CNY is 200,001 ticks: twice the default.
            |s| s.reference_price = dec("10000.00"),
            SpecError::TooManyLevels {
                reference_ticks: 1_000_000,
                levels: 200_001,
                max_levels: DEFAULT_MAX_PRICE_LEVELS,
            },
        ),
    ];
    for (break_it, expected) in cases {
        let mut spec = good.clone();
        break_it(&mut spec);
        assert_eq!(spec.rules(), Err(expected));
    }
}

/// One order's trades go in its one journal entry: a new listing or
/// revision may let it meet no more resting orders than `MAX_FILLS`, the
/// smaller of its lots and the book's orders (a journal's own listings
/// are read with `rules` alone, which does not ask).
#[test]
fn a_new_spec_lets_one_order_meet_at_most_max_fills_resting_orders() {
    let mut spec = InstrumentSpec::cea(2025, dec("90.00"));
    (spec.max_orders, spec.max_order_t) = (MAX_ORDERS, 2 * MAX_FILLS);
    (spec.lot_t, spec.min_order_t) = (2, 2);
    assert_eq!(spec.check_new(), Ok(()));
    spec.max_order_t += 2;
    assert_eq!(spec.check_new(), Err(SpecError::Fills(MAX_FILLS + 1)));
    assert!(spec.rules().is_ok());
    spec.max_order_t = u64::MAX;
    spec.max_orders = (MAX_FILLS + 1) as u32;
    assert_eq!(spec.check_new(), Err(SpecError::Fills(MAX_FILLS + 1)));
    spec.max_orders -= 1;
    assert_eq!(spec.check_new(), Ok(()));
}

#[test]
fn a_new_reference_is_refused_rather_than_a_panic_or_a_huge_ladder() {
    let rules = InstrumentSpec::cea(2025, dec("90.00")).rules().unwrap();
    assert_eq!(rules.with_reference(95_00).unwrap().ceiling_ticks, 104_50);
    for bad in [0, -1, i64::MIN] {
        assert!(matches!(
            rules.with_reference(bad),
            Err(SpecError::ReferencePrice(_))
        ));
    }
    for huge in [1_000_000_000_000_000, i64::MAX] {
        assert!(matches!(
            rules.with_reference(huge),
            Err(SpecError::TooManyLevels { .. })
        ));
    }
    // The bound is the config's: the same price fits a larger one.
    let mut spec = InstrumentSpec::cea(2025, dec("10000.00"));
    spec.max_price_levels = Some(200_001);
    assert_eq!(spec.rules().unwrap().level_count(), 200_001);
}

#[test]
fn policy_defaults_follow_todays_rules() {
    use ParticipantType::{ComplianceEntity, Individual, Institution};
    let cea = InstrumentSpec::cea(2025, dec("90.00")).policy().unwrap();
    assert!(cea.admits(ComplianceEntity));
    assert!(!cea.admits(Institution));
    assert!(!cea.admits(Individual));
    assert!(cea.t_plus_one);
    assert_eq!(cea.opposite_side_gap_days, 0);
    let ccer = InstrumentSpec::ccer(dec("90.00")).policy().unwrap();
    assert!(ccer.admits(ComplianceEntity) && ccer.admits(Institution));
    assert!(!ccer.admits(Individual));
    assert!(!ccer.t_plus_one);
    assert_eq!(ccer.opposite_side_gap_days, 5);
    let mut open = InstrumentSpec::ccer(dec("90.00"));
    open.eligible = Some(vec![Individual]);
    open.position_limit_t = Some(1_000);
    open.large_holder_bps = Some(2_500);
    let policy = open.policy().unwrap();
    assert!(policy.admits(Individual) && !policy.admits(Institution));
    assert_eq!(policy.large_holder_t, Some(250));
    open.position_limit_t = None;
    assert_eq!(open.policy(), Err(SpecError::LargeHolder(2_500)));
}

#[test]
fn spec_reads_from_toml() {
    let spec: InstrumentSpec = toml::from_str(
        r#"
        symbol = "CEA2025"
        kind = { type = "cea", vintage = 2025 }
        tick = "0.01"
        lot_t = 1
        min_order_t = 1
        max_order_t = 99999
        band_bps = 1000
        reference_price = "90.00"
        max_orders = 262144
        "#,
    )
    .unwrap();
    assert_eq!(spec, InstrumentSpec::cea(2025, dec("90.00")));
}

#[test]
fn unknown_keys_in_the_kind_are_refused() {
    let kind: Result<InstrumentKind, _> = toml::from_str(
        r#"type = "cea"
vintage = 2025
colour = 1"#,
    );
    let error = kind.unwrap_err().to_string();
    assert!(error.contains("colour"), "{error}");
    let kind: InstrumentKind = toml::from_str(r#"type = "ccer""#).unwrap();
    assert_eq!(kind, InstrumentKind::Ccer {});
}

#[test]
fn a_reference_price_past_what_ticks_count_says_so() {
    let error = SpecError::ReferencePrice(dec("100000000000000000000"));
    assert_eq!(
        error.to_string(),
        "reference 100000000000000000000 CNY must be above 0, on the tick, at most 92233720368547758.07"
    );
}

/// An operator is told a refused listing's rule in an admin reply of at
/// most 128 bytes, after `InvalidInstrumentSpec: ` (23 bytes): each rule's
/// text, with the longest values its fields can hold, fits the 105 left
/// (a symbol of any length aside: the rule comes before it).
#[test]
fn every_rule_s_text_fits_an_admin_reply() {
    // The longest a decimal prints (31 bytes).
    let longest = dec("-0.0000000000000000000000000001");
    let symbol = "CEA2026-SIXTEEN!".to_owned();
    let rules = [
        SpecError::Tick(longest),
        SpecError::Lot,
        SpecError::MinOrderLots {
            min_order_t: u64::MAX,
            lot_t: u64::MAX,
        },
        SpecError::MinOrderAboveMax {
            min_order_t: u64::MAX,
            max_order_t: u64::MAX,
        },
        SpecError::Band(u32::MAX),
        SpecError::MaxOrders(u32::MAX),
        SpecError::MaxPriceLevels(u32::MAX),
        SpecError::TooManyLevels {
            reference_ticks: i64::MAX,
            levels: i128::from(u64::MAX),
            // Checked first (`MaxPriceLevels`).
            max_levels: MAX_PRICE_LEVELS,
        },
        SpecError::ReferencePrice(longest),
        SpecError::NoneEligible,
        SpecError::PositionLimit,
        SpecError::LargeHolder(u32::MAX),
        SpecError::MemberLimit("max_orders_per_account"),
        SpecError::AuctionSize,
        SpecError::DuplicateSymbol(symbol.clone()),
        SpecError::Symbol(String::new()),
        // Escaped, 5 bytes each, cut at a whole escape.
        SpecError::Symbol("\u{1}".repeat(16)),
        SpecError::Symbol("x".repeat(300)),
        SpecError::RevisionChangesIdentity(symbol.clone()),
        SpecError::ReferenceOffTick {
            reference_ticks: i64::MAX,
            tick: longest,
        },
        SpecError::VintageNotAYear { vintage: u16::MAX },
        SpecError::VintageNotInSymbol { vintage: 9999 },
        SpecError::VintageListed {
            vintage: 9999,
            listed: symbol,
        },
        SpecError::TooManyInstruments(usize::MAX),
        SpecError::OpenTotal(u64::MAX),
        SpecError::Fills(u64::MAX),
    ];
    for rule in rules {
        let text = rule.to_string();
        assert!(text.len() <= 105, "{} bytes: {text}", text.len());
    }
}
