//! The syntax of single values: Python identifiers, Kubernetes and Kafka names, durations, cron
//! expressions, HTTP header fields. Each check returns what is wrong and what would be accepted;
//! the RE2 patterns beside them are what the CRD schema gives the API server, and a check never
//! accepts what its pattern refuses (`tests/syntax.rs` proves it on a corpus).

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Regular expressions written into the CRD schemas (RE2, checked by the API server).
pub mod patterns {
    /// Text with at least one character that is not whitespace (the pattern matches anywhere).
    pub const NOT_BLANK: &str = r"\S";
    /// An ASCII Python identifier (keywords are refused by a CEL rule and by `check`).
    pub const PYTHON_IDENTIFIER: &str = r"^[A-Za-z_][A-Za-z0-9_]*$";
    /// A Kubernetes object name (DNS-1123 subdomain), e.g. a KasprTable's `metadata.name`.
    pub const DNS1123_SUBDOMAIN: &str = kaspr_types::validate::patterns::DNS1123_SUBDOMAIN;
    /// A Kafka topic name: letters, digits, `.`, `_` and `-` (Kafka's own rule).
    pub const KAFKA_TOPIC: &str = r"^[A-Za-z0-9._-]+$";
    /// A positive duration: a whole number and one unit, `s`, `m`, `h` or `d` (e.g. `10s`).
    pub const DURATION: &str = r"^0*[1-9][0-9]*[smhd]$";
    /// A positive window length written as text: seconds (`30`) or a [`DURATION`] (`30s`).
    pub const WINDOW_LENGTH: &str = r"^0*[1-9][0-9]*[smhd]?$";
    /// A URL path of a web view: starts with `/`, no whitespace.
    pub const URL_PATH: &str = r"^/\S*$";
    /// An HTTP header field value: one line.
    pub const HEADER_VALUE: &str = r"^[^\r\n]*$";
    /// An HTTP header field name (an RFC 9110 token).
    pub const HEADER_NAME: &str = r"^[-!#$%&'*+.^_`|~0-9A-Za-z]+$";
}

/// Longest Kafka topic name Kafka accepts.
pub const MAX_TOPIC_LEN: usize = 249;
/// Longest Kubernetes object name.
pub const MAX_NAME_LEN: usize = 253;

/// Python's hard keywords (`keyword.kwlist`): valid identifiers by the pattern, but no function
/// or parameter can have one as its name.
pub const PYTHON_KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// A value for an error message: quoted with escapes, and cut after 80 characters.
pub fn shown(value: &str) -> String {
    const MAX: usize = 80;
    let mut s: String = value.chars().take(MAX).collect();
    if value.chars().count() > MAX {
        s.push('…');
    }
    format!("{s:?}")
}

/// A Python identifier that is not a keyword, as a function or parameter name must be.
pub fn python_identifier(value: &str) -> Result<(), String> {
    let mut chars = value.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(format!(
            "{} is not a Python identifier; use letters, digits and '_', not starting with a digit",
            shown(value)
        ));
    }
    if value.len() > MAX_NAME_LEN {
        return Err(format!(
            "{} is longer than {MAX_NAME_LEN} characters",
            shown(value)
        ));
    }
    if PYTHON_KEYWORDS.contains(&value) {
        return Err(format!(
            "{} is a Python keyword and cannot name a function or parameter",
            shown(value)
        ));
    }
    Ok(())
}

/// The name of a Kubernetes object (a DNS-1123 subdomain), such as a KasprTable's.
pub fn object_name(value: &str) -> Result<(), String> {
    if kaspr_types::validate::is_dns1123_subdomain(value) {
        Ok(())
    } else {
        Err(format!(
            "{} is not a Kubernetes object name; use lowercase letters, digits, '-' and '.' \
             (a DNS-1123 subdomain, at most {MAX_NAME_LEN} characters), as in the KasprTable's \
             metadata.name",
            shown(value)
        ))
    }
}

/// A Kafka topic name.
pub fn kafka_topic(value: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value.len() <= MAX_TOPIC_LEN
        && value != "."
        && value != ".."
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} is not a Kafka topic name; use letters, digits, '.', '_' and '-' (at most \
             {MAX_TOPIC_LEN} characters)",
            shown(value)
        ))
    }
}

/// Longest duration Python's `timedelta` holds (999,999,999 days), in seconds.
const MAX_DURATION_SECONDS: u64 = 999_999_999 * 86_400;

/// A duration as the Kaspr runtime parses it (`parse_time_delta`): a positive whole number and
/// one unit, `s`, `m`, `h` or `d`. Returns the seconds.
pub fn duration(value: &str) -> Result<u64, String> {
    let accepted =
        "write a whole number and a unit s, m, h or d, e.g. \"30s\", \"5m\", \"1h\", \"2d\"";
    let Some(unit) = value
        .chars()
        .last()
        .filter(|c| matches!(c, 's' | 'm' | 'h' | 'd'))
    else {
        return Err(format!("{} is not a duration; {accepted}", shown(value)));
    };
    seconds(&value[..value.len() - 1], unit, value, accepted)
}

