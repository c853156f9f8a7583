//! Validation the API server cannot do, or cannot do offline: each kind's `check()` repeats every
//! rule of its CRD schema that serde does not (patterns, lengths, ranges, list sizes, the CEL
//! rules) so that `render` refuses offline what the API server would refuse, and adds what no
//! schema can say (cron field ranges, Python keywords, duplicate names). Errors name the field as
//! the user wrote it, e.g. `spec.processors.operations[0].map.python`.
//!
//! What one manifest cannot show is left to the reconcile, which reads the cluster: whether the
//! tables an operation or a KasprJoin names exist, and whether the app the `kaspr.io/app` label
//! names exists.

use std::collections::{BTreeMap, HashSet};

pub use kaspr_types::{FieldError, ValidationErrors};

use crate::common::{CodeSpec, ConfigValue, Operation, Processors, TableRef};

pub mod syntax;

pub use syntax::patterns;

/// Bounds the schemas put on lists and maps: the API server needs them to bound the cost of the
/// CEL rules that walk them, and none is near what a real component uses.
pub mod limits {
    /// Most operations in `processors.operations`.
    pub const MAX_OPERATIONS: usize = 100;
    /// Most entries in `processors.pipeline`.
    pub const MAX_PIPELINE: usize = 100;
    /// Most tables one operation receives.
    pub const MAX_TABLE_REFS: usize = 32;
    /// Most topics in a KasprAgent's `output.topics`.
    pub const MAX_OUTPUT_TOPICS: usize = 64;
    /// Most entries in a map of Kafka configuration (`config`, `extraTopicConfigs`, `options`).
    pub const MAX_CONFIG_ENTRIES: usize = 128;
    /// Most response headers of a KasprWebView.
    pub const MAX_HEADERS: usize = 64;
    /// Longest response header value.
    pub const MAX_HEADER_VALUE_LEN: usize = 8192;
    /// Longest operation name, pipeline entry, entrypoint or parameter name.
    pub const MAX_IDENTIFIER_LEN: usize = 253;
}

/// The CEL rules of the schemas (`x-kubernetes-validations`), each also enforced by `check()`.
pub mod rules {
    /// Python's hard keywords as a CEL list.
    macro_rules! keywords {
        () => {
            "['False', 'None', 'True', 'and', 'as', 'assert', 'async', 'await', 'break', \
             'class', 'continue', 'def', 'del', 'elif', 'else', 'except', 'finally', 'for', \
             'from', 'global', 'if', 'import', 'in', 'is', 'lambda', 'nonlocal', 'not', 'or', \
             'pass', 'raise', 'return', 'try', 'while', 'with', 'yield']"
        };
    }

    /// `CodeSpec`: the entrypoint is no Python keyword.
    pub const ENTRYPOINT_NOT_KEYWORD: &str = concat!(
        "!has(self.entrypoint) || !(self.entrypoint in ",
        keywords!(),
        ")"
    );
    /// `TableRef`: the parameter name is no Python keyword.
    pub const PARAM_NOT_KEYWORD: &str = concat!("!(self.paramName in ", keywords!(), ")");
    /// An operation does exactly one thing.
    pub const ONE_ACTION: &str =
        "[has(self.map), has(self.filter), has(self.topicSend)].exists_one(x, x)";
    /// Every pipeline entry names an operation.
    pub const PIPELINE_NAMES_OPERATIONS: &str =
        "self.pipeline.all(p, self.operations.exists(o, o.name == p))";
    /// A topic to send to is named, or selected by code: one of the two.
    pub const NAME_OR_SELECTOR: &str = "has(self.name) != has(self.nameSelector)";
    /// An agent reads a topic or a channel.
    pub const TOPIC_OR_CHANNEL: &str = "has(self.topic) != has(self.channel)";
    /// An input topic is named, or matched by a pattern.
    pub const NAME_OR_PATTERN: &str = "has(self.name) != has(self.pattern)";
    /// A response selector has code for success, error or both.
    pub const SUCCESS_OR_ERROR: &str = "has(self.onSuccess) || has(self.onError)";
    /// A schedule is a cron expression or an interval.
    pub const CRON_OR_INTERVAL: &str = "has(self.cron) != has(self.interval)";
    /// A window is tumbling or hopping.
    pub const TUMBLING_OR_HOPPING: &str = "!(has(self.tumbling) && has(self.hopping))";
    /// Kafka configuration: no entry without a name.
    pub const CONFIG_NAMES: &str = "self.all(k, size(k) > 0)";
    /// Response headers: valid names (the values' pattern is in the schema).
    pub const HEADER_NAMES: &str = r#"self.all(k, k.matches(r"^[-!#$%&'*+.^_`|~0-9A-Za-z]+$"))"#;
    /// A window length: positive seconds, or a duration.
    pub const WINDOW_LENGTH: &str =
        r#"type(self) == int ? self > 0 : string(self).matches(r"^0*[1-9][0-9]*[smhd]?$")"#;
}

