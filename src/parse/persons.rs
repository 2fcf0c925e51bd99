//! The last guard before feed-rs against its person-string panic: feed-rs 3.0.0 slices
//! author strings (`author`, `managingEditor`, `webMaster`, `dc:creator`, `itunes:author`,
//! `itunes:name`) one byte before and after the e-mail address it finds, and panics when a
//! multi-byte character sits there (« Jean «jean@ex.fr» »).
//!
//! Repair already hides the elements it sees as risky, and notes their text so that relais
//! reads the author itself. But repair's scanner and quick-xml do not always cut a broken
//! document into the same tags (the parse fuzzer found `<a<?/>`: a broken tag to the scanner
//! and an unclosed instruction after it; one tag to quick-xml), and then the scanner never
//! sees an element that feed-rs will read. This pass reads the repaired document with the
//! reader and settings feed-rs uses, gathers each person element's text exactly as feed-rs
//! coalesces it (text, CDATA and references, up to the next tag), and reports every one
//! whose address has a multi-byte neighbour. Pure; one extra event scan, a small share of a
//! parse.

use quick_xml::events::Event;
use quick_xml::Reader;

/// Local names of the elements whose text feed-rs runs through its e-mail finder, in any
/// namespace (a prefix can be anything, or a default namespace stand for it).
const PERSON_ELEMENTS: &[&str] = &["author", "managingEditor", "webMaster", "creator", "name"];

/// Byte offsets, just past the start tag, of the person elements in `text` whose text
/// would make feed-rs panic, in document order.
pub(crate) fn risky(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    if !text.contains('@') {
        return out;
    }
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.expand_empty_elements = true;
    config.trim_markup_names_in_closing_tags = true;
    config.trim_text(false);
    // The element being read, and the text feed-rs would hand over for it.
    let mut open: Option<(usize, String)> = None;
    let finish = |open: &mut Option<(usize, String)>, out: &mut Vec<usize>| {
        if let Some((at, text)) = open.take() {
            if super::repair::address_has_risky_neighbour(text.as_bytes()) {
                out.push(at);
            }
        }
    };
    // An error stops feed-rs at the same place, with no further text read.
    while let Ok(event) = reader.read_event() {
        match event {
            Event::Start(e) => {
                finish(&mut open, &mut out);
                if PERSON_ELEMENTS.contains(&e.local_name().as_ref()) {
                    let at = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
                    open = Some((at, String::new()));
                }
            }
            Event::End(_) => finish(&mut open, &mut out),
            Event::Text(t) => {
                if let Some((_, buf)) = open.as_mut() {
                    buf.push_str(&t);
                }
            }
            Event::CData(t) => {
                if let Some((_, buf)) = open.as_mut() {
                    buf.push_str(&t);
                }
            }
            Event::GeneralRef(r) => {
                if let Some((_, buf)) = open.as_mut() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => buf.push(c),
                        // Unresolved references stay as written: ASCII either way.
                        _ => buf.push_str("&;"),
                    }
                }
            }
            Event::Eof => {
                finish(&mut open, &mut out);
                break;
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_elements_as_feed_rs_reads_them() {
        let at = |doc: &str, needle: &str| doc.find(needle).unwrap() + needle.len();
        let doc = "<rss><channel><item><author>Jean «jean@ex.fr»</author>\
            <dc:creator>Marie &#171;<!-- -->marie@ex.fr</dc:creator>\
            <author>jean@ex.fr (Équipe)</author><title>«a@b.fr»</title>\
            <itunes:name><![CDATA[«]]>paul@ex.fr</itunes:name></item></channel></rss>";
        assert_eq!(
            risky(doc),
            [
                at(doc, "<author>"),
                at(doc, "<dc:creator>"),
                at(doc, "<itunes:name>")
            ]
        );
        // A tag repair's scanner reads as broken, and an author open at the very end
        // (found by the parse fuzzer).
        let doc = "<rss><channel><item><a<?/><dc:creator>n@x.fr»";
        assert_eq!(risky(doc), [doc.len() - "n@x.fr»".len()]);
        assert!(risky("<rss><author>Cités Unies France</author></rss>").is_empty());
    }
}
