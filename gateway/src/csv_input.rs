//! A CSV file a person wrote (an operator's batch, a stream for
//! `cetx-stream`), its errors said in that person's terms: the line, the
//! column by its header name, and what a value there must be, not the csv
//! crate's field index and target type.

/// The file's line each record starts on, for records read in order from
/// `text`. The csv reader's own position of a record is where its read
/// began: before the blank lines it passed over.
#[derive(Debug)]
struct Lines<'a> {
    text: &'a [u8],
    /// How far lines are counted, and the line there.
    at: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    /// Lines of `text`, counted from its start.
    #[must_use]
    const fn new(text: &'a [u8]) -> Self {
        Self {
            text,
            at: 0,
            line: 1,
        }
    }

    /// The line of the first byte at or after `position` that ends no
    /// line: where the record read from there starts. Positions must not
    /// go back.
    fn of(&mut self, position: &csv::Position) -> u64 {
        let mut start = usize::try_from(position.byte()).unwrap_or(usize::MAX);
        while matches!(self.text.get(start), Some(b'\n' | b'\r')) {
            start += 1;
        }
        let start = start.min(self.text.len()).max(self.at);
        let breaks = self.text[self.at..start].iter().filter(|&&b| b == b'\n');
        self.line += breaks.count() as u64;
        self.at = start;
        self.line
    }
}

/// `error`, met reading a file whose header is `header`, said plainly:
/// the line its record starts on (counted by `lines`, the file's: the
/// reader's own count leaves out blank lines before the record), and the
/// column. `must_be` names what a column's values must be, for a value
/// that does not parse (`("qty", "a whole number from 0 to 2^64 - 1")`);
/// a column it does not name is told with the reader's own words.
#[must_use]
fn problem(
    error: &csv::Error,
    lines: &mut Lines<'_>,
    header: &csv::StringRecord,
    must_be: &[(&str, &str)],
) -> String {
    let line = error
        .position()
        .map_or_else(String::new, |p| format!("line {}: ", lines.of(p)));
    match error.kind() {
        csv::ErrorKind::Deserialize { err, .. } => {
            let column = err
                .field()
                .and_then(|i| header.get(usize::try_from(i).ok()?));
            match column {
                Some(column) => match must_be.iter().find(|(name, _)| *name == column) {
                    Some((_, rule)) => format!("{line}`{column}` must be {rule} ({})", err.kind()),
                    None => format!("{line}`{column}`: {}", err.kind()),
                },
                None => format!("{line}{}", err.kind()),
            }
        }
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{line}{len} fields where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { err, .. } => format!("{line}the line is not UTF-8 text ({err})"),
        _ => error.to_string(),
    }
}

/// A person's CSV file read row by row, by one rule for every such file:
/// spaces around a header name are not part of it (around a field too,
/// when the caller trims fields), a line of nothing but spaces is passed
/// over (before the header too), and a row with more or fewer fields
/// than the header is refused, naming its line. The header is the first
/// line that is not blank.
#[derive(Debug)]
pub struct Rows<'a> {
    text: &'a [u8],
    reader: csv::Reader<&'a [u8]>,
    lines: Lines<'a>,
    header: csv::StringRecord,
    header_line: u64,
    record: csv::StringRecord,
}

impl<'a> Rows<'a> {
    /// The rows of `text`, its header read: `None` when it has no line
    /// but blank ones. `trim_fields` takes the spaces around each field
    /// off too (a file whose values may not keep them keeps its own:
    /// an operator's reference is what it was applied as).
    ///
    /// # Errors
    /// The header's line cannot be read (not UTF-8 text), said plainly.
    pub fn new(text: &'a [u8], trim_fields: bool) -> Result<Option<Self>, String> {
        // Flexible: the fields are counted against the header here, after
        // blank lines are passed over (a line of spaces is one field).
        let reader = csv::ReaderBuilder::new()
            .trim(if trim_fields {
                csv::Trim::All
            } else {
                csv::Trim::None
            })
            .flexible(true)
            .has_headers(false)
            .from_reader(text);
        let mut rows = Self {
            text,
            reader,
            lines: Lines::new(text),
            header: csv::StringRecord::new(),
            header_line: 1,
            record: csv::StringRecord::new(),
        };
        if !rows.read()? {
            return Ok(None);
        }
        // The header's names are trimmed, whatever the fields (with no
        // header of its own, the reader trims none of them as a header).
        rows.header = rows.record.iter().map(str::trim).collect();
        rows.header_line = rows.record.position().map_or(1, |p| rows.lines.of(p));
        Ok(Some(rows))
    }

