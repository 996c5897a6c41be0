//! Website domains, normalised: lower case, no scheme, path, port or `www.`,
//! internationalised names in their ASCII (IDNA) form.

/// Normalise what a user typed (`https://www.Bücher.example/shop`) to a domain
/// (`xn--bcher-kva.example`), or say why it is not one.
pub fn normalise(input: &str) -> Result<String, &'static str> {
    let s = input.trim();
    if s.is_empty() {
        return Err("a website domain is required");
    }
    let with_scheme = if s.contains("://") {
        s.to_string()
    } else {
        format!("http://{s}")
    };
    let url = url::Url::parse(&with_scheme).map_err(|_| "not a website domain")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("not a website domain");
    }
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
        Some(_) => return Err("an IP address is not a website domain"),
        None => return Err("not a website domain"),
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
}
