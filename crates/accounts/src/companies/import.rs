//! Reading a company file: CSV with a header row whose columns are found by
//! name, in any case and order (`domain`/`website`/`url`, `name`/`company`/
//! `company name`, optional `size`, `industry`, `country`, `aliases`
//! separated by `;` or `|`); comma, semicolon or tab separated; UTF-8 with
//! or without a byte-order mark. A line that cannot be imported is skipped
//! with its line number and reason; a file that is not such a CSV at all is
//! refused whole.

use std::borrow::Cow;
use std::collections::HashMap;

use super::{NewCompany, SizeBand, SkippedLine};
use crate::domain::registrable;

/// A file refused whole, with where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct FileError {
    pub line: u64,
    pub reason: String,
}

/// The answer to a file refused whole: 422 `invalid-file`, naming where it
/// broke (every capability that takes files answers so).
pub fn invalid_file(detail: impl std::fmt::Display) -> platform::http::problem::ApiError {
    platform::http::problem::Problem::new(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-file",
        "Invalid file",
    )
    .with_detail(detail.to_string())
    .into()
}

/// The companies a file gives (with their line numbers) and the lines skipped.
#[derive(Debug, Default)]
pub struct Parsed {
    pub companies: Vec<(u64, NewCompany)>,
    pub skipped: Vec<SkippedLine>,
}

/// The delimiter of a CSV whose header line is `header`: the most frequent
/// of comma, semicolon and tab (comma when none).
pub fn sniff_delimiter(header: &str) -> u8 {
    [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| header.bytes().filter(|b| b == d).count())
        .filter(|d| header.bytes().any(|b| b == *d))
        .unwrap_or(b',')
}

/// The text of a file as spreadsheets and CRMs save it: UTF-8 with or
/// without a byte-order mark, UTF-16 with one (Excel's "Unicode text"), or
/// else Windows-1252 (Excel's "CSV" on Windows); refused if it is binary (a
/// NUL or another control character than tab, line feed, carriage return
/// or form feed), with the line where that was found.
pub fn text(bytes: &[u8]) -> Result<Cow<'_, str>, FileError> {
    let text = match encoding_rs::Encoding::for_bom(bytes) {
        Some((encoding, bom)) if encoding != encoding_rs::UTF_8 => encoding
            .decode_without_bom_handling_and_without_replacement(&bytes[bom..])
            .ok_or(FileError {
                line: 1,
                reason: format!("not {} text", encoding.name()),
            })?,
        Some((_, bom)) => utf8_or_windows_1252(&bytes[bom..]),
        None => utf8_or_windows_1252(bytes),
    };
    if let Some(at) = text
        .bytes()
        .position(|b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c))
    {
        let line = 1 + text.as_bytes()[..at]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        return Err(FileError {
            line,
            reason: "a binary file, not CSV text".into(),
        });
    }
    Ok(text)
}

fn utf8_or_windows_1252(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(t) => Cow::Borrowed(t),
        Err(_) => {
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
        }
    }
}

/// Line numbers of byte offsets, counted as a reader moves forward through
/// a text (each byte looked at once, however long the file).
struct Lines<'a> {
    bytes: &'a [u8],
    at: usize,
    line: u64,
}

impl Lines<'_> {
    /// The 1-based line of the record the reader placed at byte `at` (where
    /// it started reading: before any blank lines it skipped).
    fn of(&mut self, at: usize) -> u64 {
        let mut at = at.min(self.bytes.len());
        while matches!(self.bytes.get(at), Some(b'\n' | b'\r')) {
            at += 1;
        }
        if at < self.at {
            (self.at, self.line) = (0, 1);
        }
        self.line += self.bytes[self.at..at]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        self.at = at;
        self.line
    }
}

