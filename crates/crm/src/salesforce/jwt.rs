//! The OAuth 2.0 JWT bearer flow's assertion, both sides of it: P360 signs
//! `{iss: consumer key, sub: username, aud: login URL, exp}` with RS256
//! under the tenant's private key ([`sign`]); the sandbox verifies it
//! against the connected app's certificate ([`verify`]). Keys are read from
//! PEM — a private key as PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE
//! KEY`), the app's key as an X.509 `CERTIFICATE` (what Salesforce asks
//! for) or a `PUBLIC KEY`.

use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

/// How long an assertion P360 makes is valid (Salesforce accepts at most
/// three minutes).
pub const ASSERTION_SECS: i64 = 170;

/// The grant type of the JWT bearer flow.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The assertion's claims.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    /// Seconds since the epoch; some clients (simple-salesforce) send it as
    /// a string of digits, which Salesforce accepts too.
    #[serde(deserialize_with = "number_or_digits")]
    pub exp: i64,
}

fn number_or_digits<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Exp {
        Number(i64),
        Text(String),
    }
    match Exp::deserialize(d)? {
        Exp::Number(n) => Ok(n),
        Exp::Text(t) => t
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom("exp is not a number")),
    }
}

/// Why a key or an assertion was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("not PEM: expected -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----")]
    NotPem,
    #[error("the PEM block is {0}, not an RSA private key")]
    WrongBlock(String),
    #[error("not an RSA private key of 2048 bits or more")]
    NotRsa,
    #[error("not an X.509 certificate or public key in PEM")]
    NotPublic,
}

/// The first PEM block of `text`: its label and its bytes.
pub fn pem_block(text: &str) -> Option<(String, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + 11..];
    let label_end = rest.find("-----")?;
    let label = rest[..label_end].to_string();
    let body = &rest[label_end + 5..];
    let end = body.find(&format!("-----END {label}-----"))?;
    let b64: String = body[..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    Some((label, STANDARD.decode(b64).ok()?))
}

/// An RSA private key from PEM.
pub fn private_key(pem: &str) -> Result<RsaKeyPair, KeyError> {
    let (label, der) = pem_block(pem).ok_or(KeyError::NotPem)?;
    let key = match label.as_str() {
        "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
        other => return Err(KeyError::WrongBlock(other.to_string())),
    }
    .map_err(|_| KeyError::NotRsa)?;
    if key.public_modulus_len() < 256 {
        return Err(KeyError::NotRsa);
    }
    Ok(key)
}

/// The SubjectPublicKeyInfo (DER) of a certificate or public key in PEM.
pub fn public_key(pem: &str) -> Result<Vec<u8>, KeyError> {
    let (label, der) = pem_block(pem).ok_or(KeyError::NotPublic)?;
    let spki = match label.as_str() {
        "PUBLIC KEY" | "RSA PUBLIC KEY" => der,
        "CERTIFICATE" => certificate_spki(&der).ok_or(KeyError::NotPublic)?,
        _ => return Err(KeyError::NotPublic),
    };
    aws_lc_rs::rsa::PublicKey::from_der(&spki).map_err(|_| KeyError::NotPublic)?;
    Ok(spki)
}

/// One DER element at the start of `input`: (tag, contents, the rest).
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, b| (a << 8) | *b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The SubjectPublicKeyInfo of an X.509 certificate: the seventh element of
/// its TBSCertificate (the sixth without the optional explicit version).
fn certificate_spki(der: &[u8]) -> Option<Vec<u8>> {
    let (0x30, cert, _) = der_element(der)? else {
        return None;
    };
    let (0x30, tbs, _) = der_element(cert)? else {
        return None;
    };
    let mut rest = tbs;
    let mut elements = Vec::new();
    while !rest.is_empty() {
        let start = rest;
        let (tag, _, after) = der_element(rest)?;
        elements.push((tag, &start[..start.len() - after.len()]));
        rest = after;
    }
    let skip = usize::from(elements.first()?.0 == 0xa0);
    let (tag, spki) = *elements.get(skip + 5)?;
    (tag == 0x30).then(|| spki.to_vec())
}

