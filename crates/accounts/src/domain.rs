//! A company's key: its registrable domain. What a user, a CRM export or a
//! partner file says (`https://www.Shop.Acme.co.uk/about`) becomes the part
//! a company registers (`acme.co.uk`): lower case, internationalised names
//! in their ASCII (IDNA) form, no scheme, port, path or `www.`, and the
//! registrable part taken with the Public Suffix List (the `psl` crate,
//! compiled in).

/// The registrable domain of `input`, or why it has none.
pub fn registrable(input: &str) -> Result<String, &'static str> {
    let host = platform::website::normalise(input)?;
    match psl::domain_str(&host) {
        Some(d) => Ok(d.to_string()),
        // The whole name is a public suffix (`co.uk`, `github.io`).
        None => Err("a public suffix, not a company's domain"),
    }
}

#[cfg(test)]
mod tests {
    use super::registrable;

    #[test]
    fn the_registrable_part_is_the_key() {
        for (input, want) in [
            ("acme.com", "acme.com"),
            ("https://www.Acme.com/products?x=1", "acme.com"),
            ("shop.acme.co.uk", "acme.co.uk"),
            ("http://www.shop.ACME.co.uk:8443/a/b", "acme.co.uk"),
            ("eu.app.acme.com.au", "acme.com.au"),
            ("news.bbc.co.uk.", "bbc.co.uk"),
            // Internationalised names, in their ASCII form.
            ("www.bücher.de", "xn--bcher-kva.de"),
            ("shop.bücher.example", "xn--bcher-kva.example"),
            ("xn--bcher-kva.de", "xn--bcher-kva.de"),
            // Private suffixes count: each user of a shared host is its own.
            ("acme.github.io", "acme.github.io"),
            // Unknown top-level domains: the last label is the suffix.
            ("sales.initech.example", "initech.example"),
        ] {
            assert_eq!(registrable(input).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn what_has_no_registrable_domain_says_why() {
        for (input, why) in [
            ("co.uk", "a public suffix, not a company's domain"),
            ("github.io", "a public suffix, not a company's domain"),
            ("", "a website domain is required"),
            ("   ", "a website domain is required"),
            ("localhost", "not a website domain"),
            ("10.0.0.1", "an IP address is not a website domain"),
            ("ftp://acme.com", "not a website domain"),
            ("acme..com", "not a website domain"),
            ("not a domain", "not a website domain"),
        ] {
            assert_eq!(registrable(input), Err(why), "{input:?}");
        }
    }
}
