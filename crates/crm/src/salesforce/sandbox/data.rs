//! The sandbox org's records: the objects P360 reads, their fields and
//! types, Salesforce's ids, and how a query filters and orders them.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};

use super::soql::{Cond, Literal, Op, Query, parse_datetime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Id,
    Str,
    Int,
    Currency,
    Bool,
    Date,
    DateTime,
}

/// The objects the sandbox holds: name, key prefix, fields.
pub fn schema(object: &str, multi_currency: bool) -> Option<Vec<(&'static str, FieldType)>> {
    use FieldType::*;
    let common = [
        ("Id", Id),
        ("CreatedDate", DateTime),
        ("LastModifiedDate", DateTime),
        ("SystemModstamp", DateTime),
        ("IsDeleted", Bool),
    ];
    let mut fields: Vec<(&'static str, FieldType)> = common.to_vec();
    match object {
        "Account" => fields.extend([
            ("Name", Str),
            ("Website", Str),
            ("Industry", Str),
            ("NumberOfEmployees", Int),
            ("BillingCountry", Str),
        ]),
        "Opportunity" => {
            fields.extend([
                ("AccountId", Id),
                ("Name", Str),
                ("Amount", Currency),
                ("StageName", Str),
                ("CloseDate", Date),
                ("IsClosed", Bool),
                ("IsWon", Bool),
            ]);
            if multi_currency {
                fields.push(("CurrencyIsoCode", Str));
            }
        }
        "OpportunityHistory" => {
            fields.retain(|(f, _)| *f != "LastModifiedDate");
            fields.extend([
                ("OpportunityId", Id),
                ("StageName", Str),
                ("Amount", Currency),
                ("CloseDate", Date),
            ]);
        }
        _ => return None,
    }
    Some(fields)
}

/// The key prefix of an object's ids.
pub fn prefix(object: &str) -> &'static str {
    match object {
        "Account" => "001",
        "Opportunity" => "006",
        "OpportunityHistory" => "008",
        _ => "000",
    }
}

/// Salesforce's 18-character id for a 15-character one: three letters that
/// say which of the fifteen are upper case, so the id survives
/// case-insensitive systems.
pub fn id18(id15: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    let mut out = id15.to_string();
    for chunk in id15.as_bytes().chunks(5) {
        let mut bits = 0usize;
        for (i, c) in chunk.iter().enumerate() {
            if c.is_ascii_uppercase() {
                bits |= 1 << i;
            }
        }
        out.push(ALPHABET[bits] as char);
    }
    out
}

/// The `n`th id of an object in an org.
pub fn new_id(object: &str, n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut tail = [b'0'; 9];
    let mut v = n;
    for slot in tail.iter_mut().rev() {
        *slot = DIGITS[(v % 62) as usize];
        v /= 62;
    }
    id18(&format!(
        "{}5g0{}",
        prefix(object),
        std::str::from_utf8(&tail).unwrap_or("000000000")
    ))
}

/// Salesforce's date-time form: `2026-12-06T12:00:00.000+0000`.
pub fn datetime_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// A value compared with a literal: its order, or `None` when the types do
/// not compare (a query error found before any record is read).
fn compare(value: &Value, ty: FieldType, lit: &Literal) -> Option<Ordering> {
    if value.is_null() {
        return None;
    }
    match (ty, lit) {
        (FieldType::Id | FieldType::Str, Literal::Str(s)) => {
            let v = value.as_str()?;
            if ty == FieldType::Id {
                Some(v[..15.min(v.len())].cmp(&s[..15.min(s.len())]))
            } else {
                Some(v.to_lowercase().cmp(&s.to_lowercase()))
            }
        }
        (FieldType::Int | FieldType::Currency, Literal::Num(n)) => value.as_f64()?.partial_cmp(n),
        (FieldType::Bool, Literal::Bool(b)) => Some(value.as_bool()?.cmp(b)),
        (FieldType::Date, Literal::Date(d)) => Some(
            NaiveDate::parse_from_str(value.as_str()?, "%Y-%m-%d")
                .ok()?
                .cmp(d),
        ),
        (FieldType::DateTime, Literal::DateTime(d)) => {
            Some(parse_datetime(value.as_str()?)?.cmp(d))
        }
        _ => None,
    }
}

fn type_name(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Id => "id",
        FieldType::Str => "string",
        FieldType::Int => "int",
        FieldType::Currency => "currency",
        FieldType::Bool => "boolean",
        FieldType::Date => "date",
        FieldType::DateTime => "dateTime",
    }
}

fn literal_fits(ty: FieldType, lit: &Literal) -> bool {
    matches!(
        (ty, lit),
        (_, Literal::Null)
            | (FieldType::Id | FieldType::Str, Literal::Str(_))
            | (FieldType::Int | FieldType::Currency, Literal::Num(_))
            | (FieldType::Bool, Literal::Bool(_))
            | (FieldType::Date, Literal::Date(_))
            | (FieldType::DateTime, Literal::DateTime(_))
    )
}

