//! How report lines are laid out: CSV with the `csv` crate, JSON with
//! `serde_json`.
//!
//! A [`ReportWriter`] writes lines of one [`ReportLine`] type in one of four
//! [`Layout`]s: a CSV table (header first) or a JSON array (one object per
//! line) for a whole report, and CSV rows or JSON Lines for rows printed as
//! they come (`--follow`). [`Format`] is what the user chose, CSV or JSON.

use std::io::{self, Write};
use std::marker::PhantomData;

use super::reports::ReportLine;

/// Output format of the reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON array per file; JSON Lines for rows that follow a live
    /// journal.
    Json,
}

impl Format {
    /// The file name extension, without the dot.
    #[must_use]
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
        }
    }

    /// A whole report: a CSV table with its header, or a JSON array.
    #[must_use]
    pub const fn table(self) -> Layout {
        match self {
            Self::Csv => Layout::Csv { header: true },
            Self::Json => Layout::JsonArray,
        }
    }

    /// Lines printed as they come: CSV rows (after a header when `header`),
    /// or JSON Lines (one object per line, never a header).
    #[must_use]
    pub const fn lines(self, header: bool) -> Layout {
        match self {
            Self::Csv => Layout::Csv { header },
            Self::Json => Layout::JsonLines,
        }
    }
}

/// How a [`ReportWriter`] lays its lines out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One CSV row per line, after the header row when `header`.
    Csv {
        /// Whether the header row comes first.
        header: bool,
    },
    /// A JSON array, one object per line: `[\n  {…},\n  {…}\n]\n`, and
    /// `[]\n` when empty.
    JsonArray,
    /// JSON Lines: one object per line, nothing around them.
    JsonLines,
}

/// Writes the lines of one report to `W` in a [`Layout`].
pub struct ReportWriter<W: Write, L> {
    sink: Sink<W>,
    layout: Layout,
    lines: u64,
    line: PhantomData<fn(&L)>,
}

enum Sink<W: Write> {
    // Boxed: the csv writer's state is a few hundred bytes.
    Csv(Box<csv::Writer<W>>),
    Json(W),
}

impl<W: Write, L: ReportLine> ReportWriter<W, L> {
    /// A writer of `L`s into `out`; a CSV header, if the layout has one,
    /// is written now.
    ///
    /// # Errors
    /// Writing the header failed.
    pub fn new(out: W, layout: Layout) -> io::Result<Self> {
        let sink = match layout {
            Layout::Csv { header } => {
                // The header is written from `HEADER` rather than by the
                // csv crate from the first line, so an empty report has
                // one too.
                let mut csv = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(out);
                if header {
                    csv.write_record(L::HEADER)?;
                }
                Sink::Csv(Box::new(csv))
            }
            Layout::JsonArray | Layout::JsonLines => Sink::Json(out),
        };
        Ok(Self {
            sink,
            layout,
            lines: 0,
            line: PhantomData,
        })
    }

    /// Lines written so far.
    #[must_use]
    pub const fn lines(&self) -> u64 {
        self.lines
    }

    /// Writes one line.
    ///
    /// # Errors
    /// Writing failed.
    pub fn write(&mut self, line: &L) -> io::Result<()> {
        match &mut self.sink {
            Sink::Csv(csv) => csv.serialize(line)?,
            Sink::Json(out) => {
                let before = match (self.layout, self.lines) {
                    (Layout::JsonArray, 0) => "[\n  ",
                    (Layout::JsonArray, _) => ",\n  ",
                    _ => "",
                };
                out.write_all(before.as_bytes())?;
                let mut json = serde_json::Serializer::with_formatter(&mut *out, Spaced);
                line.serialize(&mut json)?;
                if self.layout == Layout::JsonLines {
                    out.write_all(b"\n")?;
                }
            }
        }
        self.lines += 1;
        Ok(())
    }

    /// Pushes what is written so far through to `W` and flushes it.
    ///
    /// # Errors
    /// Writing failed.
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Csv(csv) => csv.flush(),
            Sink::Json(out) => out.flush(),
        }
    }

    /// Ends the report (closes a JSON array), flushes, and gives `W` back.
    ///
    /// # Errors
    /// Writing failed.
    pub fn finish(self) -> io::Result<W> {
        match self.sink {
            Sink::Csv(csv) => csv.into_inner().map_err(|e| e.into_error()),
            Sink::Json(mut out) => {
                let end = match (self.layout, self.lines) {
                    (Layout::JsonArray, 0) => "[]\n",
                    (Layout::JsonArray, _) => "\n]\n",
                    _ => "",
                };
                out.write_all(end.as_bytes())?;
                out.flush()?;
                Ok(out)
            }
        }
    }
}

/// serde_json's compact output with a space after each `:` and `,` of an
/// object: `{"seq": 25, "instrument": "CEA2025"}`, a line a person reads.
struct Spaced;

