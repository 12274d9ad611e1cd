//! Form fields as API Voice sends them (spec `apivoice.md` §2–3): query-string fields plus an
//! urlencoded or multipart body, the body's field winning. The daemon's control, inbound and
//! report routes read requests with it, and the simulator reads launches with it.

use std::collections::BTreeMap;

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;

/// The largest urlencoded body [`read_form`] takes (a control or launch request is a few
/// hundred bytes).
const MAX_FORM_BYTES: usize = 64 * 1024;

/// A request body that is not a readable form.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    /// A multipart body axum could not read (its words).
    #[error("multipart body: {0}")]
    Multipart(String),
    /// An urlencoded body larger than the limit, or cut.
    #[error("body: {0}")]
    Body(String),
}

/// Reads form fields from the query string and an urlencoded or multipart body (body wins).
/// Bodies without a multipart content type are parsed as urlencoded.
pub async fn read_form(req: Request) -> Result<BTreeMap<String, String>, FormError> {
    read_form_limited(req, MAX_FORM_BYTES).await
}

/// As [`read_form`], with an urlencoded body of up to `limit` bytes (a multipart body follows
/// the route's `DefaultBodyLimit`, carried in the request's extensions).
pub async fn read_form_limited(
    req: Request,
    limit: usize,
) -> Result<BTreeMap<String, String>, FormError> {
    let (parts, body) = req.into_parts();
    let mut form = BTreeMap::new();
    if let Some(q) = parts.uri.query() {
        parse_urlencoded(q.as_bytes(), &mut form);
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.to_ascii_lowercase().starts_with("multipart/") {
        let req = Request::from_parts(parts, body);
        let mut multipart = Multipart::from_request(req, &())
            .await
            .map_err(|e| FormError::Multipart(e.body_text()))?;
        let multipart_error =
            |e: axum::extract::multipart::MultipartError| FormError::Multipart(e.body_text());
        while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
            let name = field.name().unwrap_or_default().to_string();
            let value = field.text().await.map_err(multipart_error)?;
            form.insert(name, value);
        }
    } else {
        let bytes = axum::body::to_bytes(body, limit)
            .await
            .map_err(|e| FormError::Body(e.to_string()))?;
        parse_urlencoded(&bytes, &mut form);
    }
    Ok(form)
}

/// `a=1+2&b` into the map (later fields win): `+` is a space, `%XX` a byte, an invalid escape
/// stays as it is, bytes that are not UTF-8 become U+FFFD.
pub(crate) fn parse_urlencoded(input: &[u8], into: &mut BTreeMap<String, String>) {
    into.extend(form_urlencoded::parse(input).map(|(k, v)| (k.into_owned(), v.into_owned())));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_decoded_as_browsers_encode_them() {
        let mut form = BTreeMap::new();
        parse_urlencoded(
            b"a=1+2%2C3&b&c=%zz&api=API%20sim&&n=%C3%B1&bad=%FF",
            &mut form,
        );
        assert_eq!(form["a"], "1 2,3");
        assert_eq!(form["b"], "");
        assert_eq!(form["c"], "%zz");
        assert_eq!(form["api"], "API sim");
        assert_eq!(form["n"], "ñ");
        assert_eq!(form["bad"], "\u{fffd}");
        assert_eq!(form.len(), 6);
    }

    #[test]
    fn a_later_field_wins() {
        let mut form = BTreeMap::new();
        parse_urlencoded(b"k=query", &mut form);
        parse_urlencoded(b"k=body", &mut form);
        assert_eq!(form["k"], "body");
    }
}
