//! HTML character references: the one table relais uses, shared by repair (which turns
//! entities into characters before XML parsing) and normalise (which turns HTML into
//! text). The WHATWG list of 2,231 names comes from `web_atoms`, which html5ever, and so
//! ammonia, already builds; numeric references follow the HTML rules. Pure.

/// A named reference (`name_with_semicolon` such as `"eacute;"`) as its one or two
/// characters; `None` for a name HTML does not define.
pub fn named(name_with_semicolon: &str) -> Option<(char, Option<char>)> {
    let &(a, b) = web_atoms::NAMED_ENTITIES.get(name_with_semicolon)?;
    let first = char::from_u32(a).filter(|_| a != 0)?;
    let second = if b == 0 { None } else { char::from_u32(b) };
    Some((first, second))
}

/// The character HTML reads for a numeric reference to U+0080–U+009F: windows-1252
/// (`&#146;` is ’), as browsers do. `None` outside that range or for its holes.
pub fn windows_1252_c1(cp: u32) -> Option<char> {
    let idx = usize::try_from(cp.checked_sub(0x80)?).ok()?;
    web_atoms::C1_REPLACEMENTS.get(idx).copied().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_c1() {
        assert_eq!(named("eacute;"), Some(('é', None)));
        assert_eq!(named("laquo;"), Some(('«', None)));
        assert_eq!(named("rsquo;"), Some(('’', None)));
        assert_eq!(named("nbsp;"), Some(('\u{a0}', None)));
        assert_eq!(named("NotEqualTilde;"), Some(('≂', Some('\u{338}'))));
        assert_eq!(named("lol9;"), None);
        assert_eq!(named("eacutes;"), None);
        assert_eq!(windows_1252_c1(0x92), Some('’'));
        assert_eq!(windows_1252_c1(0x80), Some('€'));
        assert_eq!(windows_1252_c1(0x81), None);
        assert_eq!(windows_1252_c1(0x41), None);
    }
}
