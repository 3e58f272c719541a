//! What lexed code names: its `mod x;` items, its `use` items with their groups expanded, and
//! the paths written in it.

pub(super) fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The `mod x;` items of lexed code (inline `mod x { … }` bodies belong to their file).
pub(super) fn declared_modules(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices("mod ") {
        if code[..at].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let name: String = code[at + 4..]
            .trim_start()
            .chars()
            .take_while(|&c| is_ident(c))
            .collect();
        let after = code[at + 4..].trim_start()[name.len()..].trim_start();
        if !name.is_empty() && after.starts_with(';') {
            out.push(name);
        }
    }
    out
}

/// One binding of a `use` item: the path it names and the name it binds (`None` for a glob).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseBinding {
    pub path: Vec<String>,
    pub name: Option<String>,
}

/// The `use` items of lexed code, each group expanded: `use a::{b, c::{d as e, self}, f::*};`
/// gives `a::b` as `b`, `a::c::d` as `e`, `a::c` as `c` and the glob `a::f::*`.
pub fn use_bindings(code: &str) -> Vec<UseBinding> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices("use ") {
        if code[..at].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let Some(len) = code[at..].find(';') else {
            continue;
        };
        let tokens = use_tokens(&code[at + 4..at + len]);
        let mut at = 0;
        use_tree(&tokens, &mut at, &[], &mut out);
    }
    out
}

/// The tokens of a use tree: names, `::`, `{`, `}`, `,`, `*` (`as` is a name here).
fn use_tokens(tree: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = tree.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_ident(c) {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push("::".to_owned());
            i += 2;
        } else if "{},*".contains(c) {
            tokens.push(c.to_string());
            i += 1;
        } else {
            i += 1;
        }
    }
    tokens
}

/// One use tree from `tokens[*at..]`: a path, then a group, a glob or an alias.
fn use_tree(tokens: &[String], at: &mut usize, prefix: &[String], out: &mut Vec<UseBinding>) {
    let mut path = prefix.to_vec();
    if tokens.get(*at).map(String::as_str) == Some("::") {
        *at += 1;
    }
    loop {
        match tokens.get(*at).map(String::as_str) {
            Some("{") => {
                *at += 1;
                while let Some(token) = tokens.get(*at) {
                    match token.as_str() {
                        "}" => {
                            *at += 1;
                            return;
                        }
                        "," => *at += 1,
                        _ => use_tree(tokens, at, &path, out),
                    }
                }
                return;
            }
            Some("*") => {
                *at += 1;
                out.push(UseBinding { path, name: None });
                return;
            }
            Some(name) if name != "," && name != "}" && name != "::" => {
                path.push(name.to_owned());
                *at += 1;
                if tokens.get(*at).map(String::as_str) == Some("::") {
                    *at += 1;
                    continue;
                }
                let alias = if tokens.get(*at).map(String::as_str) == Some("as") {
                    *at += 2;
                    tokens.get(*at - 1).cloned()
                } else {
                    None
                };
                if path.last().map(String::as_str) == Some("self") {
                    path.pop();
                }
                let name = alias.or_else(|| path.last().cloned());
                out.push(UseBinding { path, name });
                return;
            }
            _ => return,
        }
    }
}

/// Paths of two or more segments in lexed code (`a::b`, `super::super::x::y`), outside `use`
/// items and visibilities, as written.
pub(super) fn code_paths(code: &str) -> Vec<Vec<String>> {
    let mut without_uses = code.to_owned();
    for (at, _) in code.match_indices("use ") {
        if code[..at].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        if let Some(len) = code[at..].find(';') {
            without_uses.replace_range(at..at + len, &" ".repeat(len));
        }
    }
    // A visibility, `pub(in super::super)`, names where an item may be seen, not what it uses.
    for (at, _) in code.match_indices("pub(in ") {
        if let Some(len) = code[at..].find(')') {
            without_uses.replace_range(at..at + len, &" ".repeat(len));
        }
    }
    let chars: Vec<char> = without_uses.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !is_ident(chars[i]) || (i > 0 && (is_ident(chars[i - 1]) || chars[i - 1] == ':')) {
            i += 1;
            continue;
        }
        let mut path = Vec::new();
        let mut j = i;
        loop {
            let start = j;
            while j < chars.len() && is_ident(chars[j]) {
                j += 1;
            }
            path.push(chars[start..j].iter().collect::<String>());
            if chars.get(j) == Some(&':')
                && chars.get(j + 1) == Some(&':')
                && chars.get(j + 2).is_some_and(|&c| is_ident(c))
            {
                j += 2;
            } else {
                break;
            }
        }
        if path.len() > 1 {
            out.push(path);
        }
        i = j.max(i + 1);
    }
    out
}
