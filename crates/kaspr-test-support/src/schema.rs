//! What a schema allows: every variant of an enum ([`allowed_strings`]), every constraint of
//! an OpenAPI schema such as the CRD's ([`constraints`]), and whether a string matches one of
//! its RE2 patterns ([`pattern_matches`]), for tests that must cover all of them.

use schemars::JsonSchema;
use serde_json::Value;

/// Every string the JSON schema of `T` allows (`enum` lists and `const`s, at any depth), sorted
/// and deduplicated: for an enum, all its variants by their serde names.
pub fn allowed_strings<T: JsonSchema>() -> Vec<String> {
    let schema = serde_json::to_value(schemars::schema_for!(T)).expect("the schema serialises");
    let mut names = Vec::new();
    collect(&schema, &mut names);
    names.sort();
    names.dedup();
    names
}

fn collect(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(s)) = map.get("const") {
                out.push(s.clone());
            }
            if let Some(Value::Array(values)) = map.get("enum") {
                out.extend(values.iter().filter_map(|v| v.as_str().map(str::to_owned)));
            }
            map.values().for_each(|v| collect(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        _ => {}
    }
}

/// One step of a path into a schema and into the values it describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A property of an object.
    Field(String),
    /// Any item of an array (tests use the first).
    Item,
    /// Any value of a map (`additionalProperties`).
    MapValue,
}

/// A path as a user writes it, with `[0]` for items: `spec.pythonPackages.packages[0]`.
pub fn user_path(steps: &[Step]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Field(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Step::Item => out.push_str("[0]"),
            Step::MapValue => out.push_str("[*]"),
        }
    }
    out
}

/// A constraint of an OpenAPI (structural) schema that a value can violate.
#[derive(Clone, Debug, PartialEq)]
pub enum Constraint {
    /// `pattern` (RE2, unanchored unless the pattern anchors itself).
    Pattern(String),
    /// `minLength`, in characters.
    MinLength(usize),
    /// `maxLength`, in characters.
    MaxLength(usize),
    /// `minimum` (inclusive).
    Minimum(f64),
    /// `maximum` (inclusive).
    Maximum(f64),
    /// `minItems`.
    MinItems(usize),
    /// `maxItems`.
    MaxItems(usize),
    /// `enum`.
    Enum(Vec<Value>),
    /// `x-kubernetes-list-type: set`: no item twice.
    SetList,
    /// One `x-kubernetes-validations` rule (CEL).
    Rule {
        /// The CEL expression.
        rule: String,
        /// `fieldPath`, relative to the node holding the rule (e.g. `.credentials`).
        field_path: Option<String>,
        /// Whether it compares with the stored object (`oldSelf`): a transition rule.
        transition: bool,
    },
    /// A keyword this walker does not know: a test must learn it before it can pass.
    Unknown(String),
}

/// A constraint and the path of the schema node that holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    /// Where: e.g. `spec`, `pythonPackages`, `packages`, item.
    pub path: Vec<Step>,
    /// What.
    pub constraint: Constraint,
}

/// Keywords that constrain nothing a value could violate beyond its type (which serde checks),
/// or that only describe.
const DESCRIPTIVE: &[&str] = &[
    "type",
    "description",
    "default",
    "nullable",
    "required",
    "properties",
    "items",
    "additionalProperties",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-int-or-string",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-map-type",
    "title",
    "example",
];

/// Every constraint in an OpenAPI v3 schema (as JSON, e.g. a CRD version's
/// `openAPIV3Schema`), depth first, with the path of the node holding it. Integer `format`s
/// (`int32`, `int64`) are type information and not reported; any other `format`, and any
/// keyword this function does not know (`multipleOf`, `oneOf`, `x-kubernetes-list-type: map`,
/// ...), is reported as [`Constraint::Unknown`].
pub fn constraints(schema: &Value) -> Vec<Found> {
    let mut out = Vec::new();
    walk(schema, &mut Vec::new(), &mut out);
    out
}

