//! The token endpoint's answer (RFC 6749 §5.1 and §5.2), read from the
//! response buffer straight into secret types.
//!
//! The body is parsed once into [`Json`], whose strings are wiped when dropped,
//! and the tokens are then moved (not copied) into [`SecretString`]s. `oauth2`'s
//! response types are not used for this: they keep tokens in plain `String`s,
//! and their flattened extra fields buffer the whole object a second time.

use std::collections::BTreeSet;
use std::fmt;

use latchkey_secret::SecretString;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use zeroize::Zeroizing;

use crate::error::sanitize_provider_text;

/// A JSON value whose strings are wiped when dropped. An object keeps its
/// members in document order; a repeated member name is refused when parsing
/// (RFC 8259 leaves it undefined, and two readers could disagree on it).
/// No `Debug`: it holds tokens.
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Zeroizing<String>),
    Array(Vec<Json>),
    Object(Members),
}

/// An object's members, in document order.
pub(crate) type Members = Vec<(String, Json)>;

impl Json {
    /// A wiped string value.
    pub(crate) fn string(text: &str) -> Self {
        Self::String(Zeroizing::new(text.to_owned()))
    }

    /// The text of a string value.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// This value as a `serde_json::Value`, copying every string: only for
    /// values that are not secret (a catalog-named field such as Slack's `team`).
    pub(crate) fn to_value(&self) -> serde_json::Value {
        match self {
            Self::Null => serde_json::Value::Null,
            Self::Bool(b) => serde_json::Value::Bool(*b),
            Self::Number(n) => serde_json::Value::Number(n.clone()),
            Self::String(s) => serde_json::Value::String(s.as_str().to_owned()),
            Self::Array(items) => {
                serde_json::Value::Array(items.iter().map(Self::to_value).collect())
            }
            Self::Object(members) => serde_json::Value::Object(
                members
                    .iter()
                    .map(|(name, value)| (name.clone(), value.to_value()))
                    .collect(),
            ),
        }
    }
}

/// The member `name` of `members`.
pub(crate) fn member<'a>(members: &'a Members, name: &str) -> Option<&'a Json> {
    members.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// Takes the member `name` out of `members`, by move.
pub(crate) fn take_member(members: &mut Members, name: &str) -> Option<Json> {
    let at = members.iter().position(|(n, _)| n == name)?;
    Some(members.remove(at).1)
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Json, E> {
        // As serde_json's own Value does (JSON has no NaN or infinity anyway).
        Ok(serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number))
    }

    // serde_json hands over unescaped strings straight from the response buffer:
    // this is the one copy each string gets.
    fn visit_str<E>(self, s: &str) -> Result<Json, E> {
        Ok(Json::string(s))
    }

    fn visit_string<E>(self, s: String) -> Result<Json, E> {
        Ok(Json::String(Zeroizing::new(s)))
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        Json::deserialize(deserializer)
    }

    // Growing these vectors moves the values, not the strings' bytes.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        let mut names = BTreeSet::new();
        while let Some(name) = map.next_key::<String>()? {
            if !names.insert(name.clone()) {
                return Err(de::Error::custom("a member name is repeated"));
            }
            let value = map.next_value()?;
            members.push((name, value));
        }
        Ok(Json::Object(members))
    }
}

/// The token fields of a successful answer, not yet validated.
pub(crate) struct TokenFields {
    pub(crate) access_token: SecretString,
    pub(crate) token_type: String,
    pub(crate) expires_in: Option<u64>,
    pub(crate) refresh_token: Option<SecretString>,
    /// RFC 6749's space-separated `scope`, as sent.
    pub(crate) scope: Option<String>,
    /// An OpenID Connect `id_token`, when it is a string (anything else is ignored).
    pub(crate) id_token: Option<SecretString>,
    /// Every other member, for the fields the catalog names; wiped when dropped.
    pub(crate) rest: Members,
}

/// What the token endpoint answered.
pub(crate) enum Answer {
    /// Tokens.
    Tokens(TokenFields),
    /// The provider refused (RFC 6749 §5.2).
    Refused {
        error: String,
        description: Option<String>,
    },
    /// Not a usable answer. The reason never quotes the body.
    Unusable(String),
}

/// Reads one answer of the token endpoint. `object` names the provider's
/// nested token object (empty: a plain RFC 6749 answer). As `oauth2` 5 did:
/// any status but 200 is an error response, and a 200 must be JSON (when it
/// says what it is) and not empty. Unlike it, a 200 carrying an RFC 6749
/// `error` and no token (GitHub's way) is read as the refusal it is.
pub(crate) fn read(
    status: u16,
    content_type: Option<&http::HeaderValue>,
    body: &[u8],
    object: &str,
) -> Answer {
    let (status, parsed) = match serde_json::from_slice::<Json>(body) {
        Ok(json) if !object.is_empty() => {
            let (status, json) = crate::nested_tokens::normalize(status, json, object);
            (status, Ok(json))
        }
        parsed => (status, parsed),
    };
    if status != 200 {
        if body.is_empty() {
            return Answer::Unusable("server returned empty error response".to_owned());
        }
        return match parsed {
            Ok(Json::Object(members)) => refusal(members),
            Ok(_) => Answer::Unusable("the error response is not a JSON object".to_owned()),
            Err(e) => Answer::Unusable(malformed(&e)),
        };
    }
    if let Some(content_type) = content_type {
        let is_json = content_type
            .to_str()
            .is_ok_and(|ct| ct.to_ascii_lowercase().starts_with("application/json"));
        if !is_json {
            return Answer::Unusable(sanitize_provider_text(&format!(
                "unexpected response Content-Type: {content_type:?}, should be `application/json`"
            )));
        }
    }
    if body.is_empty() {
        return Answer::Unusable("server returned empty response body".to_owned());
    }
    let members = match parsed {
        Ok(Json::Object(members)) => members,
        Ok(_) => return Answer::Unusable("the answer is not a JSON object".to_owned()),
        Err(e) => return Answer::Unusable(malformed(&e)),
    };
    if member(&members, "access_token").is_none()
        && member(&members, "error").and_then(Json::as_str).is_some()
    {
        return refusal(members);
    }
    tokens(members)
}

