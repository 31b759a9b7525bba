//! Request bodies and headers that carry a secret (a form, `{"token":…}`,
//! `Authorization: Basic …`), each written into one allocation sized up front
//! so no reallocation leaves a copy behind, and wiped when dropped. Shared by
//! the token requests and revocation.

use base64::Engine;
use latchkey_secret::SecretString;
use zeroize::Zeroizing;

use crate::http::secret_header;

/// An `application/x-www-form-urlencoded` body (the `url` crate's encoding),
/// written into one allocation sized up front: no reallocation leaves a copy of
/// a secret behind, and the body is wiped when dropped.
pub(super) fn form_body(fields: &[(&str, &str)]) -> Zeroizing<Vec<u8>> {
    let length = fields
        .iter()
        .map(|(name, value)| form_encoded_len(name) + 1 + form_encoded_len(value))
        .sum::<usize>()
        + fields.len().saturating_sub(1);
    let mut body = Zeroizing::new(Vec::with_capacity(length));
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            body.push(b'&');
        }
        form_encode_into(&mut body, name);
        body.push(b'=');
        form_encode_into(&mut body, value);
    }
    body
}

fn form_encoded_len(text: &str) -> usize {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .map(str::len)
        .sum()
}

fn form_encode_into(out: &mut Vec<u8>, text: &str) {
    for piece in url::form_urlencoded::byte_serialize(text.as_bytes()) {
        out.extend_from_slice(piece.as_bytes());
    }
}

/// `{"<name>":"<token>"}`, as `serde_json` writes it, in a buffer sized for the
/// worst escaping up front (so it never reallocates) and wiped when dropped.
pub(super) fn json_token_body(name: &str, token: &SecretString) -> Option<Zeroizing<Vec<u8>>> {
    let worst = 6usize
        .checked_mul(name.len() + token.len())?
        .checked_add(8)?;
    let mut body = Zeroizing::new(Vec::with_capacity(worst));
    body.push(b'{');
    serde_json::to_writer(&mut *body, name).ok()?;
    body.push(b':');
    serde_json::to_writer(&mut *body, token.expose()).ok()?;
    body.push(b'}');
    Some(body)
}

/// `Authorization: Basic …` with the client id and secret each form-encoded
/// first (RFC 6749 §2.3.1), built in buffers sized up front and wiped.
pub(super) fn basic_auth(
    client_id: &str,
    secret: &SecretString,
) -> Result<http::HeaderValue, http::header::InvalidHeaderValue> {
    const PREFIX: &[u8] = b"Basic ";
    let mut raw = Zeroizing::new(Vec::with_capacity(
        form_encoded_len(client_id) + 1 + form_encoded_len(secret.expose()),
    ));
    form_encode_into(&mut raw, client_id);
    raw.push(b':');
    form_encode_into(&mut raw, secret.expose());
    let encoded = base64::encoded_len(raw.len(), true).unwrap_or(usize::MAX);
    let mut value = Zeroizing::new(vec![0u8; PREFIX.len().saturating_add(encoded)]);
    value[..PREFIX.len()].copy_from_slice(PREFIX);
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(&raw[..], &mut value[PREFIX.len()..])
        .unwrap_or(0);
    value.truncate(PREFIX.len() + written);
    secret_header(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_encodes_like_rfc_6749() {
        assert_eq!(
            basic_auth("client", &SecretString::from("s3cret")).unwrap(),
            "Basic Y2xpZW50OnMzY3JldA=="
        );
    }

    #[test]
    fn a_form_body_is_sized_up_front_and_never_reallocated() {
        let fields = [
            ("grant_type", "authorization_code"),
            ("code", "a b+c/d%e&f=g é"),
            ("client_secret", "\u{0}\u{7f}~*-._"),
        ];
        let body = form_body(&fields);
        let mut expected = url::form_urlencoded::Serializer::new(String::new());
        expected.extend_pairs(fields);
        assert_eq!(body.as_slice(), expected.finish().as_bytes());
        // Exactly the allocation made before writing: it never had to grow.
        assert_eq!(body.capacity(), body.len());
    }

    #[test]
    fn a_json_token_body_is_what_serde_json_writes_without_reallocating() {
        for token in ["plain", "quo\"te\\back", "ctl\u{1}\n", "é✓"] {
            let body = json_token_body("token", &SecretString::from(token)).unwrap();
            assert_eq!(
                body.as_slice(),
                serde_json::json!({ "token": token }).to_string().as_bytes()
            );
            assert_eq!(body.capacity(), 6 * ("token".len() + token.len()) + 8);
        }
    }
}
