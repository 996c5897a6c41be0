//! The subset of SOQL the sandbox answers: `SELECT` a field list `FROM` an
//! object, `WHERE` comparisons (`=`, `!=`, `<`, `<=`, `>`, `>=`, `IN`,
//! `NOT IN`) joined by `AND`/`OR`/`NOT` with parentheses, `ORDER BY` fields
//! (`ASC`/`DESC`), `LIMIT`. Literals are typed as Salesforce types them:
//! quoted strings, numbers, `true`/`false`, `null`, dates and date-times
//! unquoted. Anything else is Salesforce's `MALFORMED_QUERY`.

use chrono::{DateTime, NaiveDate, Utc};

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Cmp(String, Op, Literal),
    In(String, Vec<Literal>, bool),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub fields: Vec<String>,
    pub object: String,
    pub filter: Option<Cond>,
    /// (field, descending)
    pub order: Vec<(String, bool)>,
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Punct(&'static str),
}

fn tokens(q: &str) -> Result<Vec<Tok>, String> {
    let b = q.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err("unterminated string".into()),
                    Some(b'\\') => {
                        let e = *b.get(i + 1).ok_or("unterminated string")?;
                        s.push(match e {
                            b'n' => '\n',
                            b't' => '\t',
                            other => other as char,
                        });
                        i += 2;
                    }
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(_) => {
                        let ch = q[i..].chars().next().unwrap_or('\u{fffd}');
                        s.push(ch);
                        i += ch.len_utf8();
                    }
                }
            }
            out.push(Tok::Str(s));
        } else if let Some(p) = ["!=", "<=", ">=", "<>", "=", "<", ">", "(", ")", ","]
            .into_iter()
            .find(|p| q[i..].starts_with(p))
        {
            out.push(Tok::Punct(if p == "<>" { "!=" } else { p }));
            i += p.len();
        } else if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.' || c == b'+' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b"_.:-+".contains(&b[i])) {
                i += 1;
            }
            out.push(Tok::Word(q[start..i].to_string()));
        } else {
            return Err(format!("unexpected character '{}'", c as char));
        }
    }
    Ok(out)
}