/// A window length: a positive number of seconds, as an integer or as text (`"30"`), or a
/// [`duration`] (`"30s"`). Returns the seconds.
pub fn window_length(value: &IntOrString) -> Result<u64, String> {
    let accepted = "write a positive number of seconds (30) or a duration such as \"30s\", \"5m\", \"1h\", \"1d\"";
    match value {
        IntOrString::Int(n) => u64::try_from(*n)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{n} is not a positive number of seconds; {accepted}")),
        IntOrString::String(s) => match s.chars().last() {
            Some(unit @ ('s' | 'm' | 'h' | 'd')) => seconds(&s[..s.len() - 1], unit, s, accepted),
            _ => seconds(s, 's', s, accepted),
        },
    }
}

fn seconds(digits: &str, unit: char, whole: &str, accepted: &str) -> Result<u64, String> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{} is not a duration; {accepted}", shown(whole)));
    }
    let per_unit = match unit {
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => 1,
    };
    let amount = digits.trim_start_matches('0');
    let secs = if amount.is_empty() {
        Some(0)
    } else {
        amount
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(per_unit))
    };
    match secs {
        Some(0) => Err(format!(
            "{} is zero; a duration must be positive ({accepted})",
            shown(whole)
        )),
        Some(s) if s <= MAX_DURATION_SECONDS => Ok(s),
        _ => Err(format!(
            "{} is too long; at most 999999999 days",
            shown(whole)
        )),
    }
}

/// An HTTP header field name.
pub fn header_name(value: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} is not an HTTP header name; use letters, digits and !#$%&'*+-.^_`|~",
            shown(value)
        ))
    }
}

/// An HTTP header field value: no line break (which would start another header).
pub fn header_value(value: &str) -> Result<(), String> {
    if value.contains(['\r', '\n']) {
        Err(format!(
            "{} holds a line break; a header value is one line",
            shown(value)
        ))
    } else {
        Ok(())
    }
}