impl serde_json::ser::Formatter for Spaced {
    fn begin_object_key<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            out.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        out.write_all(b": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settlement::reports::{AccountLine, ClearingLine, Cny, DayLine, DayStatus};
    use crate::settlement::TradeMode;

    fn clearing_line() -> ClearingLine {
        ClearingLine {
            seq: 25,
            time_ns: 1_795_743_000_025_000_000,
            trading_day: 2026_11_27,
            trade_id: 1,
            instrument: "CEA2025".to_owned(),
            buyer_account: 1001,
            buyer_broker: 1,
            seller_account: 2001,
            seller_broker: 2,
            quantity_t: 600,
            price_cny: Cny(90_50),
            amount_cny: Cny(54_300_00),
            mode: crate::settlement::TradeMode::Listing,
            operator: None,
        }
    }

    fn day_line(close_cny: Option<Cny>) -> DayLine<'static> {
        DayLine {
            trading_day: 2026_11_27,
            instrument: "CCER",
            mode: TradeMode::Listing,
            open_cny: Cny(85_10),
            high_cny: Cny(85_10),
            low_cny: Cny(85_10),
            close_cny,
            volume_t: 300,
            turnover_cny: Cny(25_530_00),
            trade_count: 1,
            status: if close_cny.is_some() {
                DayStatus::Final
            } else {
                DayStatus::Provisional
            },
        }
    }

    fn account_line() -> AccountLine<'static> {
        AccountLine {
            account: 1001,
            broker: 1,
            instrument: "CEA2025",
            bought_t: 1000,
            sold_t: 0,
            net_trade_cny: Cny(-90_500_00),
            open_holding_t: 50_000,
            close_holding_t: 51_000,
            open_cash_cny: Cny(10_000_000_00),
            close_cash_cny: Cny(9_909_500_00),
            status: "active",
        }
    }

    fn render<L: ReportLine>(layout: Layout, lines: &[L]) -> String {
        let mut writer = ReportWriter::new(Vec::new(), layout).unwrap();
        for line in lines {
            writer.write(line).unwrap();
        }
        assert_eq!(writer.lines(), lines.len() as u64);
        String::from_utf8(writer.finish().unwrap()).unwrap()
    }

    /// The header the csv crate would write from the fields' names.
    fn serde_header<L: ReportLine>(line: &L) -> String {
        let mut csv = csv::Writer::from_writer(Vec::new());
        csv.serialize(line).unwrap();
        let bytes = csv.into_inner().unwrap();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn each_header_names_the_fields_in_order() {
        assert_eq!(
            serde_header(&clearing_line()),
            ClearingLine::HEADER.join(",")
        );
        assert_eq!(serde_header(&day_line(None)), DayLine::HEADER.join(","));
        assert_eq!(serde_header(&account_line()), AccountLine::HEADER.join(","));
    }

    #[test]
    fn a_csv_table_is_its_header_and_one_row_per_line() {
        assert_eq!(
            render(Format::Csv.table(), &[clearing_line()]),
            "seq,time_ns,trading_day,trade_id,instrument,buyer_account,buyer_broker,seller_account,seller_broker,quantity_t,price_cny,amount_cny,mode,operator\n\
             25,1795743000025000000,20261127,1,CEA2025,1001,1,2001,2,600,90.50,54300.00,listing,\n"
        );
        assert_eq!(
            render(Format::Csv.table(), &[day_line(None)]),
            "trading_day,instrument,mode,open_cny,high_cny,low_cny,close_cny,volume_t,turnover_cny,trade_count,status\n\
             20261127,CCER,listing,85.10,85.10,85.10,,300,25530.00,1,provisional\n"
        );
        assert_eq!(
            render(Format::Csv.lines(false), &[account_line(), account_line()]),
            "1001,1,CEA2025,1000,0,-90500.00,50000,51000,10000000.00,9909500.00,active\n".repeat(2)
        );
    }

    #[test]
    fn an_empty_report_still_has_its_header_or_is_an_empty_array() {
        let none: [AccountLine; 0] = [];
        assert_eq!(
            render(Format::Csv.table(), &none),
            "account,broker,instrument,bought_t,sold_t,net_trade_cny,open_holding_t,close_holding_t,open_cash_cny,close_cash_cny,status\n"
        );
        assert_eq!(render(Format::Json.table(), &none), "[]\n");
        assert_eq!(render(Format::Json.lines(true), &none), "");
    }

    #[test]
    fn a_symbol_that_needs_quoting_is_quoted() {
        let mut line = account_line();
        line.instrument = "CEA \"2025\", 1";
        let csv = render(Format::Csv.lines(false), &[line.clone()]);
        assert!(
            csv.starts_with("1001,1,\"CEA \"\"2025\"\", 1\",1000,"),
            "{csv}"
        );
        let json = render(Format::Json.lines(false), &[line]);
        assert!(
            json.contains(r#""instrument": "CEA \"2025\", 1""#),
            "{json}"
        );
    }

    #[test]
    fn json_is_an_array_of_one_object_per_line_or_json_lines() {
        let one = r#"{"trading_day": 20261127, "instrument": "CCER", "mode": "listing", "open_cny": "85.10", "high_cny": "85.10", "low_cny": "85.10", "close_cny": "85.10", "volume_t": 300, "turnover_cny": "25530.00", "trade_count": 1, "status": "final"}"#;
        let two = [day_line(Some(Cny(85_10))), day_line(Some(Cny(85_10)))];
        assert_eq!(
            render(Format::Json.table(), &two),
            format!("[\n  {one},\n  {one}\n]\n")
        );
        assert_eq!(
            render(Format::Json.lines(true), &two),
            format!("{one}\n{one}\n")
        );
        // Every JSON Line is a JSON value of its own.
        for line in render(Format::Json.lines(true), &two).lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(value["close_cny"], "85.10");
        }
        let open = render(Format::Json.table(), &[day_line(None)]);
        assert!(open.contains(r#""close_cny": null"#), "{open}");
    }
}
