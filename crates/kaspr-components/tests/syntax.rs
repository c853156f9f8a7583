//! The syntax checks of single values, and their agreement with the patterns the CRD gives the
//! API server: what a check accepts its pattern accepts, so `render` never passes what the API
//! server refuses; where the pattern is looser, the difference is listed here.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kaspr_components::validate::{patterns, syntax};
use kaspr_test_support::schema::pattern_matches;

/// Cron expressions croniter (and so the Kaspr runtime) accepts, in the forms users write.
const GOOD_CRONS: &[&str] = &[
    "* * * * *",
    "*/5 * * * *",
    "0 * * * *",
    "0 0 * * *",
    "30 2 * * 1-5",
    "0 9-17/2 * * mon-fri",
    "0 0 1 * *",
    "0 0 1 jan *",
    "0 0 1 JAN,Jul *",
    "15 10 * * 7",
    "0 0 l * *",
    "0 0 L * ?",
    "0 0 ? * 5#3",
    "0 0 * * fri#2,mon#1",
    "0 0 * * l5",
    "0 0 * * L0",
    "5,10,15-20 * * * *",
    "0 22 * * fri-mon",
    "00 05 01 01 00",
    "* * * * * */15",
    "0 0 * * * 30",
    "0 0 1 1 * 0 2030",
    "0 12 * * * 0 2025-2030",
    "  */5 * * * *  ",
    "*/5\t*\t*\t*\t*",
    "@hourly",
    "@daily",
    "@midnight",
    "@weekly",
    "@monthly",
    "@yearly",
    "@annually",
    "@Daily",
    "5/10 * * * *",
];

/// Expressions croniter 7.0 refuses, with a word of the message; and one it accepts that older
/// croniter versions refuse (weekday 7 in the 6- and 7-field forms), refused to be safe.
/// (Checked against croniter 7.0's `is_valid`, and on 30,000 generated expressions: `cron`
/// accepted none croniter refuses.)
const BAD_CRONS: &[(&str, &str)] = &[
    ("", "0 fields"),
    ("every 5 minutes", "3 fields"),
    ("* * * *", "4 fields"),
    ("* * * * * * * *", "8 fields"),
    ("61 * * * *", "minute 61 is out of range 0-59"),
    ("* 24 * * *", "hour 24"),
    ("* * 0 * *", "day of month 0"),
    ("* * 32 * *", "day of month 32"),
    ("* * * 13 *", "month 13"),
    ("* * * 0 *", "month 0"),
    ("* * * * 8", "day of week 8"),
    ("* * * * * * 1969", "year 1969"),
    ("* * * * * 60", "second 60"),
    ("0 0 1 foo *", "\"foo\" is not a number"),
    ("0 0 * * funday", "\"funday\""),
    ("*/0 * * * *", "step"),
    ("*/ * * * *", "step"),
    ("*/-1 * * * *", "step"),
    ("1,,2 * * * *", "empty item"),
    ("-1 * * * *", "not a number"),
    ("? * * * *", "'?' is only allowed in the day fields"),
    ("0 0 * * 5#6", "1 to 5"),
    ("0 0 * * 1,5#2", "mixes"),
    ("0 0 * * 7 0", "day of week 7 is out of range 0-6"),
    ("@fortnightly", "unknown alias"),
    ("@reboot", "unknown alias"),
    ("H * * * *", "\"h\""),
    ("0 0 W * *", "\"w\""),
    ("1.5 * * * *", "\"1.5\""),
];

#[test]
fn cron_accepts_what_croniter_accepts() {
    for cron in GOOD_CRONS {
        syntax::cron(cron).unwrap_or_else(|e| panic!("{cron:?}: {e}"));
    }
}

#[test]
fn cron_refuses_with_the_reason() {
    for (cron, reason) in BAD_CRONS {
        let e = syntax::cron(cron).expect_err(cron);
        assert!(e.contains(reason), "{cron:?}: {e}");
        assert!(
            e.contains("is not a valid cron expression"),
            "{cron:?}: {e}"
        );
    }
}

/// The API server's pattern accepts every expression `cron` accepts, and refuses the bad ones
/// but those whose fault only spans items (`cron` still refuses them, offline and in the
/// operator).
#[test]
fn cron_pattern_agrees_with_the_check() {
    let pattern = syntax::cron_pattern();
    for cron in GOOD_CRONS {
        assert!(pattern_matches(&pattern, cron), "pattern refuses {cron:?}");
    }
    let pattern_only_sees_fields = ["0 0 * * 1,5#2", "0 0 * * 7 0"];
    for (cron, _) in BAD_CRONS {
        assert_eq!(
            pattern_matches(&pattern, cron),
            pattern_only_sees_fields.contains(cron),
            "{cron:?}"
        );
    }
}