fn walk(node: &Value, path: &mut Vec<Step>, out: &mut Vec<Found>) {
    let Some(map) = node.as_object() else {
        return;
    };
    let mut found = |c: Constraint| {
        out.push(Found {
            path: path.clone(),
            constraint: c,
        })
    };
    let count = |v: &Value| v.as_u64().and_then(|n| usize::try_from(n).ok());
    for (key, value) in map {
        match (key.as_str(), value) {
            (k, _) if DESCRIPTIVE.contains(&k) => {}
            ("pattern", Value::String(p)) => found(Constraint::Pattern(p.clone())),
            ("minLength", v) if count(v).is_some() => {
                found(Constraint::MinLength(count(v).unwrap_or_default()))
            }
            ("maxLength", v) if count(v).is_some() => {
                found(Constraint::MaxLength(count(v).unwrap_or_default()))
            }
            ("minItems", v) if count(v).is_some() => {
                found(Constraint::MinItems(count(v).unwrap_or_default()))
            }
            ("maxItems", v) if count(v).is_some() => {
                found(Constraint::MaxItems(count(v).unwrap_or_default()))
            }
            ("minimum", Value::Number(n)) => {
                found(Constraint::Minimum(n.as_f64().unwrap_or(f64::NAN)))
            }
            ("maximum", Value::Number(n)) => {
                found(Constraint::Maximum(n.as_f64().unwrap_or(f64::NAN)))
            }
            ("enum", Value::Array(values)) => found(Constraint::Enum(values.clone())),
            ("format", Value::String(f)) if matches!(f.as_str(), "int32" | "int64") => {}
            ("x-kubernetes-list-type", Value::String(t)) if t == "atomic" => {}
            ("x-kubernetes-list-type", Value::String(t)) if t == "set" => {
                found(Constraint::SetList)
            }
            ("x-kubernetes-validations", Value::Array(rules)) => {
                for rule in rules {
                    let text = rule["rule"].as_str().unwrap_or_default().to_owned();
                    found(Constraint::Rule {
                        transition: text.contains("oldSelf"),
                        rule: text,
                        field_path: rule["fieldPath"].as_str().map(str::to_owned),
                    });
                }
            }
            (k, v) => found(Constraint::Unknown(format!("{k}: {v}"))),
        }
    }
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        for (name, child) in props {
            path.push(Step::Field(name.clone()));
            walk(child, path, out);
            path.pop();
        }
    }
    if let Some(items) = map.get("items") {
        path.push(Step::Item);
        walk(items, path, out);
        path.pop();
    }
    if let Some(extra) = map.get("additionalProperties").filter(|v| v.is_object()) {
        path.push(Step::MapValue);
        walk(extra, path, out);
        path.pop();
    }
}

/// Whether `text` matches the RE2 `pattern` the way the API server applies a schema's
/// `pattern`: anywhere in the text unless the pattern anchors itself with `^`/`$`.
///
/// A small matcher for the syntax CRD patterns use (literals and escapes, `.`, classes with
/// ranges and negation, `\s \S \d \D \w \W`, `\p{Cc}`, `\x{...}`, groups, `|`, `* + ?` and
/// `{m,n}`), exact where it answers (it follows every alternative, without backtracking
/// limits); it panics on any other syntax, so a test learns of a pattern it cannot judge.
///
/// ```
/// use kaspr_test_support::schema::pattern_matches;
/// assert!(pattern_matches(r"^[a-z]+(\.[a-z]+)*$", "a.bc"));
/// assert!(!pattern_matches(r"^[a-z]+(\.[a-z]+)*$", "a..b"));
/// assert!(pattern_matches(r"[0-9]", "a1"));
/// ```
pub fn pattern_matches(pattern: &str, text: &str) -> bool {
    let re = regex::parse(pattern);
    let chars: Vec<char> = text.chars().collect();
    (0..=chars.len()).any(|start| !regex::ends(&re, &chars, start).is_empty())
}

mod regex {
    use std::collections::BTreeSet;

    #[derive(Debug)]
    pub enum Node {
        Class(Class),
        Start,
        End,
        Concat(Vec<Node>),
        Alt(Vec<Node>),
        Repeat(Box<Node>, u32, Option<u32>),
    }

    #[derive(Debug, Default)]
    pub struct Class {
        negated: bool,
        items: Vec<Item>,
    }

    #[derive(Debug)]
    enum Item {
        Range(char, char),
        Space,
        Digit,
        Word,
        Control,
        Not(Box<Item>),
    }

