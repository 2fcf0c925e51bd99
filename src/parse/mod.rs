//! Parse and repair: bytes of a feed document in, a `RawFeed` out. Owns feed-rs and the
//! repairs real partner feeds need before feed-rs can read them (decoding, HTML entities,
//! bare ampersands, `<rss>` without a version, characters illegal in XML). Pure: no I/O.

use crate::model::RawFeed;

/// Why a document could not be read as a feed. Messages are lower case; the caller adds
/// the source id / URL.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("empty document")]
    Empty,
    #[error("not a feed: {0}")]
    NotAFeed(String),
    #[error("malformed feed: {0}")]
    Malformed(String),
    #[error("parser panicked: {0}")]
    Panicked(String),
}

/// Decode, repair and parse one document. `content_type` is the HTTP Content-Type header
/// when there was one (its charset takes part in decoding, RFC 7303 order).
pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<RawFeed, ParseError> {
    let _ = (bytes, content_type);
    Err(ParseError::Empty)
}