/// Where parsing failed, never what was there.
fn malformed(e: &serde_json::Error) -> String {
    format!("malformed JSON at line {} column {}", e.line(), e.column())
}

/// An RFC 6749 §5.2 error response.
fn refusal(members: Members) -> Answer {
    let Some(error) = member(&members, "error").and_then(Json::as_str) else {
        return Answer::Unusable("the error response has no error code".to_owned());
    };
    let description = match member(&members, "error_description") {
        None | Some(Json::Null) => None,
        Some(Json::String(d)) => Some(d.as_str().to_owned()),
        Some(_) => {
            return Answer::Unusable(
                "the error response's error_description is not text".to_owned(),
            );
        }
    };
    if !matches!(
        member(&members, "error_uri"),
        None | Some(Json::Null | Json::String(_))
    ) {
        return Answer::Unusable("the error response's error_uri is not text".to_owned());
    }
    Answer::Refused {
        error: error.to_owned(),
        description,
    }
}

/// Moves the RFC 6749 §5.1 fields out of a successful answer.
fn tokens(mut members: Members) -> Answer {
    let unusable = |field: &str| Answer::Unusable(format!("{field} is missing or not of its type"));
    let access_token = match take_member(&mut members, "access_token") {
        Some(Json::String(mut s)) => SecretString::new(std::mem::take(&mut *s)),
        _ => return unusable("access_token"),
    };
    let token_type = match take_member(&mut members, "token_type") {
        Some(Json::String(s)) => s.as_str().to_owned(),
        _ => return unusable("token_type"),
    };
    let expires_in = match take_member(&mut members, "expires_in") {
        None | Some(Json::Null) => None,
        Some(Json::Number(n)) if n.as_u64().is_some() => n.as_u64(),
        Some(_) => return unusable("expires_in"),
    };
    let refresh_token = match take_member(&mut members, "refresh_token") {
        None | Some(Json::Null) => None,
        Some(Json::String(mut s)) => Some(SecretString::new(std::mem::take(&mut *s))),
        Some(_) => return unusable("refresh_token"),
    };
    let scope = match take_member(&mut members, "scope") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) => Some(s.as_str().to_owned()),
        Some(_) => return unusable("scope"),
    };
    let id_token = match take_member(&mut members, "id_token") {
        Some(Json::String(mut s)) => Some(SecretString::new(std::mem::take(&mut *s))),
        _ => None,
    };
    Answer::Tokens(TokenFields {
        access_token,
        token_type,
        expires_in,
        refresh_token,
        scope,
        id_token,
        rest: members,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Json {
        serde_json::from_str(body).unwrap()
    }

    #[test]
    fn values_read_back_as_serde_json_reads_them() {
        let body =
            r#"{"a":[1,-2,3.5,true,null,"x\"y\u00e9"],"b":{"c":{}},"d":18446744073709551615}"#;
        let expected: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(parse(body).to_value(), expected);
    }

    #[test]
    fn repeated_member_names_are_refused() {
        assert!(
            serde_json::from_str::<Json>(r#"{"access_token":"a","access_token":"b"}"#).is_err()
        );
        assert!(serde_json::from_str::<Json>(r#"{"x":{"n":1,"n":2}}"#).is_err());
    }

    #[test]
    fn tokens_are_moved_out_and_the_rest_is_kept() {
        let Answer::Tokens(fields) = read(
            200,
            None,
            br#"{"access_token":"at","token_type":"Bearer","expires_in":60,"refresh_token":"rt","scope":"a b","id_token":"it","instance_url":"https://x.example"}"#,
            "",
        ) else {
            panic!("not read as tokens");
        };
        assert_eq!(fields.access_token.expose(), "at");
        assert_eq!(fields.refresh_token.as_ref().unwrap().expose(), "rt");
        assert_eq!(fields.id_token.as_ref().unwrap().expose(), "it");
        assert_eq!(
            (fields.token_type.as_str(), fields.expires_in),
            ("Bearer", Some(60))
        );
        assert_eq!(fields.scope.as_deref(), Some("a b"));
        let rest: Vec<&str> = fields.rest.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(rest, ["instance_url"]);
    }

    #[test]
    fn errors_sent_with_200_are_refusals() {
        // GitHub answers a bad code this way.
        let answer = read(
            200,
            None,
            br#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."}"#,
            "",
        );
        let Answer::Refused { error, description } = answer else {
            panic!("not read as a refusal");
        };
        assert_eq!(error, "bad_verification_code");
        assert_eq!(
            description.as_deref(),
            Some("The code passed is incorrect or expired.")
        );
    }
}