    impl Item {
        fn has(&self, c: char) -> bool {
            match self {
                Item::Range(a, b) => (*a..=*b).contains(&c),
                // RE2's \s: [\t\n\f\r ].
                Item::Space => matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' '),
                Item::Digit => c.is_ascii_digit(),
                Item::Word => c.is_ascii_alphanumeric() || c == '_',
                // \p{Cc}: U+0000-U+001F and U+007F-U+009F, exactly Rust's `is_control`.
                Item::Control => c.is_control(),
                Item::Not(i) => !i.has(c),
            }
        }
    }

    impl Class {
        fn has(&self, c: char) -> bool {
            self.items.iter().any(|i| i.has(c)) != self.negated
        }
        fn one(item: Item) -> Self {
            Class {
                negated: false,
                items: vec![item],
            }
        }
    }

    /// The end positions of every match of `node` starting at `start`.
    pub fn ends(node: &Node, text: &[char], start: usize) -> BTreeSet<usize> {
        match node {
            Node::Class(class) => text
                .get(start)
                .filter(|&&c| class.has(c))
                .map(|_| start + 1)
                .into_iter()
                .collect(),
            Node::Start => (start == 0).then_some(start).into_iter().collect(),
            Node::End => (start == text.len()).then_some(start).into_iter().collect(),
            Node::Concat(nodes) => nodes.iter().fold(BTreeSet::from([start]), |at, n| {
                at.iter().flat_map(|&p| ends(n, text, p)).collect()
            }),
            Node::Alt(nodes) => nodes.iter().flat_map(|n| ends(n, text, start)).collect(),
            Node::Repeat(inner, min, max) => {
                let mut all = BTreeSet::new();
                let mut frontier = BTreeSet::from([start]);
                let mut n = 0;
                loop {
                    if n >= *min {
                        all.extend(frontier.iter().copied());
                    }
                    if max.is_some_and(|m| n >= m) || frontier.is_empty() {
                        break;
                    }
                    let next: BTreeSet<usize> = frontier
                        .iter()
                        .flat_map(|&p| ends(inner, text, p))
                        .collect();
                    // Past the minimum, positions already reached add nothing new.
                    frontier = if n >= *min {
                        next.difference(&all).copied().collect()
                    } else {
                        next
                    };
                    n += 1;
                }
                all
            }
        }
    }

    pub fn parse(pattern: &str) -> Node {
        let mut p = Parser {
            chars: pattern.chars().collect(),
            at: 0,
            pattern,
        };
        let node = p.alt();
        if p.at != p.chars.len() {
            p.unsupported();
        }
        node
    }

    struct Parser<'a> {
        chars: Vec<char>,
        at: usize,
        pattern: &'a str,
    }

    impl Parser<'_> {
        fn unsupported(&self) -> ! {
            panic!(
                "pattern {:?}: syntax at character {} is not supported by this matcher; extend it",
                self.pattern, self.at
            )
        }
        fn peek(&self) -> Option<char> {
            self.chars.get(self.at).copied()
        }
        fn next(&mut self) -> char {
            let c = self.peek().unwrap_or_else(|| self.unsupported());
            self.at += 1;
            c
        }
        fn eat(&mut self, c: char) -> bool {
            let hit = self.peek() == Some(c);
            if hit {
                self.at += 1;
            }
            hit
        }
        fn alt(&mut self) -> Node {
            let mut branches = vec![self.concat()];
            while self.eat('|') {
                branches.push(self.concat());
            }
            if branches.len() == 1 {
                branches.pop().unwrap_or_else(|| self.unsupported())
            } else {
                Node::Alt(branches)
            }
        }
        fn concat(&mut self) -> Node {
            let mut nodes = Vec::new();
            while let Some(c) = self.peek() {
                if c == '|' || c == ')' {
                    break;
                }
                let atom = self.atom();
                nodes.push(self.quantified(atom));
            }
            Node::Concat(nodes)
        }
        fn quantified(&mut self, mut atom: Node) -> Node {
            loop {
                let (min, max) = match self.peek() {
                    Some('*') => (0, None),
                    Some('+') => (1, None),
                    Some('?') => (0, Some(1)),
                    Some('{') => {
                        self.at += 1;
                        let min = self.number();
                        let max = if self.eat(',') {
                            (self.peek() != Some('}')).then(|| self.number())
                        } else {
                            Some(min)
                        };
                        if self.peek() != Some('}') {
                            self.unsupported();
                        }
                        (min, max)
                    }
                    _ => return atom,
                };
                self.at += 1;
                if self.peek() == Some('?') {
                    // Lazy quantifiers match the same language.
                    self.at += 1;
                }
                atom = Node::Repeat(Box::new(atom), min, max);
            }
        }
        fn number(&mut self) -> u32 {
            let start = self.at;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.at += 1;
            }
            self.chars[start..self.at]
                .iter()
                .collect::<String>()
                .parse()
                .unwrap_or_else(|_| self.unsupported())
        }
        fn atom(&mut self) -> Node {
            match self.next() {
                '^' => Node::Start,
                '$' => Node::End,
                '.' => Node::Class(Class {
                    negated: true,
                    items: vec![Item::Range('\n', '\n')],
                }),
                '(' => {
                    if self.eat('?') && !self.eat(':') {
                        self.unsupported();
                    }
                    let inner = self.alt();
                    if !self.eat(')') {
                        self.unsupported();
                    }
                    inner
                }
                '[' => Node::Class(self.class()),
                '\\' => Node::Class(Class::one(self.escape())),
                '*' | '+' | '?' | '{' | ')' => self.unsupported(),
                c => Node::Class(Class::one(Item::Range(c, c))),
            }
        }
        fn class(&mut self) -> Class {
            let mut class = Class {
                negated: self.eat('^'),
                items: Vec::new(),
            };
            let mut first = true;
            loop {
                let c = self.next();
                if c == ']' && !first {
                    return class;
                }
                if c == '[' && self.peek() == Some(':') {
                    self.unsupported();
                }
                first = false;
                let item = if c == '\\' {
                    self.escape()
                } else {
                    Item::Range(c, c)
                };
                let lo = match item {
                    Item::Range(lo, _) => lo,
                    other => {
                        class.items.push(other);
                        continue;
                    }
                };
                if self.peek() == Some('-') && self.chars.get(self.at + 1) != Some(&']') {
                    self.at += 1;
                    let hi = match self.next() {
                        '\\' => match self.escape() {
                            Item::Range(hi, _) => hi,
                            _ => self.unsupported(),
                        },
                        hi => hi,
                    };
                    class.items.push(Item::Range(lo, hi));
                } else {
                    class.items.push(item);
                }
            }
        }
        fn escape(&mut self) -> Item {
            match self.next() {
                's' => Item::Space,
                'S' => Item::Not(Box::new(Item::Space)),
                'd' => Item::Digit,
                'D' => Item::Not(Box::new(Item::Digit)),
                'w' => Item::Word,
                'W' => Item::Not(Box::new(Item::Word)),
                't' => Item::Range('\t', '\t'),
                'n' => Item::Range('\n', '\n'),
                'r' => Item::Range('\r', '\r'),
                'f' => Item::Range('\x0c', '\x0c'),
                'p' | 'P' => {
                    let negate = self.chars[self.at - 1] == 'P';
                    let name: String = if self.eat('{') {
                        let mut name = String::new();
                        while !self.eat('}') {
                            name.push(self.next());
                        }
                        name
                    } else {
                        self.next().to_string()
                    };
                    if name != "Cc" {
                        self.unsupported();
                    }
                    if negate {
                        Item::Not(Box::new(Item::Control))
                    } else {
                        Item::Control
                    }
                }
                'x' => {
                    let hex: String = if self.eat('{') {
                        let mut hex = String::new();
                        while !self.eat('}') {
                            hex.push(self.next());
                        }
                        hex
                    } else {
                        [self.next(), self.next()].iter().collect()
                    };
                    let c = u32::from_str_radix(&hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .unwrap_or_else(|| self.unsupported());
                    Item::Range(c, c)
                }
                c if c.is_ascii_punctuation() => Item::Range(c, c),
                _ => self.unsupported(),
            }
        }
    }
}

/// The `candidates` that break `pattern` but keep the node's `minLength`/`maxLength`, so that a
/// refusal can only come from the pattern.
pub fn pattern_violations(pattern: &str, candidates: Vec<String>, node: &Value) -> Vec<String> {
    candidates
        .into_iter()
        .filter(|c| !pattern_matches(pattern, c))
        .filter(|c| {
            let n = c.chars().count() as u64;
            node["minLength"].as_u64().is_none_or(|min| n >= min)
                && node["maxLength"].as_u64().is_none_or(|max| n <= max)
        })
        .collect()
}
