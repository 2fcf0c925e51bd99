//! Decoding: the bytes of a document, in whatever encoding the publisher used, to UTF-8.
//!
//! The encoding is chosen in RFC 7303 order: a byte order mark, then the `charset` of the
//! HTTP Content-Type, then the `encoding` of the XML declaration, then UTF-8. UTF-16 and
//! UTF-32 without a BOM are recognised by the NUL bytes around the first ASCII character
//! (XML 1.0 appendix F), because an XML declaration cannot even be read before the code
//! unit width is known. encoding_rs does the legacy encodings (with WHATWG label rules, so
//! `iso-8859-1` reads as windows-1252); it has no UTF-32, which is decoded here by hand.
//!
//! Bytes claimed or assumed to be UTF-8 that are not valid UTF-8 are read as windows-1252,
//! byte by byte: valid UTF-8 sequences stay what they are and only the invalid bytes are
//! taken as windows-1252. Partner feeds that mix a UTF-8 template with Latin-1 database
//! content are thereby read right on both sides, and a pure Latin-1 file comes out exactly
//! as a whole-file windows-1252 decoding would (a Latin-1 text that happens to form valid
//! UTF-8 sequences, such as a literal "Ã©", is the only casualty and does not occur in
//! practice).
//!
//! A document already in valid UTF-8 is borrowed, not copied.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};

/// A document as UTF-8 text, and what decoding did when it was not plain UTF-8.
#[derive(Debug)]
pub(crate) struct Decoded<'a> {
    pub text: Cow<'a, str>,
    /// For `RawFeed::repairs`, e.g. "decoded windows-1252".
    pub note: Option<String>,
}

/// The encodings this module tells apart. UTF-16/32 are separate because encoding_rs has
/// no UTF-32 and because their family is detected from the bytes themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Enc {
    Utf8,
    Utf16Le,
    Utf16Be,
    Utf32Le,
    Utf32Be,
    /// Any other (ASCII-compatible) encoding encoding_rs knows.
    Legacy(&'static Encoding),
}

impl Enc {
    fn name(self) -> String {
        match self {
            Enc::Utf8 => "utf-8".into(),
            Enc::Utf16Le => "utf-16le".into(),
            Enc::Utf16Be => "utf-16be".into(),
            Enc::Utf32Le => "utf-32le".into(),
            Enc::Utf32Be => "utf-32be".into(),
            Enc::Legacy(e) => e.name().to_ascii_lowercase(),
        }
    }

    /// Whether ASCII characters are single bytes, so that an XML declaration can be read
    /// from the raw bytes.
    fn ascii_compatible(self) -> bool {
        matches!(self, Enc::Utf8 | Enc::Legacy(_))
    }
}

/// Decode `bytes` to UTF-8. `content_type` is the HTTP Content-Type header, if any.
pub(crate) fn decode<'a>(bytes: &'a [u8], content_type: Option<&str>) -> Decoded<'a> {
    let (bom, body) = match sniff_bom(bytes) {
        Some((enc, len)) => (Some(enc), bytes.get(len..).unwrap_or_default()),
        None => (None, bytes),
    };
    let sniffed = sniff_family(body);
    let http = content_type.and_then(charset_param).and_then(label_to_enc);
    let declared = match (bom, sniffed) {
        (None, None) => declared_encoding(body).and_then(label_to_enc),
        _ => None,
    };

    let enc = if let Some(enc) = bom {
        enc
    } else if let Some(family) = sniffed {
        // NUL bytes around ASCII characters leave no doubt about the code unit width, so a
        // header or declaration that claims otherwise (or only says "utf-16") only decides
        // nothing here.
        match http {
            Some(h) if same_family(h, family) => h,
            _ => family,
        }
    } else {
        match (http, declared) {
            // A header that claims UTF-16/32 for bytes with no NULs around ASCII is wrong.
            (Some(h), _) if h.ascii_compatible() => {
                // Servers often add a default legacy charset (Apache's iso-8859-1) to
                // documents that are really UTF-8; a body that is valid UTF-8 with
                // non-ASCII bytes, and does not declare another encoding itself, is UTF-8.
                let declared_utf8 = matches!(declared, None | Some(Enc::Utf8));
                if h != Enc::Utf8 && declared_utf8 && is_non_ascii_utf8(body) {
                    return Decoded {
                        text: borrow_utf8(body),
                        note: Some(format!(
                            "ignored http charset {}: the body is utf-8",
                            h.name()
                        )),
                    };
                }
                h
            }
            (_, Some(d)) if d.ascii_compatible() => d,
            _ => Enc::Utf8,
        }
    };

    let (text, note) = match enc {
        Enc::Utf8 => match std::str::from_utf8(body) {
            Ok(s) => (Cow::Borrowed(s), None),
            Err(_) => {
                let (s, invalid) = utf8_or_windows_1252(body);
                (
                    Cow::Owned(s),
                    Some(format!(
                        "decoded {invalid} {} as windows-1252: not valid utf-8",
                        if invalid == 1 { "byte" } else { "bytes" }
                    )),
                )
            }
        },
        Enc::Utf16Le => (
            decode_with(UTF_16LE, body),
            Some(format!("decoded {}", enc.name())),
        ),
        Enc::Utf16Be => (
            decode_with(UTF_16BE, body),
            Some(format!("decoded {}", enc.name())),
        ),
        Enc::Utf32Le => (
            Cow::Owned(decode_utf32(body, false)),
            Some(format!("decoded {}", enc.name())),
        ),
        Enc::Utf32Be => (
            Cow::Owned(decode_utf32(body, true)),
            Some(format!("decoded {}", enc.name())),
        ),
        Enc::Legacy(e) => (
            decode_with(e, body),
            Some(format!("decoded {}", enc.name())),
        ),
    };
    Decoded {
        text: strip_bom_char(text),
        note,
    }
}

