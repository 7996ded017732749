//! A small JSON reader for envelopes read back from the spool: it checks that a payload is one well-formed JSON
//! value (RFC 8259) and reads the few fields of the header lines.
//!
//! serde_json's parser would do both, but compiling it into every program that has a spool, for this alone, costs
//! about 17 KiB of code; the spool needs neither numbers as floats nor a document tree. Strings must be valid UTF-8
//! and may hold any escape, and numbers follow the JSON grammar. Nesting has no limit, as in what serde_json writes
//! (an event's `extra` may hold a value nested deeper than serde_json would read back into a `Value`): values are
//! checked without recursion, so no depth can overflow the stack.

/// Whether `bytes` are exactly one JSON value, with optional whitespace around it.
pub(crate) fn is_valid(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok() && Reader::new(bytes).whole(Reader::value).is_some()
}

/// The members of a JSON object: each key with the bytes of its value. `None` if `bytes` are not one object.
pub(crate) fn object(bytes: &[u8]) -> Option<Vec<(String, &[u8])>> {
    std::str::from_utf8(bytes).ok()?;
    let mut members = Vec::new();
    Reader::new(bytes).whole(|r| {
        r.object(&mut |key, start, end| {
            members.push((decode(&bytes[key.start..key.end]), &bytes[start..end]));
        })
    })?;
    Some(members)
}

/// The elements of a JSON array, as bytes. `None` if `bytes` are not one array.
pub(crate) fn array(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    std::str::from_utf8(bytes).ok()?;
    let mut elements = Vec::new();
    Reader::new(bytes).whole(|r| r.array(&mut |start, end| elements.push(&bytes[start..end])))?;
    Some(elements)
}

/// The text of a JSON string. `None` for any other value.
pub(crate) fn string(bytes: &[u8]) -> Option<String> {
    std::str::from_utf8(bytes).ok()?;
    let mut span = None;
    Reader::new(bytes).whole(|r| {
        span = Some(r.string()?);
        Some(())
    })?;
    let span = span?;
    Some(decode(&bytes[span.start..span.end]))
}

/// A JSON integer from 0 to `u64::MAX`. `None` for any other value, including `1.0` and `1e3`.
pub(crate) fn uint(bytes: &[u8]) -> Option<u64> {
    let digits = trim(bytes);
    if digits.is_empty() || digits.len() > 1 && digits[0] == b'0' {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &c| {
        c.is_ascii_digit()
            .then_some(())
            .and_then(|()| n.checked_mul(10)?.checked_add(u64::from(c - b'0')))
    })
}

/// Whether `bytes` are the JSON `null`.
pub(crate) fn is_null(bytes: &[u8]) -> bool {
    trim(bytes) == b"null"
}

fn trim(bytes: &[u8]) -> &[u8] {
    let is_ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    let start = bytes.iter().position(|c| !is_ws(c)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|c| !is_ws(c))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// The contents of a string between its quotes.
#[derive(Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
}

