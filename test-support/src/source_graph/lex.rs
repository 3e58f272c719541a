//! A source file split into code and prose, with test items blanked out of both.

/// A source file split into code and prose, each as long as the file (in bytes) with the other
/// blanked, so positions agree.
pub(super) struct Lexed {
    pub(super) code: String,
    pub(super) prose: String,
}

/// Blanks comments and literals out of the code (keeping line breaks), and everything but
/// comments out of the prose.
pub(super) fn lex(source: &str) -> Lexed {
    let bytes = source.as_bytes();
    let mut code = bytes.to_vec();
    let mut prose = vec![b' '; bytes.len()];
    let blank = |v: &mut Vec<u8>, from: usize, to: usize| {
        for b in &mut v[from..to] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    };
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(b"//") {
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |n| i + n);
            prose[i..end].copy_from_slice(&bytes[i..end]);
            blank(&mut code, i, end);
            i = end;
        } else if rest.starts_with(b"/*") {
            let mut depth = 0;
            let mut j = i;
            while j < bytes.len() {
                if bytes[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if bytes[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            prose[i..j].copy_from_slice(&bytes[i..j]);
            blank(&mut code, i, j);
            i = j;
        } else if let Some(end) = raw_string_end(bytes, i) {
            blank(&mut code, i, end);
            i = end;
        } else if rest[0] == b'"' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(bytes.len());
            blank(&mut code, i, end);
            i = end;
        } else if rest[0] == b'\'' {
            // A character literal ('x', '\n', '\u{7f}', '{'); a lifetime ('a) is left alone.
            let end = if rest.get(1) == Some(&b'\\') {
                rest.iter()
                    .skip(2)
                    .position(|&b| b == b'\'')
                    .map(|n| i + 2 + n + 1)
            } else {
                let width = source
                    .get(i + 1..)
                    .and_then(|s| s.chars().next())
                    .map_or(1, char::len_utf8);
                (rest.get(1 + width) == Some(&b'\'')).then_some(i + 2 + width)
            };
            match end {
                Some(end) => {
                    blank(&mut code, i, end);
                    i = end;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    Lexed {
        code: String::from_utf8_lossy(&code).into_owned(),
        prose: String::from_utf8_lossy(&prose).into_owned(),
    }
}

/// Where a raw string literal starting at `at` (`r"…"`, `r#"…"#`, `br"…"`) ends, if one does.
fn raw_string_end(bytes: &[u8], at: usize) -> Option<usize> {
    let before_is_ident =
        at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
    if before_is_ident {
        return None;
    }
    let mut j = at;
    if bytes.get(j) == Some(&b'b') {
        j += 1;
    }
    if bytes.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let hashes = bytes[j..].iter().take_while(|&&b| b == b'#').count();
    j += hashes;
    if bytes.get(j) != Some(&b'"') {
        return None;
    }
    let closing: Vec<u8> = std::iter::once(b'"')
        .chain(std::iter::repeat_n(b'#', hashes))
        .collect();
    let from = j + 1;
    let end = bytes[from..]
        .windows(closing.len())
        .position(|w| w == closing.as_slice())
        .map_or(bytes.len(), |n| from + n + closing.len());
    Some(end)
}

/// Blanks every `#[cfg(test)]` item (with the attributes after it) out of lexed code, and the
/// same spans out of the prose.
pub(super) fn drop_test_items(lexed: &mut Lexed) {
    let mut spans = Vec::new();
    let code = lexed.code.as_bytes();
    let mut from = 0;
    while let Some(at) = lexed.code[from..].find("#[cfg(test)]").map(|n| from + n) {
        let mut j = at + "#[cfg(test)]".len();
        // Further attributes, then the item up to its `;` or its closing brace.
        let mut depth = 0usize;
        let mut end = code.len();
        let mut in_attr = 0usize;
        while j < code.len() {
            match code[j] {
                b'[' if in_attr > 0 || (j > 0 && code[j - 1] == b'#') => in_attr += 1,
                b']' if in_attr > 0 => in_attr -= 1,
                b'{' if in_attr == 0 => depth += 1,
                b'}' if in_attr == 0 => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = j + 1;
                        break;
                    }
                }
                b';' if in_attr == 0 && depth == 0 => {
                    end = j + 1;
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        spans.push((at, end));
        from = end;
    }
    let blank = |text: &mut String, spans: &[(usize, usize)]| {
        let mut bytes = std::mem::take(text).into_bytes();
        for &(from, to) in spans {
            for b in &mut bytes[from..to] {
                if *b != b'\n' {
                    *b = b' ';
                }
            }
        }
        *text = String::from_utf8_lossy(&bytes).into_owned();
    };
    blank(&mut lexed.code, &spans);
    blank(&mut lexed.prose, &spans);
}