fn borrow_utf8(body: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(body) {
        Ok(s) => strip_bom_char(Cow::Borrowed(s)),
        // Callers only borrow what they checked; decode the lossy way rather than panic.
        Err(_) => Cow::Owned(String::from_utf8_lossy(body).into_owned()),
    }
}

/// A U+FEFF left at the start (a BOM of the declared encoding, or a doubled BOM) is not
/// part of the document.
fn strip_bom_char(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(s.strip_prefix('\u{feff}').unwrap_or(s)),
        Cow::Owned(s) => match s.strip_prefix('\u{feff}') {
            Some(rest) => Cow::Owned(rest.to_owned()),
            None => Cow::Owned(s),
        },
    }
}

fn sniff_bom(bytes: &[u8]) -> Option<(Enc, usize)> {
    // UTF-32LE before UTF-16LE: FF FE 00 00 starts with the UTF-16LE mark.
    match bytes {
        [0x00, 0x00, 0xFE, 0xFF, ..] => Some((Enc::Utf32Be, 4)),
        [0xFF, 0xFE, 0x00, 0x00, ..] => Some((Enc::Utf32Le, 4)),
        [0xEF, 0xBB, 0xBF, ..] => Some((Enc::Utf8, 3)),
        [0xFE, 0xFF, ..] => Some((Enc::Utf16Be, 2)),
        [0xFF, 0xFE, ..] => Some((Enc::Utf16Le, 2)),
        _ => None,
    }
}

/// XML 1.0 appendix F, generalised to any ASCII first character (`<`, `{`, whitespace):
/// the position of the NUL bytes in the first four gives the code unit width and order.
fn sniff_family(bytes: &[u8]) -> Option<Enc> {
    match bytes {
        [0, 0, 0, b, ..] if *b != 0 && b.is_ascii() => Some(Enc::Utf32Be),
        [a, 0, 0, 0, ..] if *a != 0 && a.is_ascii() => Some(Enc::Utf32Le),
        [0, a, 0, b, ..] if *a != 0 && *b != 0 && a.is_ascii() => Some(Enc::Utf16Be),
        [a, 0, b, 0, ..] if *a != 0 && *b != 0 && a.is_ascii() => Some(Enc::Utf16Le),
        _ => None,
    }
}

fn same_family(a: Enc, b: Enc) -> bool {
    matches!(
        (a, b),
        (Enc::Utf16Le | Enc::Utf16Be, Enc::Utf16Le | Enc::Utf16Be)
            | (Enc::Utf32Le | Enc::Utf32Be, Enc::Utf32Le | Enc::Utf32Be)
    ) && a == b
}

/// The `charset` parameter of a Content-Type header, unquoted (`text/xml;charset= "us-ascii"`
/// is seen in the wild).
fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
        (!value.is_empty()).then_some(value)
    })
}