/// The signed assertion.
pub fn sign(key: &RsaKeyPair, claims: &Claims) -> anyhow::Result<String> {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?);
    let input = format!("{header}.{payload}");
    let mut sig = vec![0u8; key.public_modulus_len()];
    key.sign(
        &signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .map_err(|_| anyhow::anyhow!("signing the assertion failed"))?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// The SubjectPublicKeyInfo (DER) of a private key's public half.
pub fn public_of(key: &RsaKeyPair) -> Vec<u8> {
    use aws_lc_rs::encoding::AsDer as _;
    key.public_key()
        .as_der()
        .map(|d| d.as_ref().to_vec())
        .unwrap_or_default()
}

/// Why an assertion was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    Malformed,
    Signature,
}

/// The claims of an RS256 assertion, once its signature verifies against
/// `spki`. Claims are not judged here (the caller knows what to expect).
pub fn verify(assertion: &str, spki: &[u8]) -> Result<Claims, Refused> {
    let mut parts = assertion.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refused::Malformed);
    };
    let header: serde_json::Value = URL_SAFE_NO_PAD
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(Refused::Malformed)?;
    if header["alg"] != "RS256" {
        return Err(Refused::Signature);
    }
    let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| Refused::Malformed)?;
    signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, spki)
        .verify(format!("{h}.{p}").as_bytes(), &sig)
        .map_err(|_| Refused::Signature)?;
    URL_SAFE_NO_PAD
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(Refused::Malformed)
}

/// A new RSA key pair as PKCS#8 PEM (the sandbox's generated apps, tests).
pub fn generate_pem() -> anyhow::Result<String> {
    use aws_lc_rs::encoding::AsDer as _;
    let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .map_err(|_| anyhow::anyhow!("cannot generate an RSA key"))?;
    let der = key
        .as_der()
        .map_err(|_| anyhow::anyhow!("cannot encode the key"))?;
    Ok(pem("PRIVATE KEY", der.as_ref()))
}

/// `der` as a PEM block.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assertion_signed_verifies_and_a_changed_one_does_not() {
        let pem_text = generate_pem().unwrap();
        let key = private_key(&pem_text).unwrap();
        let spki = public_of(&key);
        let public_pem = pem("PUBLIC KEY", &spki);
        assert_eq!(public_key(&public_pem).unwrap(), spki);
        let claims = Claims {
            iss: "3MVG9".into(),
            sub: "sync@acme.example".into(),
            aud: "https://login.salesforce.com".into(),
            exp: 1_800_000_000,
        };
        let a = sign(&key, &claims).unwrap();
        assert_eq!(verify(&a, &spki).unwrap(), claims);
        // Another key does not verify it.
        let other = public_of(&private_key(&generate_pem().unwrap()).unwrap());
        assert_eq!(verify(&a, &other), Err(Refused::Signature));
        // A payload changed after signing does not verify.
        let mut parts: Vec<&str> = a.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Claims {
                sub: "admin@acme.example".into(),
                ..claims.clone()
            })
            .unwrap(),
        );
        parts[1] = &forged;
        assert_eq!(verify(&parts.join("."), &spki), Err(Refused::Signature));
        // alg none is refused before anything else.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            parts[1]
        );
        assert_eq!(verify(&none, &spki), Err(Refused::Signature));
        assert_eq!(verify("a.b", &spki), Err(Refused::Malformed));
    }

    #[test]
    fn keys_that_are_not_rsa_private_keys_are_named() {
        assert_eq!(private_key("hello").unwrap_err(), KeyError::NotPem);
        let cert = pem("CERTIFICATE", b"\x30\x00");
        assert_eq!(
            private_key(&cert).unwrap_err(),
            KeyError::WrongBlock("CERTIFICATE".into())
        );
        assert_eq!(
            private_key(&pem("PRIVATE KEY", b"garbage")).unwrap_err(),
            KeyError::NotRsa
        );
        assert_eq!(public_key(&cert).unwrap_err(), KeyError::NotPublic);
    }
}
