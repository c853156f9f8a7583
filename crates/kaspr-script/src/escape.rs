//! The askama escaper for `.sh` templates: every interpolated value becomes one shell word.
//!
//! The templates only interpolate validated numbers, enums and the operator's own paths, so this
//! is a second line of defence: even a path with spaces, quotes or `$(...)` stays inert text.

use std::fmt;

/// Shell-quotes with `shlex` (single quotes, `'` written as `'"'"'`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Shell;

impl askama::filters::Escaper for Shell {
    fn write_escaped_str<W: fmt::Write>(&self, mut fmt: W, string: &str) -> fmt::Result {
        // A NUL byte cannot be represented in a shell word at all; refuse to render.
        let quoted = shlex::try_quote(string).map_err(|_| fmt::Error)?;
        fmt.write_str(&quoted)
    }
}

#[cfg(test)]
mod tests {
    use askama::filters::Escaper;

    use super::Shell;

    fn quote(s: &str) -> String {
        let mut out = String::new();
        Shell.write_escaped_str(&mut out, s).expect("quotable");
        out
    }

    #[test]
    fn plain_words_stay_readable() {
        assert_eq!(quote("/packages"), "/packages");
        assert_eq!(quote("600"), "600");
    }

    #[test]
    fn anything_else_is_one_inert_word() {
        for s in ["a b", "$(touch /tmp/x)", "`id`", "it's", "a;b", "x\ny", ""] {
            let q = quote(s);
            let words = shlex::split(&q).expect("splits");
            assert_eq!(words, [s], "{s:?} quoted as {q}");
        }
    }

    #[test]
    fn nul_is_refused() {
        let mut out = String::new();
        assert!(Shell.write_escaped_str(&mut out, "a\0b").is_err());
    }
}