/// An encoding label to an encoding; `None` for labels nobody knows. UTF-32 and the
/// byte-order-less UTF-16 labels are handled here because encoding_rs has no UTF-32 and
/// maps "utf-16" to little-endian without looking at the bytes.
fn label_to_enc(label: &str) -> Option<Enc> {
    let l = label.trim().to_ascii_lowercase();
    match l.as_str() {
        "utf-32" | "utf32" | "ucs-4" | "iso-10646-ucs-4" | "utf-32be" => return Some(Enc::Utf32Be),
        "utf-32le" => return Some(Enc::Utf32Le),
        "utf-16" | "utf16" | "ucs-2" | "iso-10646-ucs-2" | "unicode" | "utf-16be"
        | "unicodefffe" => return Some(Enc::Utf16Be),
        "utf-16le" => return Some(Enc::Utf16Le),
        _ => {}
    }
    let enc = Encoding::for_label_no_replacement(l.as_bytes())?;
    Some(if enc == UTF_8 {
        Enc::Utf8
    } else if enc == UTF_16LE {
        Enc::Utf16Le
    } else if enc == UTF_16BE {
        Enc::Utf16Be
    } else {
        Enc::Legacy(enc)
    })
}

/// The `encoding` pseudo-attribute of an XML declaration at the start of ASCII-compatible
/// bytes.
fn declared_encoding(body: &[u8]) -> Option<&str> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = body.get(start..)?;
    let head = head.get(..head.len().min(1024))?;
    let decl = xml_declaration(head)?;
    let decl = std::str::from_utf8(decl).ok()?;
    pseudo_attribute(decl, "encoding").map(|(_, _, value)| value)
}

/// The bytes of `<?xml … ?>` when `text` starts with an XML declaration.
pub(crate) fn xml_declaration(text: &[u8]) -> Option<&[u8]> {
    let after = text.strip_prefix(b"<?xml")?;
    if !after.first().is_some_and(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let end = text.windows(2).position(|w| w == b"?>")?;
    text.get(..end + 2)
}

/// Finds `name = "value"` inside an XML declaration: (start of name, end of the closing
/// quote, value).
pub(crate) fn pseudo_attribute<'a>(decl: &'a str, name: &str) -> Option<(usize, usize, &'a str)> {
    let mut from = 0;
    while let Some(found) = decl.get(from..)?.find(name) {
        let at = from + found;
        let rest = decl.get(at + name.len()..)?;
        let trimmed = rest.trim_start();
        if let Some(after_eq) = trimmed.strip_prefix('=') {
            let value_part = after_eq.trim_start();
            let quote = value_part.chars().next()?;
            if quote == '"' || quote == '\'' {
                let inner = value_part.get(1..)?;
                let close = inner.find(quote)?;
                let value_start = decl.len() - inner.len();
                let end = value_start + close + 1;
                return Some((at, end, inner.get(..close)?));
            }
        }
        from = at + name.len();
    }
    None
}

fn is_non_ascii_utf8(body: &[u8]) -> bool {
    !body.is_ascii() && std::str::from_utf8(body).is_ok()
}

fn decode_with<'a>(enc: &'static Encoding, body: &'a [u8]) -> Cow<'a, str> {
    enc.decode_without_bom_handling(body).0
}

/// Valid UTF-8 kept, each invalid byte read as windows-1252. Returns the text and the
/// number of bytes that were not UTF-8.
fn utf8_or_windows_1252(body: &[u8]) -> (String, usize) {
    let mut out = String::with_capacity(body.len() + body.len() / 4);
    let mut invalid = 0;
    for chunk in body.utf8_chunks() {
        out.push_str(chunk.valid());
        for &b in chunk.invalid() {
            invalid += 1;
            out.push(windows_1252_char(b));
        }
    }
    (out, invalid)
}