    /// The header's names.
    #[must_use]
    pub const fn header(&self) -> &csv::StringRecord {
        &self.header
    }

    /// The file's line the header is on.
    #[must_use]
    pub const fn header_line(&self) -> u64 {
        self.header_line
    }

    /// Reads the next row that is not blank: the file's line it starts
    /// on, `None` past the last ([`Rows::deserialize`] takes its values).
    ///
    /// # Errors
    /// The row cannot be read, or has another count of fields than the
    /// header: a sentence naming its line.
    pub fn next_row(&mut self) -> Result<Option<u64>, String> {
        if !self.read()? {
            return Ok(None);
        }
        let line = self.record.position().map_or(0, |p| self.lines.of(p));
        if self.record.len() != self.header.len() {
            return Err(format!(
                "line {line}: {} fields where the header has {}",
                self.record.len(),
                self.header.len()
            ));
        }
        Ok(Some(line))
    }

    /// The last row read, as `T` by the header's names. `must_be` names
    /// the columns of whole numbers and what their values must be
    /// (`("qty", "a whole number from 0 to 2^64 - 1")`): a value there is
    /// empty or decimal digits, with a sign or not (the csv crate alone
    /// reads `0x10` as 16).
    ///
    /// # Errors
    /// A value does not parse: a sentence naming the line, the column and,
    /// for a column of `must_be`, what its values must be.
    pub fn deserialize<T: serde::de::DeserializeOwned>(
        &mut self,
        must_be: &[(&str, &str)],
    ) -> Result<T, String> {
        for (name, rule) in must_be {
            let Some(value) =
                (self.header.iter().position(|h| h == *name)).and_then(|at| self.record.get(at))
            else {
                continue;
            };
            let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
            let decimal = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
            if !value.is_empty() && !decimal {
                let line = self.record.position().map_or(0, |p| self.lines.of(p));
                return Err(format!(
                    "line {line}: `{name}` must be {rule} (`{value}` is not written in decimal digits)"
                ));
            }
        }
        self.record
            .deserialize(Some(&self.header))
            .map_err(|e| problem(&e, &mut self.lines, &self.header, must_be))
    }

    /// Reads the next record that is not blank into `self.record`.
    fn read(&mut self) -> Result<bool, String> {
        loop {
            let more = self
                .reader
                .read_record(&mut self.record)
                .map_err(|e| problem(&e, &mut self.lines, &self.header, &[]))?;
            if !(more && self.blank()) {
                return Ok(more);
            }
        }
    }