/// A CSV reader of `text` (its delimiter sniffed from the header line) and
/// its header names, lower case, to their column.
pub(crate) fn reader(text: &str) -> Result<(csv::Reader<&[u8]>, Headers), FileError> {
    let header = text.lines().next().unwrap_or_default();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sniff_delimiter(header))
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| FileError {
            line: 1,
            reason: format!("not CSV: {e}"),
        })?
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim().to_ascii_lowercase(), i))
        .collect();
    Ok((reader, headers))
}

/// The records of `reader` that are not blank, each with its 1-based line
/// in `text` (counted from the byte offset: the reader's own count misses
/// the blank lines it skips); malformed CSV ends the file.
pub(crate) fn rows<'a>(
    reader: &'a mut csv::Reader<&'a [u8]>,
    text: &'a str,
) -> impl Iterator<Item = Result<(u64, csv::StringRecord), FileError>> + 'a {
    let mut lines = Lines {
        bytes: text.as_bytes(),
        at: 0,
        line: 1,
    };
    reader
        .records()
        .map(move |record| {
            let record = record.map_err(|e| FileError {
                line: e.position().map_or(0, |p| lines.of(p.byte() as usize)),
                reason: format!("not CSV: {e}"),
            })?;
            let line = record.position().map_or(0, |p| lines.of(p.byte() as usize));
            Ok((line, record))
        })
        .filter(|r| {
            r.as_ref()
                .map_or(true, |(_, rec)| rec.iter().any(|f| !f.trim().is_empty()))
        })
}

/// Header names (lower case) to their column.
pub(crate) type Headers = HashMap<String, usize>;

/// The column index of the first header in `names` present (case-insensitive).
pub(crate) fn column(headers: &Headers, names: &[&str]) -> Option<usize> {
    names.iter().find_map(|n| headers.get(*n).copied())
}