/// Decodes the contents of a JSON string that [`Reader::string`] accepted. A `\u` escape of a lone surrogate
/// becomes U+FFFD.
fn decode(raw: &[u8]) -> String {
    // Accepted strings are UTF-8 (checked up front) and their escapes well-formed (checked by the reader).
    let text = String::from_utf8_lossy(raw);
    if !text.contains('\\') {
        return text.into_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let first = hex4(&mut chars);
                let code = if (0xD800..0xDC00).contains(&first) {
                    // A high surrogate: only a following `\uDC00`-`\uDFFF` completes it.
                    let mut ahead = chars.clone();
                    let low = (ahead.next() == Some('\\') && ahead.next() == Some('u'))
                        .then(|| hex4(&mut ahead))
                        .filter(|low| (0xDC00..0xE000).contains(low));
                    match low {
                        Some(low) => {
                            chars = ahead;
                            0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00)
                        }
                        None => 0xFFFD,
                    }
                } else {
                    first
                };
                out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
            // `"`, `\` and `/` stand for themselves.
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

fn hex4(chars: &mut std::str::Chars<'_>) -> u32 {
    (0..4).fold(0, |n, _| {
        n * 16 + chars.next().and_then(|c| c.to_digit(16)).unwrap_or(0)
    })
}

/// A cursor over the bytes; each method consumes one token or fails with `None`.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    /// Runs `read` on the whole input: whitespace, then what `read` reads, then whitespace to the end.
    fn whole(mut self, read: impl FnOnce(&mut Self) -> Option<()>) -> Option<()> {
        self.ws();
        read(&mut self)?;
        self.ws();
        (self.at == self.bytes.len()).then_some(())
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.at += usize::from(hit);
        hit
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        self.eat(c).then_some(())
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// One value of any kind and depth, without recursion: `open` holds the closing bracket of each container
    /// entered and not yet left.
    fn value(&mut self) -> Option<()> {
        let mut open = Vec::new();
        loop {
            // A value starts here.
            match self.peek()? {
                b'{' => {
                    self.at += 1;
                    self.ws();
                    if !self.eat(b'}') {
                        open.push(b'}');
                        self.key()?;
                        continue;
                    }
                }
                b'[' => {
                    self.at += 1;
                    self.ws();
                    if !self.eat(b']') {
                        open.push(b']');
                        continue;
                    }
                }
                b'"' => self.string().map(drop)?,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => self.number()?,
            }
            // A value ended: leave the containers it ends, then go on to the next member or element.
            loop {
                let Some(&close) = open.last() else {
                    return Some(());
                };
                self.ws();
                if self.eat(close) {
                    open.pop();
                    continue;
                }
                self.expect(b',')?;
                self.ws();
                if close == b'}' {
                    self.key()?;
                }
                break;
            }
        }
    }

    /// A member's key and its colon, with the whitespace around them; returns the key's span.
    fn key(&mut self) -> Option<Span> {
        let key = self.string()?;
        self.ws();
        self.expect(b':')?;
        self.ws();
        Some(key)
    }

    /// An object at the top level; `member` gets each key's span and where its value starts and ends.
    fn object(&mut self, member: &mut dyn FnMut(Span, usize, usize)) -> Option<()> {
        self.expect(b'{')?;
        self.ws();
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let key = self.key()?;
            let start = self.at;
            self.value()?;
            member(key, start, self.at);
            self.ws();
            if self.eat(b'}') {
                return Some(());
            }
            self.expect(b',')?;
            self.ws();
        }
    }

    /// An array at the top level; `element` gets where each element starts and ends.
    fn array(&mut self, element: &mut dyn FnMut(usize, usize)) -> Option<()> {
        self.expect(b'[')?;
        self.ws();
        if self.eat(b']') {
            return Some(());
        }
        loop {
            let start = self.at;
            self.value()?;
            element(start, self.at);
            self.ws();
            if self.eat(b']') {
                return Some(());
            }
            self.expect(b',')?;
            self.ws();
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Option<()> {
        self.eat(b'-');
        if !self.eat(b'0') {
            if !matches!(self.peek(), Some(b'1'..=b'9')) {
                return None;
            }
            self.digits();
        }
        if self.eat(b'.') && self.digits() == 0 {
            return None;
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        self.at - start
    }

    /// A string, returning the span of its contents (between the quotes, escapes not decoded).
    fn string(&mut self) -> Option<Span> {
        self.expect(b'"')?;
        let start = self.at;
        loop {
            match self.peek()? {
                b'"' => {
                    let span = Span {
                        start,
                        end: self.at,
                    };
                    self.at += 1;
                    return Some(span);
                }
                b'\\' => {
                    self.at += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 1,
                        b'u' => {
                            let hex = self.bytes.get(self.at + 1..self.at + 5)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.at += 5;
                        }
                        _ => return None,
                    }
                }
                0..=0x1f => return None,
                _ => self.at += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde_json's verdict on the same bytes, the reference this reader is held to. `None` where the two are
    /// allowed to differ: serde_json refuses numbers beyond `f64`, which JSON itself allows.
    fn serde_accepts(bytes: &[u8]) -> Option<bool> {
        match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(_) => Some(true),
            Err(e) if e.to_string().contains("out of range") => None,
            Err(_) => Some(false),
        }
    }

    #[test]
    fn agrees_with_serde_json_on_valid_and_broken_documents() {
        let valid: &[&[u8]] = &[
            br#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","timestamp":1764077696.125,"platform":"native","level":"error","exception":{"values":[{"type":"E","value":"a \"quoted\" \\ \/ \b\f\n\r\t \u00e9 \ud83d\ude00","stacktrace":{"frames":[{"lineno":1,"in_app":true,"vars":null},{"lineno":-0.5e-3}]}}]},"tags":{},"extra":{"list":[[],[{}],-0,0.0,1E+2,2e-2,"\u0000"]}}"#,
            b" [ 1 , true , false , null , \"x\" ] \n",
            br#""only a string""#,
            b"0",
            b"-12.5E3",
            "{\"é\":\"ü€😀\"}".as_bytes(),
        ];
        for doc in valid {
            assert!(is_valid(doc), "{}", String::from_utf8_lossy(doc));
            assert_eq!(serde_accepts(doc), Some(true));
        }
        let broken: &[&[u8]] = &[
            b"",
            b" ",
            b"{",
            b"}",
            b"[1,]",
            b"[,1]",
            b"{\"a\":}",
            b"{\"a\" 1}",
            b"{\"a\":1,}",
            b"{a:1}",
            b"[1 2]",
            b"01",
            b"1.",
            b".5",
            b"1e",
            b"1e+",
            b"-",
            b"+1",
            b"--1",
            b"tru",
            b"nul",
            b"True",
            b"\"abc",
            b"\"\\x\"",
            b"\"\\u12\"",
            b"\"\\u12G4\"",
            b"\"tab\there\"",
            b"1 2",
            b"{} {}",
            b"[1]x",
            b"\"\xff\"",
            b"\xef\xbb\xbf{}",
            b"NaN",
            b"Infinity",
        ];
        for doc in broken {
            assert!(!is_valid(doc), "{}", String::from_utf8_lossy(doc));
            assert_eq!(
                serde_accepts(doc),
                Some(false),
                "{}",
                String::from_utf8_lossy(doc)
            );
        }
        // Any depth, as serde_json writes it and reads it as `IgnoredAny` (only a `Value` stops at 128 levels), and
        // without recursion: a million levels do not overflow the test thread's stack.
        for n in [1, 128, 129, 1_000_000] {
            let doc = format!("{}1{}", "[{\"a\":".repeat(n), "}]".repeat(n));
            assert!(is_valid(doc.as_bytes()), "{n}");
            assert!(!is_valid(&doc.as_bytes()[..doc.len() - 1]), "{n}");
        }
        let doc = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
        assert!(serde_json::from_str::<serde::de::IgnoredAny>(&doc).is_ok());
        assert!(is_valid(doc.as_bytes()));
    }

    #[test]
    fn agrees_with_serde_json_on_thousands_of_damaged_documents() {
        let original = br#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","level":"error","exception":{"values":[{"type":"ParseIntError","value":"invalid \"digit\"\n","stacktrace":{"frames":[{"function":"main","lineno":12,"in_app":true},{"lineno":-1.5e3,"vars":null}]}}]},"extra":{"a":[1,2.0,false,[]],"b":{}}}"#;
        let alphabet = b"{}[]\":,0123456789-+.eE \\ntrufalsx\t";
        // A fixed pseudo-random sequence (xorshift), so a failure can be reproduced.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut checked = 0;
        for _ in 0..20_000 {
            let mut doc = original.to_vec();
            for _ in 0..1 + next(3) {
                let at = next(doc.len());
                match next(3) {
                    0 => doc[at] = alphabet[next(alphabet.len())],
                    1 => {
                        doc.remove(at);
                    }
                    _ => doc.insert(at, alphabet[next(alphabet.len())]),
                }
            }
            if let Some(expected) = serde_accepts(&doc) {
                assert_eq!(
                    is_valid(&doc),
                    expected,
                    "{}",
                    String::from_utf8_lossy(&doc)
                );
                checked += 1;
            }
        }
        assert!(checked > 19_000, "{checked}");
    }

    #[test]
    fn reads_object_members_array_elements_strings_and_integers() {
        let members =
            object(br#" { "a" : 1 , "b\n" : {"c":[1, 2]} , "\u00e9" : "x" , "n": null } "#)
                .unwrap();
        let members: Vec<(&str, &[u8])> = members.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(
            members,
            [
                ("a", &b"1"[..]),
                ("b\n", br#"{"c":[1, 2]}"#),
                ("é", br#""x""#),
                ("n", b"null"),
            ]
        );
        assert!(is_null(members[3].1));
        assert_eq!(object(b"{}").unwrap(), []);
        assert!(object(b"[]").is_none());
        assert!(object(b"{\"a\":1} x").is_none());

        let elements = array(br#"["a", 2, [3], {"b": 4}]"#).unwrap();
        assert_eq!(elements, [&br#""a""#[..], b"2", b"[3]", br#"{"b": 4}"#]);
        assert_eq!(array(b" [ ] ").unwrap(), Vec::<&[u8]>::new());
        assert!(array(b"{}").is_none());

        let escaped = br#""q\" b\\ s\/ \b\f\n\r\t \u00e9\u20ac \ud83d\ude00 lone \ud800 x \udc00""#;
        let want = "q\" b\\ s/ \u{8}\u{c}\n\r\t é€ 😀 lone \u{fffd} x \u{fffd}";
        assert_eq!(string(escaped).unwrap(), want);
        assert_eq!(string(b" \"plain\" ").unwrap(), "plain");
        assert!(string(b"1").is_none());

        for (text, value) in [
            ("0", Some(0)),
            ("42", Some(42)),
            (" 7 ", Some(7)),
            ("18446744073709551615", Some(u64::MAX)),
        ] {
            assert_eq!(uint(text.as_bytes()), value, "{text}");
        }
        for text in [
            "18446744073709551616",
            "-1",
            "1.0",
            "01",
            "1e3",
            "",
            "\"1\"",
            "null",
        ] {
            assert_eq!(uint(text.as_bytes()), None, "{text}");
        }
    }
}
