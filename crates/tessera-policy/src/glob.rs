//! Wildcard patterns: `*` matches any run of characters (including none, and across `:` and
//! `/`), `?` matches exactly one character. There is no escape: RAM has none.
//!
//! A pattern is split at its stars once, at compile time, into chunks of literal bytes and `?`.
//! Matching then anchors the first chunk at the start and the last at the end, and places every
//! chunk in between at its leftmost occurrence. Leftmost placement is always safe because a
//! chunk's length in characters is fixed, so placing it earlier only leaves more room for what
//! follows. No backtracking, no allocation; worst case O(pattern × input).
//!
//! Matching works on UTF-8 bytes: a literal character can only match the same character's bytes
//! (a lead byte never equals a continuation byte), and `?` steps over a whole character, so the
//! match position is always on a character boundary.

/// Input positions whose letters compare ASCII-case-insensitively: `start..end` in bytes.
/// `FOLD_NONE` for case-sensitive matching, `FOLD_ALL` for fully case-insensitive matching.
pub(crate) type Fold = (usize, usize);

/// Case-sensitive everywhere.
pub(crate) const FOLD_NONE: Fold = (0, 0);
/// ASCII-case-insensitive everywhere.
pub(crate) const FOLD_ALL: Fold = (0, usize::MAX);

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    /// The text before the first `*` (the whole pattern when there is none).
    first: Box<[u8]>,
    /// The chunks between stars, empty ones (from `**`) dropped.
    middle: Box<[Box<[u8]>]>,
    /// The text after the last `*`, with its length in characters; `None` when there is no `*`.
    last: Option<(Box<[u8]>, usize)>,
}

impl Glob {
    /// Compiles `pattern`.
    pub(crate) fn new(pattern: &str) -> Glob {
        let mut parts = pattern.split('*');
        // `split` always yields at least one item.
        let first: Box<[u8]> = parts.next().unwrap_or("").as_bytes().into();
        let rest: Vec<&str> = parts.collect();
        let (middle, last) = match rest.split_last() {
            None => (Box::default(), None),
            Some((last, middle)) => {
                let chars = last.chars().count();
                (
                    middle
                        .iter()
                        .filter(|c| !c.is_empty())
                        .map(|c| c.as_bytes().into())
                        .collect(),
                    Some((last.as_bytes().into(), chars)),
                )
            }
        };
        Glob {
            first,
            middle,
            last,
        }
    }

    /// True when the pattern is just `*`.
    pub(crate) fn matches_everything(&self) -> bool {
        self.first.is_empty()
            && self.middle.is_empty()
            && matches!(&self.last, Some((l, _)) if l.is_empty())
    }

    /// Does the whole of `input` match, with the letters in `fold` compared case-insensitively?
    pub(crate) fn matches(&self, input: &str, fold: Fold) -> bool {
        let input = input.as_bytes();
        let Some(mut pos) = match_chunk(&self.first, input, 0, fold) else {
            return false;
        };
        let Some((last, last_chars)) = &self.last else {
            return pos == input.len();
        };
        for chunk in self.middle.iter() {
            match find_chunk(chunk, input, pos, fold) {
                Some(end) => pos = end,
                None => return false,
            }
        }
        // The last chunk ends at the end of the input and spans a known number of characters.
        let Some(start) = back_chars(input, *last_chars) else {
            return false;
        };
        start >= pos && match_chunk(last, input, start, fold) == Some(input.len())
    }
}

/// The byte length of the UTF-8 character whose first byte is `lead`.
fn char_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

/// The position `n` characters before the end of `input`, if it has that many.
fn back_chars(input: &[u8], n: usize) -> Option<usize> {
    let mut pos = input.len();
    for _ in 0..n {
        if pos == 0 {
            return None;
        }
        pos -= 1;
        // Step back over continuation bytes (0b10xx_xxxx) to the character's first byte.
        while pos > 0 && input[pos] & 0xC0 == 0x80 {
            pos -= 1;
        }
    }
    Some(pos)
}