/// Read a company file.
pub fn companies(bytes: &[u8]) -> Result<Parsed, FileError> {
    let text = text(bytes)?;
    let (mut reader, headers) = reader(&text)?;
    let domain_at = column(&headers, &["domain", "website", "url"]);
    let name_at = column(&headers, &["name", "company", "company name"]);
    let (Some(domain_at), Some(name_at)) = (domain_at, name_at) else {
        return Err(FileError {
            line: 1,
            reason: "the header needs a domain column (domain, website or url) and a name \
                     column (name, company or company name)"
                .into(),
        });
    };
    let size_at = column(&headers, &["size", "employee size", "size band"]);
    let industry_at = column(&headers, &["industry"]);
    let country_at = column(&headers, &["country"]);
    let aliases_at = column(&headers, &["aliases"]);

    let mut parsed = Parsed::default();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for row in rows(&mut reader, &text) {
        let (line, record) = row?;
        let field = |at: Option<usize>| {
            at.and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let mut skip = |reason: String| parsed.skipped.push(SkippedLine { line, reason });
        let domain = match registrable(field(Some(domain_at)).unwrap_or_default()) {
            Ok(d) => d,
            Err(why) => {
                skip(format!("domain: {why}"));
                continue;
            }
        };
        let Some(name) = field(Some(name_at)).filter(|n| n.chars().count() <= 300) else {
            skip("name: 1 to 300 characters".into());
            continue;
        };
        let size = match field(size_at) {
            None => None,
            Some(s) => match SizeBand::from_label(s) {
                Some(b) => Some(b),
                None => {
                    let all: Vec<&str> = SizeBand::ALL.iter().map(|b| b.as_str()).collect();
                    skip(format!("size: {s} is not one of {}", all.join(", ")));
                    continue;
                }
            },
        };
        let industry = field(industry_at).map(str::to_owned);
        let country = field(country_at).map(str::to_owned);
        if industry.as_ref().is_some_and(|i| i.chars().count() > 200)
            || country.as_ref().is_some_and(|c| c.chars().count() > 100)
        {
            skip("industry (200) or country (100 characters) too long".into());
            continue;
        }
        if let Some(first) = seen.get(&domain) {
            skip(format!("{domain} is already on line {first}"));
            continue;
        }
        seen.insert(domain.clone(), line);
        let aliases = field(aliases_at)
            .map(|a| {
                a.split([';', '|'])
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        parsed.companies.push((
            line,
            NewCompany {
                domain,
                name: name.to_string(),
                aliases,
                size,
                industry,
                country,
            },
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_found_by_name_in_any_case_order_and_delimiter() {
        let files: [&[u8]; 3] = [
            b"Domain,Company Name,Size,Industry,Country\nhttps://www.Acme.co.uk/,Acme Ltd,Small (10 - 49 Employees),Software,United Kingdom\n",
            b"\xEF\xBB\xBFcountry;NAME;website\nUnited Kingdom;Acme Ltd;shop.acme.co.uk\n",
            b"url\tcompany\nacme.co.uk\tAcme Ltd\n",
        ];
        for f in files {
            let p = companies(f).unwrap();
            assert!(p.skipped.is_empty(), "{:?}", p.skipped);
            let (line, c) = &p.companies[0];
            assert_eq!(*line, 2);
            assert_eq!(
                (c.domain.as_str(), c.name.as_str()),
                ("acme.co.uk", "Acme Ltd")
            );
        }
        let p = companies(files[0]).unwrap();
        let c = &p.companies[0].1;
        assert_eq!(c.size, Some(SizeBand::Small));
        assert_eq!(c.country.as_deref(), Some("United Kingdom"));
    }

    #[test]
    fn bad_lines_are_skipped_with_their_line_and_reason() {
        let f = b"domain,name,size,aliases\n\
            acme.com,Acme,micro,Acme Corp; ACME\n\
            co.uk,Nobody,,\n\
            initech.example,,,\n\
            globex.example,Globex,Huge,\n\
            www.acme.com,Acme again,,\n\
            \n\
            \"quoted, inc.example\",Quoted,,\n";
        let p = companies(f).unwrap();
        let lines: Vec<(u64, &str)> = p
            .skipped
            .iter()
            .map(|s| (s.line, s.reason.as_str()))
            .collect();
        assert_eq!(
            lines[0],
            (3, "domain: a public suffix, not a company's domain")
        );
        assert_eq!(lines[1], (4, "name: 1 to 300 characters"));
        assert!(lines[2].0 == 5 && lines[2].1.starts_with("size: Huge is not one of micro"));
        assert_eq!(lines[3], (6, "acme.com is already on line 2"));
        assert_eq!(lines[4].0, 8, "after a blank line: {lines:?}");
        assert_eq!(p.companies.len(), 1);
        assert_eq!(p.companies[0].1.aliases, ["Acme Corp", "ACME"]);
    }

    #[test]
    fn what_is_not_a_company_csv_is_refused_whole() {
        assert_eq!(
            companies(b"domain,name\nacme.com,Acme\n\x00\x01\x02").unwrap_err(),
            FileError {
                line: 3,
                reason: "a binary file, not CSV text".into()
            }
        );
        // Not UTF-8: Excel's Windows-1252.
        let p = companies(b"domain,name\nacme.com,Caf\xe9 Acme\n").unwrap();
        assert_eq!(p.companies[0].1.name, "Café Acme");
        // UTF-16 with its byte-order mark, as Excel's "Unicode text".
        let utf16: Vec<u8> = b"\xff\xfe"
            .iter()
            .copied()
            .chain(
                "domain\tname\nacme.com\tAcme\n"
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes),
            )
            .collect();
        assert_eq!(companies(&utf16).unwrap().companies[0].1.domain, "acme.com");
        assert_eq!(
            companies(b"\xff\xfe\x00\xd8").unwrap_err().reason,
            "not UTF-16LE text"
        );
        assert_eq!(
            companies(b"domain,name\nacme.com,\x07\n").unwrap_err().line,
            2
        );
        let e = companies(b"site,title\nacme.com,Acme\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.reason.contains("needs a domain column"), "{e}");
        assert!(companies(b"").is_err());
    }
}