/// One field of a cron expression.
struct CronField {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// The fields in the order croniter reads them: five as in crontab(5), then seconds, then year.
const CRON_FIELDS: [CronField; 7] = [
    CronField {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    CronField {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    CronField {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
    },
    CronField {
        name: "month",
        min: 1,
        max: 12,
        names: MONTHS,
    },
    CronField {
        name: "day of week",
        min: 0,
        max: 7,
        names: WEEKDAYS,
    },
    CronField {
        name: "second",
        min: 0,
        max: 59,
        names: &[],
    },
    CronField {
        name: "year",
        min: 1970,
        max: 2099,
        names: &[],
    },
];
const DAY_OF_MONTH: usize = 2;
const DAY_OF_WEEK: usize = 4;

/// The aliases croniter knows.
pub const CRON_ALIASES: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// A cron expression as the Kaspr runtime schedules it (faust's `crontab`, which hands it to
/// croniter): 5 fields `minute hour day-of-month month day-of-week`, optionally followed by
/// `second` and then `year` (croniter puts seconds **last**, unlike Quartz), or an alias such as
/// `@daily`. Each field is `*`, a value, a range `a-b` or a list of them, each optionally with a
/// step `/n`; months and weekdays may be named (`jan`, `mon-fri`); the day of month may be `l`
/// (the last day) and the day of week `d#n` (the n-th weekday d of the month) or `ld` (the last
/// one); `?` stands for `*` in either day field. Case does not matter.
///
/// This accepts a subset of what croniter accepts (not its `H`/`R` hash and random fields, nor
/// a few lenient corners such as `0-5` for the day of month), so that nothing accepted here can
/// fail when the app starts.
pub fn cron(value: &str) -> Result<(), String> {
    let expr = value.trim().to_ascii_lowercase();
    let invalid = |why: String| {
        Err(format!(
            "{} is not a valid cron expression: {why}",
            shown(value)
        ))
    };
    if expr.starts_with('@') {
        if CRON_ALIASES.contains(&expr.as_str()) {
            return Ok(());
        }
        return invalid(format!(
            "unknown alias; accepted: {}",
            CRON_ALIASES.join(", ")
        ));
    }
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if !(5..=7).contains(&fields.len()) {
        return invalid(format!(
            "{} fields; write 5 (minute hour day-of-month month day-of-week), 6 (the same and \
             second) or 7 (and year), e.g. \"*/5 * * * *\", or an alias such as \"@daily\"",
            fields.len()
        ));
    }
    for (i, field) in fields.iter().enumerate() {
        if let Err(why) = cron_field(i, field, fields.len()) {
            return invalid(why);
        }
    }
    Ok(())
}

fn cron_field(index: usize, text: &str, field_count: usize) -> Result<(), String> {
    let spec = &CRON_FIELDS[index];
    let name = spec.name;
    if text == "?" {
        return if index == DAY_OF_MONTH || index == DAY_OF_WEEK {
            Ok(())
        } else {
            Err(format!(
                "'?' is only allowed in the day fields, not in the {name}"
            ))
        };
    }
    // croniter maps weekday 7 to Sunday only in the 5-field form.
    let max = if index == DAY_OF_WEEK && field_count > 5 {
        6
    } else {
        spec.max
    };
    let value = |v: &str| -> Result<u32, String> {
        if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            let n = v.trim_start_matches('0').parse::<u32>().unwrap_or(0);
            if (spec.min..=max).contains(&n) {
                return Ok(n);
            }
            return Err(format!("{name} {v} is out of range {}-{max}", spec.min));
        }
        if let Some(i) = spec.names.iter().position(|n| *n == v) {
            return Ok(u32::try_from(i).unwrap_or(0) + spec.min);
        }
        let named = if spec.names.is_empty() {
            String::new()
        } else {
            format!(" or a name ({})", spec.names.join(", "))
        };
        Err(format!(
            "{name} {v:?} is not a number from {}-{max}{named}",
            spec.min
        ))
    };
    let (mut nth, mut plain) = (false, false);
    for item in text.split(',') {
        if item.is_empty() {
            return Err(format!("empty item in the {name} list {text:?}"));
        }
        if index == DAY_OF_MONTH && item == "l" {
            continue;
        }
        if index == DAY_OF_WEEK {
            if let Some((day, n)) = item.split_once('#') {
                value(day)?;
                if !matches!(n, "1" | "2" | "3" | "4" | "5") {
                    return Err(format!("{item:?}: the week after '#' must be 1 to 5"));
                }
                nth = true;
                continue;
            }
            if let Some(day) = item.strip_prefix('l') {
                value(day)?;
                nth = true;
                continue;
            }
        }
        plain = true;
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => (base, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step {
            let positive = !step.is_empty()
                && step.bytes().all(|b| b.is_ascii_digit())
                && step.trim_start_matches('0').parse::<u32>().is_ok();
            if !positive {
                return Err(format!(
                    "{item:?}: the step after '/' must be a positive number"
                ));
            }
        }
        if base == "*" {
            continue;
        }
        match base.split_once('-') {
            Some((low, high)) => {
                value(low)?;
                value(high)?;
            }
            None => {
                value(base)?;
            }
        }
    }
    if nth && plain {
        return Err(format!(
            "the day of week {text:?} mixes '#'/'l' items with plain days, which croniter refuses"
        ));
    }
    Ok(())
}

/// `[jJ][aA][nN]`: a word in either case (the API server's patterns have no case flag here).
fn any_case(word: &str) -> String {
    word.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The RE2 pattern the API server checks cron expressions with: the shape [`cron`] accepts, with
/// each field's numbers in range. It does not see the few rules that span items of a field
/// (mixing `#` with plain weekdays, weekday 7 in the 6- and 7-field forms); [`cron`] does.
pub fn cron_pattern() -> String {
    let names = |list: &[&str]| {
        list.iter()
            .map(|n| any_case(n))
            .collect::<Vec<_>>()
            .join("|")
    };
    let minute = "0*[1-5]?[0-9]";
    let hour = "0*(1?[0-9]|2[0-3])";
    let dom = "0*([1-9]|[12][0-9]|3[01])";
    let month = format!("0*([1-9]|1[0-2])|{}", names(MONTHS));
    let dow = format!("0*[0-7]|{}", names(WEEKDAYS));
    let year = "0*(19[7-9][0-9]|20[0-9][0-9])";
    let step = "(/0*[1-9][0-9]*)?";
    let list = |value: &str, extra: &str| {
        let item = format!("(\\*|({value})(-({value}))?){step}{extra}");
        format!("({item})(,({item}))*")
    };
    let l = any_case("l");
    let fields = [
        list(minute, ""),
        list(hour, ""),
        format!("(\\?|{})", list(dom, &format!("|{l}"))),
        list(&month, ""),
        format!(
            "(\\?|{})",
            list(&dow, &format!("|({dow})#[1-5]|{l}({dow})"))
        ),
        list(minute, ""),
        list(year, ""),
    ];
    let aliases = CRON_ALIASES
        .iter()
        .map(|a| any_case(a))
        .collect::<Vec<_>>()
        .join("|");
    format!(
        "^\\s*({aliases}|{}\\s+{}\\s+{}\\s+{}\\s+{}(\\s+{}(\\s+{})?)?)\\s*$",
        fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6]
    )
}