#[test]
fn durations() {
    for (text, seconds) in [
        ("10s", 10),
        ("5m", 300),
        ("1h", 3600),
        ("2d", 172_800),
        ("007s", 7),
    ] {
        assert_eq!(syntax::duration(text), Ok(seconds), "{text}");
        assert!(pattern_matches(patterns::DURATION, text), "{text}");
    }
    for bad in [
        "10", "s", "0s", "00m", "1.5h", "10 s", " 10s", "10S", "10ms", "1w", "-1s", "+1s", "１s",
    ] {
        assert!(syntax::duration(bad).is_err(), "{bad}");
        assert!(!pattern_matches(patterns::DURATION, bad), "{bad}");
    }
    // Longer than Python's timedelta holds: the pattern cannot see it, the check can.
    let huge = "99999999999999999999d";
    assert!(syntax::duration(huge).expect_err(huge).contains("too long"));
    assert!(syntax::duration("1000000000d").is_err());
    assert_eq!(syntax::duration("999999999d"), Ok(999_999_999 * 86_400));
}

#[test]
fn window_lengths() {
    for (value, seconds) in [
        (IntOrString::Int(30), 30),
        (IntOrString::String("30".into()), 30),
        (IntOrString::String("30s".into()), 30),
        (IntOrString::String("2m".into()), 120),
        (IntOrString::String("1d".into()), 86_400),
    ] {
        assert_eq!(syntax::window_length(&value), Ok(seconds), "{value:?}");
    }
    for bad in [
        IntOrString::Int(0),
        IntOrString::Int(-30),
        IntOrString::String("0".into()),
        IntOrString::String("".into()),
        IntOrString::String("30 s".into()),
        IntOrString::String("half a minute".into()),
    ] {
        assert!(syntax::window_length(&bad).is_err(), "{bad:?}");
        if let IntOrString::String(s) = &bad {
            assert!(!pattern_matches(patterns::WINDOW_LENGTH, s), "{s}");
        }
    }
}

#[test]
fn python_identifiers() {
    for good in ["f", "_f", "get_key", "F2", "match", "case", "type", "_"] {
        syntax::python_identifier(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        assert!(pattern_matches(patterns::PYTHON_IDENTIFIER, good), "{good}");
    }
    for bad in ["", "2f", "get-key", "get key", "f()", "é", "a.b"] {
        assert!(syntax::python_identifier(bad).is_err(), "{bad}");
        assert!(!pattern_matches(patterns::PYTHON_IDENTIFIER, bad), "{bad}");
    }
    for keyword in syntax::PYTHON_KEYWORDS {
        let e = syntax::python_identifier(keyword).expect_err(keyword);
        assert!(e.contains("Python keyword"), "{e}");
        // The pattern lets keywords through; a CEL rule refuses them.
        assert!(pattern_matches(patterns::PYTHON_IDENTIFIER, keyword));
        assert!(
            kaspr_components::validate::rules::PARAM_NOT_KEYWORD.contains(&format!("'{keyword}'")),
            "{keyword} is missing from the CEL rule"
        );
    }
}

#[test]
fn object_and_topic_names() {
    for good in ["orders", "user-profiles", "a.b-c", "t1"] {
        syntax::object_name(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        assert!(pattern_matches(patterns::DNS1123_SUBDOMAIN, good));
    }
    for bad in ["", "Orders", "user_profiles", "-a", "a-", "a..b", "a b"] {
        assert!(syntax::object_name(bad).is_err(), "{bad}");
        assert!(!pattern_matches(patterns::DNS1123_SUBDOMAIN, bad), "{bad}");
    }
    for good in ["raw-user-events", "Events.v1", "a_b", "__consumer"] {
        syntax::kafka_topic(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        assert!(pattern_matches(patterns::KAFKA_TOPIC, good));
    }
    for bad in ["", "raw events", "a/b", "é", "a:b"] {
        assert!(syntax::kafka_topic(bad).is_err(), "{bad}");
        assert!(!pattern_matches(patterns::KAFKA_TOPIC, bad), "{bad}");
    }
    // Kafka refuses these two names; the pattern cannot say so, the check can.
    assert!(syntax::kafka_topic(".").is_err() && syntax::kafka_topic("..").is_err());
}

#[test]
fn headers() {
    for good in ["Content-Type", "X-Cache", "x_y", "a!#$%&'*+.^_`|~"] {
        syntax::header_name(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        assert!(pattern_matches(patterns::HEADER_NAME, good));
    }
    for bad in ["", "X Cache", "X:Cache", "é", "a\nb"] {
        assert!(syntax::header_name(bad).is_err(), "{bad:?}");
        assert!(!pattern_matches(patterns::HEADER_NAME, bad), "{bad:?}");
    }
    assert!(syntax::header_value("a\r\nSet-Cookie: x").is_err());
    assert!(!pattern_matches(
        patterns::HEADER_VALUE,
        "a\r\nSet-Cookie: x"
    ));
    assert!(syntax::header_value("max-age=60, public").is_ok());
}

#[test]
fn python_code_must_not_be_blank() {
    for blank in ["", " ", "\n\t "] {
        assert!(!pattern_matches(patterns::NOT_BLANK, blank), "{blank:?}");
    }
    assert!(pattern_matches(patterns::NOT_BLANK, "  x = 1\n"));
}