/// Words that are never a field or object name.
const RESERVED: [&str; 12] = [
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "ORDER", "BY", "LIMIT", "ASC", "DESC",
];

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek_kw(&self, kw: &str) -> bool {
        matches!(self.toks.get(self.at), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }
    fn kw(&mut self, kw: &str) -> bool {
        let yes = self.peek_kw(kw);
        if yes {
            self.at += 1;
        }
        yes
    }
    fn expect_kw(&mut self, kw: &str) -> Result<(), String> {
        if self.kw(kw) {
            Ok(())
        } else {
            Err(format!("expecting '{kw}', found {}", self.found()))
        }
    }
    fn punct(&mut self, p: &str) -> bool {
        let yes = matches!(self.toks.get(self.at), Some(Tok::Punct(x)) if *x == p);
        if yes {
            self.at += 1;
        }
        yes
    }
    fn found(&self) -> String {
        match self.toks.get(self.at) {
            None => "the end of the query".into(),
            Some(Tok::Word(w)) => format!("'{w}'"),
            Some(Tok::Str(s)) => format!("'{s}'"),
            Some(Tok::Punct(p)) => format!("'{p}'"),
        }
    }
    fn ident(&mut self) -> Result<String, String> {
        match self.toks.get(self.at) {
            Some(Tok::Word(w))
                if w.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && !RESERVED.iter().any(|r| w.eq_ignore_ascii_case(r)) =>
            {
                self.at += 1;
                Ok(w.clone())
            }
            _ => Err(format!("expecting a field name, found {}", self.found())),
        }
    }
    fn literal(&mut self) -> Result<Literal, String> {
        let lit = match self.toks.get(self.at) {
            Some(Tok::Str(s)) => Literal::Str(s.clone()),
            Some(Tok::Word(w)) => {
                word_literal(w).ok_or_else(|| format!("unexpected token: '{w}'"))?
            }
            _ => return Err(format!("expecting a value, found {}", self.found())),
        };
        self.at += 1;
        Ok(lit)
    }
    fn or(&mut self) -> Result<Cond, String> {
        let mut left = self.and()?;
        while self.kw("OR") {
            left = Cond::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Cond, String> {
        let mut left = self.unary()?;
        while self.kw("AND") {
            left = Cond::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }
    fn unary(&mut self) -> Result<Cond, String> {
        if self.kw("NOT") {
            return Ok(Cond::Not(Box::new(self.unary()?)));
        }
        if self.punct("(") {
            let c = self.or()?;
            if !self.punct(")") {
                return Err(format!("expecting ')', found {}", self.found()));
            }
            return Ok(c);
        }
        let field = self.ident()?;
        let negated = self.kw("NOT");
        if self.kw("IN") {
            if !self.punct("(") {
                return Err(format!("expecting '(', found {}", self.found()));
            }
            let mut values = vec![self.literal()?];
            while self.punct(",") {
                values.push(self.literal()?);
            }
            if !self.punct(")") {
                return Err(format!("expecting ')', found {}", self.found()));
            }
            return Ok(Cond::In(field, values, negated));
        }
        if negated {
            return Err(format!("expecting 'IN', found {}", self.found()));
        }
        let op = [
            ("=", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("<", Op::Lt),
            (">", Op::Gt),
        ]
        .into_iter()
        .find(|(p, _)| self.punct(p))
        .map(|(_, op)| op)
        .ok_or_else(|| format!("unexpected token: {}", self.found()))?;
        Ok(Cond::Cmp(field, op, self.literal()?))
    }
}

fn word_literal(w: &str) -> Option<Literal> {
    if w.eq_ignore_ascii_case("true") {
        return Some(Literal::Bool(true));
    }
    if w.eq_ignore_ascii_case("false") {
        return Some(Literal::Bool(false));
    }
    if w.eq_ignore_ascii_case("null") {
        return Some(Literal::Null);
    }
    if let Ok(d) = NaiveDate::parse_from_str(w, "%Y-%m-%d") {
        return Some(Literal::Date(d));
    }
    if w.len() > 10 && w.as_bytes()[10] == b'T' {
        return parse_datetime(w).map(Literal::DateTime);
    }
    w.parse::<f64>().ok().map(Literal::Num)
}

/// A SOQL or Salesforce date-time: `2026-12-06T12:00:00Z`,
/// `2026-12-06T12:00:00.000+0000`, `2026-12-06T12:00:00+01:00`.
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Parse a query.
pub fn parse(q: &str) -> Result<Query, String> {
    let mut p = Parser {
        toks: tokens(q)?,
        at: 0,
    };
    p.expect_kw("SELECT")?;
    let mut fields = vec![p.ident()?];
    while p.punct(",") {
        fields.push(p.ident()?);
    }
    p.expect_kw("FROM")?;
    let object = p.ident()?;
    let filter = if p.kw("WHERE") { Some(p.or()?) } else { None };
    let mut order = Vec::new();
    if p.kw("ORDER") {
        p.expect_kw("BY")?;
        loop {
            let f = p.ident()?;
            let desc = if p.kw("DESC") {
                true
            } else {
                p.kw("ASC");
                false
            };
            order.push((f, desc));
            if !p.punct(",") {
                break;
            }
        }
    }
    let limit = if p.kw("LIMIT") {
        match p.literal()? {
            Literal::Num(n) if n >= 0.0 && n.fract() == 0.0 => Some(n as usize),
            _ => return Err("LIMIT must be a non-negative integer".into()),
        }
    } else {
        None
    };
    if p.at < p.toks.len() {
        return Err(format!("unexpected token: {}", p.found()));
    }
    Ok(Query {
        fields,
        object,
        filter,
        order,
        limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queries_p360_sends_parse() {
        let q = parse(
            "SELECT Id, Name, SystemModstamp FROM Account \
             WHERE SystemModstamp >= 2026-12-01T10:00:00Z AND (IsDeleted = true OR Id IN ('001A', '001B')) \
             ORDER BY SystemModstamp ASC, Id LIMIT 10",
        )
        .unwrap();
        assert_eq!(q.fields, ["Id", "Name", "SystemModstamp"]);
        assert_eq!(q.object, "Account");
        assert_eq!(
            q.order,
            [("SystemModstamp".into(), false), ("Id".into(), false)]
        );
        assert_eq!(q.limit, Some(10));
        let Some(Cond::And(a, b)) = q.filter else {
            panic!("an AND")
        };
        assert!(
            matches!(*a, Cond::Cmp(ref f, Op::Ge, Literal::DateTime(_)) if f == "SystemModstamp")
        );
        assert!(matches!(*b, Cond::Or(..)));
        assert_eq!(
            parse("select Name from Account where Name = 'O\\'Brien'")
                .unwrap()
                .filter,
            Some(Cond::Cmp(
                "Name".into(),
                Op::Eq,
                Literal::Str("O'Brien".into())
            ))
        );
    }

    #[test]
    fn what_is_not_soql_is_refused_with_where() {
        assert!(
            parse("SELECT FROM Account")
                .unwrap_err()
                .contains("field name")
        );
        assert!(parse("SELECT Id Account").unwrap_err().contains("FROM"));
        assert!(parse("SELECT Id FROM Account WHERE Name = 'x").is_err());
        assert!(parse("SELECT Id FROM Account LIMIT -1").is_err());
        assert!(parse("SELECT Id FROM Account GROUP BY Name").is_err());
        assert!(parse("DELETE Account").is_err());
    }
}