/// Matches `chunk` at `input[pos..]`; returns where the match ends.
#[inline]
fn match_chunk(chunk: &[u8], input: &[u8], mut pos: usize, fold: Fold) -> Option<usize> {
    for &p in chunk {
        let &c = input.get(pos)?;
        if p == b'?' {
            pos += char_len(c);
        } else {
            let same = p == c || (pos >= fold.0 && pos < fold.1 && p.eq_ignore_ascii_case(&c));
            if !same {
                return None;
            }
            pos += 1;
        }
    }
    Some(pos)
}

/// Finds the leftmost match of `chunk` in `input` at or after `pos`; returns where it ends.
fn find_chunk(chunk: &[u8], input: &[u8], mut pos: usize, fold: Fold) -> Option<usize> {
    while pos < input.len() {
        if let Some(end) = match_chunk(chunk, input, pos, fold) {
            return Some(end);
        }
        pos += char_len(input[pos]);
    }
    // Middle chunks are never empty, so nothing matches at the very end.
    None
}

/// For a RAM role resource `acs:ram:<region>:<account>:role/<name>[/...]`, the byte range of
/// `<name>`: role names are case-insensitive in RAM, so that range matches case-insensitively.
/// [`FOLD_NONE`] for any other resource.
pub(crate) fn role_name_fold(resource: &str) -> Fold {
    let Some(rest) = resource.strip_prefix("acs:ram:") else {
        return FOLD_NONE;
    };
    let mut colons = rest.match_indices(':').map(|(i, _)| i);
    let (Some(_region_end), Some(account_end)) = (colons.next(), colons.next()) else {
        return FOLD_NONE;
    };
    let relative = &rest[account_end + 1..];
    let Some(name) = relative.strip_prefix("role/") else {
        return FOLD_NONE;
    };
    let start = resource.len() - name.len();
    let end = start + name.find('/').unwrap_or(name.len());
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(pattern: &str, input: &str) -> bool {
        Glob::new(pattern).matches(input, FOLD_NONE)
    }

    #[test]
    fn table() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "anything:at/all", true),
            ("", "", true),
            ("", "a", false),
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("abc", "ab", false),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*", "ba", false),
            ("*c", "abc", true),
            ("*c", "c", true),
            ("*c", "cb", false),
            ("a*c", "ac", true),
            ("a*c", "abbbc", true),
            ("a*c", "abcb", false),
            ("a*b*c", "abc", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "acb", false),
            ("a**c", "ac", true),
            ("?", "", false),
            ("?", "a", true),
            ("?", "ab", false),
            ("?", "é", true),
            ("??", "é", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*?", "", false),
            ("*?", "x", true),
            ("?*?", "x", false),
            ("?*?", "xy", true),
            ("*ab*ab*", "abab", true),
            ("*ab*ab*", "aab", false),
            ("*aab", "aaab", true),
            ("é*ü", "éxxü", true),
            ("*ü?", "aüé", true),
            ("acs:ram:*:123:user/x", "acs:ram::123:user/x", true),
            ("acs:ram:*:*:user/*", "acs:ram::123:user/x", true),
            (
                "acs:oss:*:*:bucket/*",
                "acs:oss:cn-hangzhou:1:bucket/a/b/c",
                true,
            ),
            (
                "acs:oss:*:*:bucket/*",
                "acs:oss:cn-hangzhou:1:bucket",
                false,
            ),
        ];
        for &(p, i, want) in cases {
            assert_eq!(m(p, i), want, "pattern {p:?} input {i:?}");
        }
    }

    #[test]
    fn folding() {
        let g = Glob::new("ram:get*");
        assert!(g.matches("RAM:GetUser", FOLD_ALL));
        assert!(!g.matches("RAM:GetUser", FOLD_NONE));
        // Non-ASCII letters are not folded.
        assert!(!Glob::new("é").matches("É", FOLD_ALL));
    }

    #[test]
    fn role_names_fold_only_in_their_segment() {
        let r = "acs:ram::123:role/MyRole";
        let fold = role_name_fold(r);
        assert_eq!(&r[fold.0..fold.1], "MyRole");
        assert!(Glob::new("acs:ram:*:123:role/myrole").matches(r, fold));
        assert!(Glob::new("acs:ram:*:123:role/MYROLE").matches(r, fold));
        assert!(Glob::new("acs:ram:*:123:role/my*").matches(r, fold));
        assert!(!Glob::new("acs:ram:*:123:ROLE/myrole").matches(r, fold));
        assert!(!Glob::new("ACS:ram:*:123:role/myrole").matches(r, fold));

        let session = "acs:ram::123:role/Admin/Session";
        let fold = role_name_fold(session);
        assert_eq!(&session[fold.0..fold.1], "Admin");
        assert!(Glob::new("*/admin/Session").matches(session, fold));
        assert!(!Glob::new("*/admin/session").matches(session, fold));

        assert_eq!(role_name_fold("acs:ram::123:user/Bob"), FOLD_NONE);
        assert_eq!(role_name_fold("acs:oss::123:role/x"), FOLD_NONE);
        assert_eq!(role_name_fold("acs:ram::role/x"), FOLD_NONE);
        assert_eq!(role_name_fold("*"), FOLD_NONE);
        let r = "acs:ram:cn-x:123:role/";
        let fold = role_name_fold(r);
        assert_eq!(fold, (r.len(), r.len()));
    }

    #[test]
    fn everything() {
        assert!(Glob::new("*").matches_everything());
        assert!(Glob::new("**").matches_everything());
        assert!(!Glob::new("*a").matches_everything());
        assert!(!Glob::new("").matches_everything());
    }

    /// The reference: a regex that says the same thing as the pattern.
    fn reference(pattern: &str, case_insensitive: bool) -> regex::Regex {
        let mut re = String::from(if case_insensitive { "(?si)^" } else { "(?s)^" });
        for c in pattern.chars() {
            match c {
                '*' => re.push_str(".*"),
                '?' => re.push('.'),
                c => re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
            }
        }
        re.push('$');
        regex::Regex::new(&re).expect("reference regex")
    }

    /// The reference for a partial fold: a plain dynamic-programming matcher over characters.
    fn reference_fold(pattern: &str, input: &str, fold: Fold) -> bool {
        let p: Vec<char> = pattern.chars().collect();
        let s: Vec<(usize, char)> = input.char_indices().collect();
        // ok[i][j]: p[i..] matches s[j..]
        let mut ok = vec![vec![false; s.len() + 1]; p.len() + 1];
        ok[p.len()][s.len()] = true;
        for i in (0..p.len()).rev() {
            for j in (0..=s.len()).rev() {
                ok[i][j] = match p[i] {
                    '*' => ok[i + 1][j] || (j < s.len() && ok[i][j + 1]),
                    '?' => j < s.len() && ok[i + 1][j + 1],
                    c => {
                        j < s.len() && {
                            let (at, d) = s[j];
                            let same = c == d
                                || (at >= fold.0 && at < fold.1 && c.eq_ignore_ascii_case(&d));
                            same && ok[i + 1][j + 1]
                        }
                    }
                };
            }
        }
        ok[0][0]
    }

    proptest! {
        #[test]
        fn agrees_with_regex(pattern in "[ab:/é*?]{0,12}", input in "[ab:/é]{0,16}") {
            let want = reference(&pattern, false).is_match(&input);
            prop_assert_eq!(Glob::new(&pattern).matches(&input, FOLD_NONE), want);
        }

        #[test]
        fn agrees_with_regex_case_insensitive(pattern in "[aAbB:*?]{0,12}", input in "[aAbB:]{0,16}") {
            let want = reference(&pattern, true).is_match(&input);
            prop_assert_eq!(Glob::new(&pattern).matches(&input, FOLD_ALL), want);
        }

        #[test]
        fn agrees_with_regex_on_any_text(pattern in "\\PC{0,10}", input in "\\PC{0,20}") {
            let want = reference(&pattern, false).is_match(&input);
            prop_assert_eq!(Glob::new(&pattern).matches(&input, FOLD_NONE), want);
        }

        #[test]
        fn a_pattern_matches_itself_without_wildcards(input in "[^*?]{0,20}") {
            prop_assert!(Glob::new(&input).matches(&input, FOLD_NONE));
        }

        #[test]
        fn partial_fold_agrees_with_reference(
            pattern in "[aAbBé/*?]{0,10}",
            input in "[aAbBé/]{0,14}",
            a in 0usize..20,
            b in 0usize..20,
        ) {
            let fold = (a.min(b), a.max(b));
            prop_assert_eq!(
                Glob::new(&pattern).matches(&input, fold),
                reference_fold(&pattern, &input, fold)
            );
        }
    }
}
