//! Website domains, normalised: lower case, no scheme, path, port or `www.`,
//! internationalised names in their ASCII (IDNA) form.

/// Normalise what a user typed (`https://www.Bücher.example/shop`) to a domain
/// (`xn--bcher-kva.example`), or say why it is not one.
pub fn normalise(input: &str) -> Result<String, &'static str> {
    let s = input.trim();
    if s.is_empty() {
        return Err("a website domain is required");
    }
    let host = match plain(s) {
        Some(host) => host,
        None => {
            let with_scheme = if s.contains("://") {
                s.to_string()
            } else {
                format!("http://{s}")
            };
            let url = url::Url::parse(&with_scheme).map_err(|_| "not a website domain")?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err("not a website domain");
            }
            match url.host() {
                Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
                Some(_) => return Err("an IP address is not a website domain"),
                None => return Err("not a website domain"),
            }
        }
    };
    let host = host.trim_end_matches('.');
    let host = host.strip_prefix("www.").unwrap_or(host);
    if !host.contains('.')
        || host.split('.').any(|l| l.is_empty() || l.len() > 63)
        || host.len() > 253
    {
        return Err("not a website domain");
    }
    Ok(host.to_string())
}

/// A name that is already a host as the URL standard would give it back
/// (ASCII letters, digits, hyphens and dots; lower-cased), without parsing
/// a URL: most of what files hold. `None` for anything else, which goes
/// through the URL parser: other characters (a scheme, a port, a path,
/// non-ASCII letters for IDNA), a last label starting with a digit (the
/// standard may read the name as an IPv4 address) and `xn--` labels (IDNA
/// checks them).
fn plain(s: &str) -> Option<String> {
    if !s
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
    {
        return None;
    }
    let host = s.to_ascii_lowercase();
    let last = host.trim_end_matches('.').rsplit('.').next()?;
    if !last.starts_with(|c: char| c.is_ascii_alphabetic())
        || host.split('.').any(|l| l.starts_with("xn--"))
    {
        return None;
    }
    Some(host)
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn domains_are_normalised() {
        assert_eq!(
            normalise("https://www.Acme.com/products?x=1"),
            Ok("acme.com".into())
        );
        assert_eq!(normalise("ACME.co.uk"), Ok("acme.co.uk".into()));
        assert_eq!(
            normalise("www.bücher.example"),
            Ok("xn--bcher-kva.example".into())
        );
        assert_eq!(normalise("acme.com:8443"), Ok("acme.com".into()));
        assert!(normalise("localhost").is_err());
        assert!(normalise("192.168.1.1").is_err());
        assert!(normalise("ftp://acme.com").is_err());
        assert!(normalise("").is_err());
        assert!(normalise("acme..com").is_err());
    }

    /// Names the fast path takes come out as the URL parser gives them.
    #[test]
    fn plain_names_come_out_as_the_url_parser_gives_them() {
        let by_url = |s: &str| {
            url::Url::parse(&format!("http://{s}"))
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
        };
        for name in [
            "acme.com",
            "ACME.Co.UK",
            "www.acme.example",
            "a-b.example.",
            "acme.com..",
            "-acme-.example",
            "sub.0day.example",
            "acme.c0m",
            ".acme.com",
            "x.y.z.w.v",
        ] {
            let fast = super::plain(name);
            assert!(fast.is_some(), "{name}");
            assert_eq!(fast, by_url(name), "{name}");
        }
        // Not plain: the URL parser decides.
        for name in [
            "192.168.1.1",
            "1.2.3",
            "acme.123",
            "0x7f.1",
            "xn--bcher-kva.de",
            "acme.com:8443",
            "bücher.de",
            "acme.com/x",
            "https://acme.com",
            "acme_corp.com",
        ] {
            assert_eq!(super::plain(name), None, "{name}");
        }
    }
}