    /// Whether the record read is a line of nothing but spaces, as the
    /// file has it (a quoted empty field, `""`, is a value).
    fn blank(&self) -> bool {
        // The reader's position is where its read began, before the
        // empty lines it passed over (as for `Lines::of`).
        let mut start = self
            .record
            .position()
            .and_then(|p| usize::try_from(p.byte()).ok())
            .unwrap_or(0);
        while matches!(self.text.get(start), Some(b'\n' | b'\r')) {
            start += 1;
        }
        let line = &self.text[start.min(self.text.len())..];
        let end = line.iter().position(|&b| b == b'\n').unwrap_or(line.len());
        self.record.len() == 1 && line[..end].iter().all(u8::is_ascii_whitespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_told_by_the_line_it_starts_on() {
        // Blank lines before a record, and a quoted field over two lines.
        let text = b"a,b\n\n1,2\n\n\n3,\"x\ny\"\n4,5\n";
        let mut reader = csv::Reader::from_reader(&text[..]);
        let mut lines = Lines::new(text);
        let starts: Vec<u64> = reader
            .records()
            .map(|r| lines.of(r.unwrap().position().unwrap()))
            .collect();
        assert_eq!(starts, [3, 6, 8]);
    }

    /// The csv crate reads `0x10` into a number as 16 (tester 145 F2):
    /// a column of whole numbers takes decimal digits only.
    #[test]
    fn whole_numbers_are_written_in_decimal_digits() {
        let must_be = [("qty", "a whole number")];
        for (value, read) in [("16", Some(16)), ("+16", Some(16)), ("", None)] {
            let text = format!("side,qty\nBid,{value}\n");
            let mut rows = Rows::new(text.as_bytes(), true).unwrap().expect("a header");
            assert_eq!(rows.next_row(), Ok(Some(2)));
            let (_, qty): (String, Option<u64>) = rows.deserialize(&must_be).unwrap();
            assert_eq!(qty, read, "{value:?}");
        }
        for value in ["0x10", "0b11", "0o7", "1_000", "1e3", "-", "16 t"] {
            let text = format!("side,qty\n\nBid,{value}\n");
            let mut rows = Rows::new(text.as_bytes(), true).unwrap().expect("a header");
            assert_eq!(rows.next_row(), Ok(Some(3)));
            assert_eq!(
                rows.deserialize::<(String, u64)>(&must_be),
                Err(format!(
                    "line 3: `qty` must be a whole number (`{value}` is not written in decimal digits)"
                )),
            );
        }
    }

    #[test]
    fn rows_pass_over_blank_lines_and_spaces_and_count_fields() {
        let text = b"  \n\n trader , side\n \n 7 , Bid \n\n8,Ask,x\n";
        let mut rows = Rows::new(text, true).unwrap().expect("a header");
        assert_eq!(rows.header(), vec!["trader", "side"]);
        assert_eq!(rows.header_line(), 3);
        assert_eq!(rows.next_row(), Ok(Some(5)));
        let (trader, side): (u8, String) = rows.deserialize(&[]).unwrap();
        assert_eq!((trader, side.as_str()), (7, "Bid"));
        assert_eq!(
            rows.next_row(),
            Err("line 7: 3 fields where the header has 2".to_owned())
        );
        for blank in [&b""[..], b"\n", b" \n  \r\n"] {
            assert!(Rows::new(blank, true).unwrap().is_none(), "{blank:?}");
        }
        let mut rows = Rows::new(b"trader\n\n1\n", true).unwrap().unwrap();
        assert_eq!(rows.next_row(), Ok(Some(3)));
        assert_eq!(rows.next_row(), Ok(None));
        // A one-field row after an empty line is a row, and so is a quoted
        // empty field; untrimmed, a field keeps its spaces (a header name
        // does not).
        let mut rows = Rows::new(b" reference \n\nX \n\"\"\n  \n", false)
            .unwrap()
            .unwrap();
        assert_eq!(rows.header(), vec!["reference"]);
        assert_eq!(rows.next_row(), Ok(Some(3)));
        let (kept,): (String,) = rows.deserialize(&[]).unwrap();
        assert_eq!(kept, "X ");
        assert_eq!(rows.next_row(), Ok(Some(4)));
        let (empty,): (String,) = rows.deserialize(&[]).unwrap();
        assert_eq!(empty, "");
        assert_eq!(rows.next_row(), Ok(None));
    }

    #[derive(Debug, serde::Deserialize)]
    struct Row {
        #[allow(dead_code)]
        trader: u8,
    }

    fn first_error(text: &str, must_be: &[(&str, &str)]) -> String {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header = reader.headers().unwrap().clone();
        let error = reader
            .deserialize::<Row>()
            .find_map(Result::err)
            .expect("an error");
        problem(&error, &mut Lines::new(text.as_bytes()), &header, must_be)
    }

    #[test]
    fn a_value_is_told_by_its_column_and_rule_and_a_short_line_by_its_count() {
        let rule = [("trader", "a whole number from 0 to 255")];
        assert_eq!(
            first_error("trader\n1\n300\n", &rule),
            "line 3: `trader` must be a whole number from 0 to 255 (number too large to fit in target type)"
        );
        assert_eq!(
            first_error("trader\nx\n", &[]),
            "line 2: `trader`: invalid digit found in string"
        );
        assert_eq!(
            first_error("trader\n1,2\n", &rule),
            "line 2: 2 fields where the header has 1"
        );
        // Blank lines before the record counted, as the file's lines.
        assert_eq!(
            first_error("trader\n1\n\n\n300\n", &rule),
            "line 5: `trader` must be a whole number from 0 to 255 (number too large to fit in target type)"
        );
        // A line that is not UTF-8, by its line too.
        let text = b"trader\n1\n\n\n\xff\n";
        let mut reader = csv::Reader::from_reader(&text[..]);
        let header = reader.headers().unwrap().clone();
        let error = reader.records().find_map(Result::err).expect("an error");
        let told = problem(&error, &mut Lines::new(text), &header, &rule);
        assert!(
            told.starts_with("line 5: the line is not UTF-8 text"),
            "{told}"
        );
    }
}