/// The errors of one resource, collected field by field.
#[derive(Default)]
pub(crate) struct Report {
    errors: Vec<FieldError>,
}

impl Report {
    pub fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            path: path.into(),
            message: message.into(),
        });
    }

    /// Records `result`'s error, if any, at `path`.
    pub fn field<T>(&mut self, path: impl Into<String>, result: Result<T, String>) {
        if let Err(message) = result {
            self.add(path, message);
        }
    }

    /// Errors sorted by path (the order is stable for errors of one field).
    pub fn finish(mut self) -> Result<(), ValidationErrors> {
        self.errors.sort_by(|a, b| a.path.cmp(&b.path));
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(self.errors))
        }
    }

    pub fn non_empty(&mut self, path: impl Into<String>, value: &str, what: &str) {
        if value.is_empty() {
            self.add(path, format!("empty; write {what}"));
        }
    }

    pub fn at_least<N: Into<i64> + Copy>(
        &mut self,
        path: impl Into<String>,
        value: Option<N>,
        min: i64,
    ) {
        if let Some(v) = value.map(Into::into).filter(|v| *v < min) {
            self.add(path, format!("{v} is too small; at least {min}"));
        }
    }

    pub fn at_most(&mut self, path: impl Into<String>, count: usize, max: usize, what: &str) {
        if count > max {
            self.add(path, format!("{count} {what}; at most {max} are accepted"));
        }
    }
}

/// The rules of `CodeSpec` at `path`.
pub(crate) fn code(r: &mut Report, path: &str, code: &CodeSpec) {
    if code.python.trim().is_empty() {
        r.add(
            format!("{path}.python"),
            "empty; write the Python code that defines the function to run",
        );
    }
    if let Some(entrypoint) = &code.entrypoint {
        r.field(
            format!("{path}.entrypoint"),
            syntax::python_identifier(entrypoint),
        );
    }
}

/// An optional `CodeSpec`.
pub(crate) fn code_opt(r: &mut Report, path: &str, c: Option<&CodeSpec>) {
    if let Some(c) = c {
        code(r, path, c);
    }
}

/// Kafka configuration entries at `path`: non-empty keys, at most [`limits::MAX_CONFIG_ENTRIES`].
pub(crate) fn config(r: &mut Report, path: &str, map: &BTreeMap<String, ConfigValue>) {
    r.at_most(path, map.len(), limits::MAX_CONFIG_ENTRIES, "entries");
    if map.contains_key("") {
        r.add(
            path,
            "an entry has an empty name; write the Kafka configuration name, e.g. retention.ms",
        );
    }
}

fn table_refs(r: &mut Report, path: &str, refs: &[TableRef]) {
    r.at_most(path, refs.len(), limits::MAX_TABLE_REFS, "tables");
    let mut params = HashSet::new();
    for (i, t) in refs.iter().enumerate() {
        let p = format!("{path}[{i}]");
        r.field(format!("{p}.name"), syntax::object_name(&t.name));
        r.field(
            format!("{p}.paramName"),
            syntax::python_identifier(&t.param_name),
        );
        if !params.insert(t.param_name.as_str()) {
            r.add(
                format!("{p}.paramName"),
                format!(
                    "{} is already the parameter of another table of this operation; each table \
                     needs its own parameter",
                    syntax::shown(&t.param_name)
                ),
            );
        }
    }
}