/// One windows-1252 byte as WHATWG decodes it (the five undefined bytes map to the C1
/// control of the same value).
pub(crate) fn windows_1252_char(b: u8) -> char {
    if b < 0x80 {
        return char::from(b);
    }
    let mut buf = [0u16; 2];
    let mut decoder = WINDOWS_1252.new_decoder_without_bom_handling();
    let (_, _, written, _) = decoder.decode_to_utf16(&[b], &mut buf, true);
    buf.get(..written)
        .and_then(|units| char::decode_utf16(units.iter().copied()).next())
        .and_then(Result::ok)
        .unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// UTF-32 by hand: code units that are not Unicode scalar values (surrogates, beyond
/// U+10FFFF) and a truncated last unit become U+FFFD.
fn decode_utf32(body: &[u8], big_endian: bool) -> String {
    let mut out = String::with_capacity(body.len() / 4 + 4);
    let mut units = body.chunks_exact(4);
    for unit in &mut units {
        let Ok(bytes) = <[u8; 4]>::try_from(unit) else {
            continue;
        };
        let cp = if big_endian {
            u32::from_be_bytes(bytes)
        } else {
            u32::from_le_bytes(bytes)
        };
        out.push(char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER));
    }
    if !units.remainder().is_empty() {
        out.push(char::REPLACEMENT_CHARACTER);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str, big: bool, bom: bool) -> Vec<u8> {
        let mut v = Vec::new();
        if bom {
            v.extend(if big { [0xFE, 0xFF] } else { [0xFF, 0xFE] });
        }
        for u in s.encode_utf16() {
            v.extend(if big {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            });
        }
        v
    }

    fn utf32(s: &str, big: bool, bom: bool) -> Vec<u8> {
        let mut v = Vec::new();
        let mut push = |c: u32| {
            v.extend(if big {
                c.to_be_bytes()
            } else {
                c.to_le_bytes()
            })
        };
        if bom {
            push(0xFEFF);
        }
        for c in s.chars() {
            push(c as u32);
        }
        v
    }

    const DOC: &str = "<?xml version=\"1.0\" encoding=\"ENC\"?><rss><title>Élus « coopération » – l’été</title></rss>";

    fn doc(enc: &str) -> String {
        DOC.replace("ENC", enc)
    }

    fn latin1(s: &str) -> Vec<u8> {
        s.chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
            .collect()
    }

    /// (case, bytes, content type, expected note)
    type Case<'a> = (&'a str, Vec<u8>, Option<&'a str>, Option<&'a str>);

    #[test]
    fn table() {
        let expected = "Élus « coopération » – l’été";
        let cp1252 = |s: &str| WINDOWS_1252.encode(s).0.into_owned();
        // (name, bytes, content type, note expected)
        let cases: Vec<Case<'_>> = vec![
            ("utf-8 plain", doc("utf-8").into_bytes(), None, None),
            (
                "utf-8 bom",
                [&[0xEF, 0xBB, 0xBF][..], doc("utf-8").as_bytes()].concat(),
                None,
                None,
            ),
            (
                "utf-16le bom",
                utf16(&doc("utf-16"), false, true),
                None,
                Some("decoded utf-16le"),
            ),
            (
                "utf-16be bom",
                utf16(&doc("utf-16"), true, true),
                None,
                Some("decoded utf-16be"),
            ),
            (
                "utf-16le no bom",
                utf16(&doc("utf-16"), false, false),
                None,
                Some("decoded utf-16le"),
            ),
            (
                "utf-16be no bom",
                utf16(&doc("utf-16"), true, false),
                None,
                Some("decoded utf-16be"),
            ),
            (
                "utf-32le bom",
                utf32(&doc("utf-32"), false, true),
                None,
                Some("decoded utf-32le"),
            ),
            (
                "utf-32be bom",
                utf32(&doc("utf-32"), true, true),
                None,
                Some("decoded utf-32be"),
            ),
            (
                "utf-32le no bom",
                utf32(&doc("utf-32"), false, false),
                None,
                Some("decoded utf-32le"),
            ),
            (
                "utf-32be no bom",
                utf32(&doc("utf-32"), true, false),
                None,
                Some("decoded utf-32be"),
            ),
            (
                "windows-1252 declared",
                cp1252(&doc("windows-1252")),
                None,
                Some("decoded windows-1252"),
            ),
            (
                "windows-1252 declared as utf-8",
                cp1252(&doc("utf-8")),
                None,
                Some("decoded 8 bytes as windows-1252: not valid utf-8"),
            ),
            (
                "windows-1252 with no declaration",
                cp1252(&doc("utf-8").replace(" encoding=\"utf-8\"", "")),
                None,
                Some("decoded 8 bytes as windows-1252: not valid utf-8"),
            ),
            (
                "http charset overrides the declaration",
                cp1252(&doc("utf-8")),
                Some("application/rss+xml; charset=windows-1252"),
                Some("decoded windows-1252"),
            ),
            (
                "quoted http charset",
                cp1252(&doc("utf-8")),
                Some("text/xml;charset= \"iso-8859-1\""),
                Some("decoded windows-1252"),
            ),
            (
                "http utf-8 overrides a legacy declaration",
                doc("iso-8859-1").into_bytes(),
                Some("text/xml; charset=UTF-8"),
                None,
            ),
            (
                "a default legacy http charset does not spoil utf-8",
                doc("utf-8").into_bytes(),
                Some("text/xml; charset=iso-8859-1"),
                Some("ignored http charset windows-1252: the body is utf-8"),
            ),
            (
                "http says utf-16 for utf-8 bytes",
                doc("utf-8").into_bytes(),
                Some("text/xml; charset=utf-16"),
                None,
            ),
            (
                "bom wins over http charset",
                utf16(&doc("utf-16"), true, true),
                Some("text/xml; charset=iso-8859-1"),
                Some("decoded utf-16be"),
            ),
            ("unknown label", doc("x-bogus").into_bytes(), None, None),
            (
                "declared utf-16 but single bytes",
                doc("utf-16").into_bytes(),
                None,
                None,
            ),
        ];
        for (name, bytes, ct, note) in cases {
            let d = decode(&bytes, ct);
            assert!(d.text.contains(expected), "{name}: {}", d.text);
            assert!(
                d.text.starts_with("<?xml"),
                "{name}: {:?}",
                d.text.get(..10)
            );
            assert_eq!(d.note.as_deref(), note, "{name}");
        }
    }

    #[test]
    fn iso_8859_1_declared() {
        let mut bytes = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><t>".to_vec();
        bytes.extend(latin1("Préfecture de l'Isère"));
        bytes.extend(b"</t>");
        let d = decode(&bytes, None);
        assert!(d.text.contains("Préfecture de l'Isère"));
        assert_eq!(d.note.as_deref(), Some("decoded windows-1252"));
    }

    #[test]
    fn mixed_utf8_and_latin1_keeps_both() {
        let mut bytes = "<t>coopération ".as_bytes().to_vec();
        bytes.extend(latin1("décentralisée"));
        bytes.extend(b"</t>");
        let d = decode(&bytes, None);
        assert_eq!(d.text, "<t>coopération décentralisée</t>");
    }

    #[test]
    fn clean_utf8_is_borrowed() {
        let bytes = doc("utf-8").into_bytes();
        assert!(matches!(decode(&bytes, None).text, Cow::Borrowed(_)));
        let with_bom = [&[0xEF, 0xBB, 0xBF][..], &bytes].concat();
        assert!(matches!(decode(&with_bom, None).text, Cow::Borrowed(_)));
    }

    #[test]
    fn invalid_utf32_units_become_replacement() {
        let mut v = utf32("<a>", true, false);
        v.extend(0xD800u32.to_be_bytes());
        v.extend(0x0011_0000u32.to_be_bytes());
        v.extend([0, 0]);
        assert_eq!(decode(&v, None).text, "<a>\u{fffd}\u{fffd}\u{fffd}");
    }

    #[test]
    fn lone_utf16_surrogate_becomes_replacement() {
        let mut v = utf16("<a>", false, true);
        v.extend(0xDC00u16.to_le_bytes());
        assert_eq!(decode(&v, None).text, "<a>\u{fffd}");
    }

    #[test]
    fn windows_1252_bytes() {
        assert_eq!(windows_1252_char(0x92), '’');
        assert_eq!(windows_1252_char(0x80), '€');
        assert_eq!(windows_1252_char(0xE9), 'é');
        assert_eq!(windows_1252_char(0x81), '\u{81}');
    }

    #[test]
    fn pseudo_attributes() {
        let decl = "<?xml version='1.0' encoding = \"ISO-8859-1\" ?>";
        let (start, end, value) = pseudo_attribute(decl, "encoding").unwrap_or((0, 0, ""));
        assert_eq!(value, "ISO-8859-1");
        assert_eq!(&decl[start..end], "encoding = \"ISO-8859-1\"");
        assert!(pseudo_attribute("<?xml version=\"1.0\"?>", "encoding").is_none());
    }
}
