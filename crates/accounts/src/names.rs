//! A company name's matching key: what is left of a name once the ways the
//! same company is written differently are taken out. `ACME, Inc.`,
//! `Acme Inc`, `acme` and `The Acme Company` all become `acme`;
//! `Société Générale S.A.` and `Societe Generale` both become
//! `societe generale`.
//!
//! Steps: Unicode compatibility decomposition with the diacritics dropped
//! (`unicode-normalization`, already in the graph through sqlx), lower
//! case, `&` read as `and`, apostrophes and dots dropped inside words (so
//! `S.A.` is `sa` and `McDonald's` is `mcdonalds`), every other
//! punctuation a space, a leading `the`, and then legal-form words (and
//! the `and`s between them) taken off the end as long as a word is left (`Acme Holdings Pty Ltd` keeps
//! `holdings`: only legal forms go).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Legal forms, as words once dots are dropped: `S.A.` is `sa`, `Pty.
/// Ltd.` is `pty ltd` (two words, both here).
const LEGAL_FORMS: &[&str] = &[
    // English-speaking countries
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "llc",
    "lllp",
    "llp",
    "lp",
    "ltd",
    "limited",
    "plc",
    "pty",
    "pte",
    "pvt",
    "pc",
    // German-speaking countries
    "gmbh",
    "mbh",
    "ag",
    "kg",
    "kgaa",
    "ohg",
    "ug",
    "ev",
    // Romance languages
    "sa",
    "sas",
    "sasu",
    "sarl",
    "srl",
    "spa",
    "sl",
    "sau",
    "sca",
    "ltda",
    "cv",
    "de",
    "sab",
    // Benelux and the Nordics
    "bv",
    "nv",
    "bvba",
    "ab",
    "as",
    "asa",
    "aps",
    "oy",
    "oyj",
    // Elsewhere
    "kk",
    "kft",
    "zrt",
    "sp",
    "zoo",
    "spolka",
    "doo",
    "ooo",
    "jsc",
    "pjsc",
    "bhd",
    "sdn",
    "tbk",
];

/// The matching key of `name`, or `None` when nothing that names a company
/// is left (`Inc.`, `---`).
pub fn key(name: &str) -> Option<String> {
    let mut folded = String::with_capacity(name.len());
    for c in name.nfkd().filter(|c| !is_combining_mark(*c)) {
        match c {
            '&' | '+' => folded.push_str(" and "),
            // Dropped inside a word: S.A. -> sa, McDonald's -> mcdonalds.
            '.' | '\'' | '\u{2019}' | '`' => {}
            c if c.is_alphanumeric() => folded.extend(c.to_lowercase()),
            _ => folded.push(' '),
        }
    }
    let mut words: Vec<&str> = folded.split_whitespace().collect();
    if words.len() > 1 && words[0] == "the" {
        words.remove(0);
    }
    // `GmbH & Co. KG`: legal forms and the `and`s between them, from the end.
    while words.len() > 1
        && words
            .last()
            .is_some_and(|w| *w == "and" || LEGAL_FORMS.contains(w))
    {
        words.pop();
    }
    // `Ltd`, `Inc.`: nothing but a legal form is not a name.
    if words.len() == 1 && LEGAL_FORMS.contains(&words[0]) {
        return None;
    }
    (!words.is_empty()).then(|| words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::key;

    #[test]
    fn the_ways_one_company_is_written_share_a_key() {
        for (names, want) in [
            (
                &[
                    "Acme",
                    "ACME, Inc.",
                    "Acme Inc",
                    "acme inc.",
                    "The Acme Company",
                ][..],
                "acme",
            ),
            (&["Acme Corp.", "Acme Corporation", "Acme LLC"], "acme"),
            (&["Globex Ltd", "Globex Limited", "GLOBEX PLC"], "globex"),
            (
                &["Initech GmbH", "Initech AG", "Initech GmbH & Co. KG"],
                "initech",
            ),
            (
                &["Vandelay S.A.", "Vandelay SA", "Vandelay S.A. de C.V."],
                "vandelay",
            ),
            (
                &["Hooli B.V.", "Hooli N.V.", "Hooli AB", "Hooli Oy"],
                "hooli",
            ),
            (
                &["Wayne Enterprises Pty. Ltd.", "Wayne Enterprises"],
                "wayne enterprises",
            ),
            (
                &["Société Générale S.A.", "Societe Generale"],
                "societe generale",
            ),
            (
                &["McDonald's", "Mcdonalds", "McDonald’s Corporation"],
                "mcdonalds",
            ),
            (&["AT&T Inc.", "AT and T"], "at and t"),
            (
                &["Procter & Gamble Co.", "Procter and Gamble"],
                "procter and gamble",
            ),
            (&["  Stark   Industries\t"], "stark industries"),
            (&["Ｆｕｌｌｗｉｄｔｈ Ltd"], "fullwidth"),
        ] {
            for n in names {
                assert_eq!(key(n).as_deref(), Some(want), "{n}");
            }
        }
    }

    #[test]
    fn only_legal_forms_come_off_and_never_the_whole_name() {
        // Words that are not legal forms stay.
        assert_eq!(key("Acme Holdings Ltd").as_deref(), Some("acme holdings"));
        assert_eq!(key("Acme Group").as_deref(), Some("acme group"));
        // A name that is a legal-form word alone keeps it when it is first.
        assert_eq!(key("Company Inc").as_deref(), None);
        assert_eq!(key("The Company").as_deref(), None);
        assert_eq!(
            key("Co-operative Bank").as_deref(),
            Some("co operative bank")
        );
        // `The` alone is a name.
        assert_eq!(key("The").as_deref(), Some("the"));
        for nothing in ["", "   ", "Inc.", "---", "Ltd", "S.A."] {
            assert_eq!(key(nothing), None, "{nothing:?}");
        }
    }
}