/// The rules of `processors` at `path`; `send` checks an operation's `topicSend`.
pub(crate) fn processors<S>(
    r: &mut Report,
    path: &str,
    p: &Processors<S>,
    send: impl Fn(&mut Report, &str, &S),
) {
    let pipeline = format!("{path}.pipeline");
    if p.pipeline.is_empty() {
        r.add(
            &pipeline,
            "empty; list the names of the operations to run, in order",
        );
    }
    r.at_most(&pipeline, p.pipeline.len(), limits::MAX_PIPELINE, "entries");
    code_opt(r, &format!("{path}.init"), p.init.as_ref());
    let ops = format!("{path}.operations");
    r.at_most(
        &ops,
        p.operations.len(),
        limits::MAX_OPERATIONS,
        "operations",
    );
    let mut names = HashSet::new();
    for (i, op) in p.operations.iter().enumerate() {
        operation(r, &format!("{ops}[{i}]"), op, &send);
        if !names.insert(op.name.as_str()) {
            r.add(
                format!("{ops}[{i}].name"),
                format!(
                    "{} names another operation too; operation names must be unique",
                    syntax::shown(&op.name)
                ),
            );
        }
    }
    for (i, entry) in p.pipeline.iter().enumerate() {
        if entry.is_empty() || entry.len() > limits::MAX_IDENTIFIER_LEN {
            r.add(
                format!("{pipeline}[{i}]"),
                format!(
                    "an operation name has 1 to {} characters",
                    limits::MAX_IDENTIFIER_LEN
                ),
            );
        } else if !names.contains(entry.as_str()) {
            let known: Vec<&str> = p.operations.iter().map(|o| o.name.as_str()).collect();
            r.add(
                format!("{pipeline}[{i}]"),
                format!(
                    "{} is not the name of an operation; defined operations: {}",
                    syntax::shown(entry),
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            );
        }
    }
}

fn operation<S>(
    r: &mut Report,
    path: &str,
    op: &Operation<S>,
    send: &impl Fn(&mut Report, &str, &S),
) {
    r.non_empty(
        format!("{path}.name"),
        &op.name,
        "the name the pipeline runs it by",
    );
    if op.name.len() > limits::MAX_IDENTIFIER_LEN {
        r.add(
            format!("{path}.name"),
            format!("longer than {} characters", limits::MAX_IDENTIFIER_LEN),
        );
    }
    table_refs(r, &format!("{path}.tables"), &op.tables);
    let actions = [
        op.map.is_some(),
        op.filter.is_some(),
        op.topic_send.is_some(),
    ];
    if actions.iter().filter(|a| **a).count() != 1 {
        r.add(
            path,
            "an operation needs exactly one of map, filter or topicSend",
        );
    }
    code_opt(r, &format!("{path}.map"), op.map.as_ref());
    code_opt(r, &format!("{path}.filter"), op.filter.as_ref());
    if let Some(s) = &op.topic_send {
        send(r, &format!("{path}.topicSend"), s);
    }
}

/// The target of a topic send: a `name` or a `nameSelector`, exactly one.
pub(crate) fn topic_target(
    r: &mut Report,
    path: &str,
    name: Option<&str>,
    name_selector: Option<&CodeSpec>,
) {
    match (name, name_selector) {
        (Some(_), Some(_)) => r.add(
            path,
            "both name and nameSelector are set; set one: name for a fixed topic, nameSelector \
             for code that picks the topic per message",
        ),
        (None, None) => r.add(
            path,
            "no topic: set name (a fixed topic) or nameSelector (code that picks the topic per \
             message)",
        ),
        _ => {}
    }
    if let Some(name) = name {
        r.field(format!("{path}.name"), syntax::kafka_topic(name));
    }
    code_opt(r, &format!("{path}.nameSelector"), name_selector);
}

/// Warnings shared by every kind with processors: operations that never run, entrypoints the
/// code does not mention.
pub(crate) fn processor_warnings<S>(path: &str, p: &Processors<S>, out: &mut Vec<String>) {
    for (i, op) in p.operations.iter().enumerate() {
        if !p.pipeline.contains(&op.name) {
            out.push(format!(
                "{path}.operations[{i}] ({}) is not in {path}.pipeline, so it never runs",
                syntax::shown(&op.name)
            ));
        }
    }
}

/// A warning when `code` names an entrypoint its Python never mentions: the runtime then calls
/// the first callable the code defines instead, silently.
pub(crate) fn entrypoint_warning(path: &str, code: Option<&CodeSpec>, out: &mut Vec<String>) {
    let Some(code) = code else { return };
    let Some(entrypoint) = &code.entrypoint else {
        return;
    };
    let mentioned = code
        .python
        .match_indices(entrypoint.as_str())
        .any(|(at, _)| {
            let before = code.python[..at].chars().next_back();
            let after = code.python[at + entrypoint.len()..].chars().next();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            !word(before) && !word(after)
        });
    if !mentioned {
        out.push(format!(
            "{path}.entrypoint {} does not appear in {path}.python; the runtime would call the \
             first callable the code defines instead",
            syntax::shown(entrypoint)
        ));
    }
}