/// Salesforce's errors for a query: (errorCode, message).
pub type QueryError = (&'static str, String);

/// Check a parsed query against the object's fields.
pub fn check(q: &Query, fields: &[(&'static str, FieldType)]) -> Result<(), QueryError> {
    let ty = |f: &str| {
        fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(f))
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                (
                    "INVALID_FIELD",
                    format!("No such column '{f}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.", q.object),
                )
            })
    };
    for f in q.fields.iter().chain(q.order.iter().map(|(f, _)| f)) {
        ty(f)?;
    }
    fn walk(
        c: &Cond,
        ty: &dyn Fn(&str) -> Result<FieldType, QueryError>,
    ) -> Result<(), QueryError> {
        let fits = |f: &str, lit: &Literal| -> Result<(), QueryError> {
            let t = ty(f)?;
            if literal_fits(t, lit) {
                Ok(())
            } else {
                Err((
                    "INVALID_FIELD",
                    format!(
                        "value of filter criterion for field '{f}' must be of type {} and should {}be enclosed in quotes",
                        type_name(t),
                        if matches!(t, FieldType::Id | FieldType::Str) {
                            ""
                        } else {
                            "not "
                        }
                    ),
                ))
            }
        };
        match c {
            Cond::Cmp(f, _, lit) => fits(f, lit),
            Cond::In(f, lits, _) => lits.iter().try_for_each(|l| fits(f, l)),
            Cond::And(a, b) | Cond::Or(a, b) => {
                walk(a, ty)?;
                walk(b, ty)
            }
            Cond::Not(a) => walk(a, ty),
        }
    }
    if let Some(c) = &q.filter {
        walk(c, &ty)?;
    }
    Ok(())
}

/// Whether `record` meets `c`.
pub fn meets(c: &Cond, record: &Map<String, Value>, fields: &[(&'static str, FieldType)]) -> bool {
    let get = |f: &str| {
        let (name, ty) = fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(f))
            .copied()
            .unwrap_or(("", FieldType::Str));
        (record.get(name).cloned().unwrap_or(Value::Null), ty)
    };
    match c {
        Cond::Cmp(f, op, lit) => {
            let (v, ty) = get(f);
            if *lit == Literal::Null {
                return match op {
                    Op::Eq => v.is_null(),
                    Op::Ne => !v.is_null(),
                    _ => false,
                };
            }
            let Some(ord) = compare(&v, ty, lit) else {
                return *op == Op::Ne && v.is_null();
            };
            match op {
                Op::Eq => ord == Ordering::Equal,
                Op::Ne => ord != Ordering::Equal,
                Op::Lt => ord == Ordering::Less,
                Op::Le => ord != Ordering::Greater,
                Op::Gt => ord == Ordering::Greater,
                Op::Ge => ord != Ordering::Less,
            }
        }
        Cond::In(f, lits, negated) => {
            let (v, ty) = get(f);
            let found = lits
                .iter()
                .any(|l| compare(&v, ty, l) == Some(Ordering::Equal));
            found != *negated
        }
        Cond::And(a, b) => meets(a, record, fields) && meets(b, record, fields),
        Cond::Or(a, b) => meets(a, record, fields) || meets(b, record, fields),
        Cond::Not(a) => !meets(a, record, fields),
    }
}

/// Order records by the query's `ORDER BY` (nulls first, as Salesforce
/// sorts ascending).
pub fn order(records: &mut [&Map<String, Value>], q: &Query, fields: &[(&'static str, FieldType)]) {
    let keys: Vec<(&'static str, FieldType, bool)> = q
        .order
        .iter()
        .filter_map(|(f, desc)| {
            fields
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(f))
                .map(|(n, t)| (*n, *t, *desc))
        })
        .collect();
    records.sort_by(|a, b| {
        for (name, ty, desc) in &keys {
            let (x, y) = (a.get(*name), b.get(*name));
            let ord = match (x, y) {
                (None | Some(Value::Null), None | Some(Value::Null)) => Ordering::Equal,
                (None | Some(Value::Null), _) => Ordering::Less,
                (_, None | Some(Value::Null)) => Ordering::Greater,
                (Some(x), Some(y)) => match ty {
                    FieldType::DateTime => parse_datetime(x.as_str().unwrap_or_default())
                        .cmp(&parse_datetime(y.as_str().unwrap_or_default())),
                    FieldType::Int | FieldType::Currency => x
                        .as_f64()
                        .partial_cmp(&y.as_f64())
                        .unwrap_or(Ordering::Equal),
                    FieldType::Bool => x.as_bool().cmp(&y.as_bool()),
                    _ => x.as_str().cmp(&y.as_str()),
                },
            };
            let ord = if *desc { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
}

/// The records of one object, by id.
pub type Table = BTreeMap<String, Map<String, Value>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_salesforce_case_suffix() {
        // The documented example: 001A0000006Vm9r -> 001A0000006Vm9rIAC.
        assert_eq!(id18("001A0000006Vm9r"), "001A0000006Vm9rIAC");
        let a = new_id("Account", 1);
        assert_eq!(a.len(), 18);
        assert!(a.starts_with("001"));
        assert_ne!(new_id("Account", 2), a);
    }
}
