//! Reading an account list: CSV as CRMs and spreadsheets export it (see
//! [`crate::companies::import::text`] for encodings), columns found by
//! header name in any case — a domain (`domain`, `website`, `url`, ...),
//! a name (`company`, `name`, `account name`, ...), or both, and optionally
//! `salesforce_id` — comma, semicolon or tab separated, up to
//! [`MAX_ROWS`] rows. Anything else is refused whole, naming the line.

use crate::companies::import::{self, FileError, column, reader, rows};

/// The most rows a list may have.
pub const MAX_ROWS: usize = 200_000;

const DOMAIN: &[&str] = &[
    "domain",
    "website",
    "url",
    "web site",
    "company domain",
    "company website",
    "domain name",
];
const NAME: &[&str] = &[
    "company",
    "name",
    "account name",
    "company name",
    "account",
    "organization",
    "organisation",
];
const SALESFORCE_ID: &[&str] = &[
    "salesforce_id",
    "salesforce id",
    "account id",
    "account_id",
    "sfdc id",
    "18 digit account id",
];

/// A row as the file gives it (trimmed; blank fields absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRow {
    /// 1-based, the header being line 1.
    pub line: u64,
    pub domain: Option<String>,
    pub name: Option<String>,
    pub salesforce_id: Option<String>,
}

/// Read an account list file.
pub fn rows_of(bytes: &[u8]) -> Result<Vec<InputRow>, FileError> {
    let text = import::text(bytes)?;
    let (mut reader, headers) = reader(&text)?;
    let domain_at = column(&headers, DOMAIN);
    let name_at = column(&headers, NAME);
    if domain_at.is_none() && name_at.is_none() {
        return Err(FileError {
            line: 1,
            reason: "no usable column: the header needs a domain (domain, website or url) or \
                     a company name (company, name or account name)"
                .into(),
        });
    }
    let sf_at = column(&headers, SALESFORCE_ID);
    let mut out = Vec::new();
    for row in rows(&mut reader, &text) {
        let (line, record) = row?;
        if out.len() == MAX_ROWS {
            return Err(FileError {
                line,
                reason: format!("over the limit of {MAX_ROWS} rows"),
            });
        }
        let field = |at: Option<usize>, max: usize, what: &str| match at
            .and_then(|i| record.get(i))
            .map(str::trim)
        {
            None | Some("") => Ok(None),
            Some(v) if v.chars().count() > max => Err(FileError {
                line,
                reason: format!("{what}: longer than {max} characters"),
            }),
            Some(v) => Ok(Some(v.to_string())),
        };
        let domain = field(domain_at, 2048, "domain")?;
        let name = field(name_at, 300, "name")?;
        let salesforce_id = field(sf_at, 18, "salesforce_id")?;
        if let Some(id) = &salesforce_id
            && !(matches!(id.len(), 15 | 18) && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(FileError {
                line,
                reason: format!("salesforce_id: {id} is not a 15 or 18 character Salesforce id"),
            });
        }
        out.push(InputRow {
            line,
            domain,
            name,
            salesforce_id,
        });
    }
    if out.is_empty() {
        return Err(FileError {
            line: 2,
            reason: "no rows after the header".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crm_and_spreadsheet_exports_are_read() {
        // A Salesforce report export: BOM, quoted, CRLF, extra columns.
        let sf = b"\xEF\xBB\xBF\"Account Name\",\"Website\",\"Account ID\",\"Billing Country\"\r\n\
            \"Acme, Inc.\",\"https://www.acme.com\",\"0015g00000XyZaBAAV\",\"US\"\r\n\
            \"Globex\",\"\",\"0015g00000XyZaC\",\"\"\r\n";
        let rows = rows_of(sf).unwrap();
        assert_eq!(
            rows[0],
            InputRow {
                line: 2,
                domain: Some("https://www.acme.com".into()),
                name: Some("Acme, Inc.".into()),
                salesforce_id: Some("0015g00000XyZaBAAV".into()),
            }
        );
        assert_eq!((rows[1].line, rows[1].domain.as_deref()), (3, None));
        // Excel in a semicolon locale, Windows-1252; a domain-only list in tabs.
        let excel = b"Company;URL\nSoci\xe9t\xe9 G\xe9n\xe9rale;societegenerale.example\n;\n";
        let rows = rows_of(excel).unwrap();
        assert_eq!(rows.len(), 1, "a row of empty fields is blank");
        assert_eq!(rows[0].name.as_deref(), Some("Société Générale"));
        let tabs = rows_of(b"DOMAIN\nacme.com\n\n\ninitech.example\n").unwrap();
        assert_eq!(tabs.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 5]);
    }

    #[test]
    fn bad_files_are_refused_whole_with_the_line() {
        let cases: [(&[u8], u64, &str); 7] = [
            (b"\x89PNG\r\n\x1a\n\x00\x00", 2, "a binary file"),
            (b"{\"accounts\": [1, 2]}\n", 1, "no usable column"),
            (b"email,phone\na@b.example,1\n", 1, "no usable column"),
            (b"domain\n", 2, "no rows"),
            (b"", 1, "no usable column"),
            (
                b"name,salesforce_id\nAcme,001\n",
                2,
                "salesforce_id: 001 is not a 15 or 18 character",
            ),
            (b"name\nAcme\nGlobex\n\"Init\"ech\"\n", 4, ""),
        ];
        for (file, line, reason) in cases {
            match rows_of(file) {
                Err(e) => {
                    assert_eq!(e.line, line, "{e}");
                    assert!(e.reason.contains(reason), "{e}");
                }
                // The csv crate reads a stray quote leniently; such a row is
                // read as written, not refused.
                Ok(rows) => assert_eq!(reason, "", "{rows:?}"),
            }
        }
        let long = format!("name\n{}\n", "x".repeat(301));
        assert_eq!(
            rows_of(long.as_bytes()).unwrap_err().reason,
            "name: longer than 300 characters"
        );
    }

    #[test]
    fn the_row_limit_names_the_first_line_over_it() {
        let mut file = String::from("domain\n");
        for i in 0..=MAX_ROWS {
            file.push_str(&format!("c{i}.example\n"));
        }
        let e = rows_of(file.as_bytes()).unwrap_err();
        assert_eq!(e.line, MAX_ROWS as u64 + 2);
        assert_eq!(e.reason, "over the limit of 200000 rows");
        let at_limit = file.rsplit_once("c200000").unwrap().0;
        assert_eq!(rows_of(at_limit.as_bytes()).unwrap().len(), MAX_ROWS);
    }
}
