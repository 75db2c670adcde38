// SPDX-License-Identifier: GPL-2.0
//! IGT's output: the verdict of each subtest.

use std::collections::BTreeMap;

/// IGT's verdicts, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Pass,
    Skip,
    Fail,
    Crash,
    Timeout,
}

impl Verdict {
    fn parse(s: &str) -> Option<Verdict> {
        Some(match s {
            "SUCCESS" => Verdict::Pass,
            "SKIP" => Verdict::Skip,
            "FAIL" => Verdict::Fail,
            "CRASH" => Verdict::Crash,
            "TIMEOUT" => Verdict::Timeout,
            _ => return None,
        })
    }

    fn from_exit(rc: i32) -> Verdict {
        // IGT's exit codes: 0 success, 77 skip, 98 failure; the guest's `timeout` exits 124,
        // or 137 once it had to kill.
        match rc {
            0 => Verdict::Pass,
            77 => Verdict::Skip,
            124 | 137 => Verdict::Timeout,
            98 => Verdict::Fail,
            _ => Verdict::Crash,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Skip => "skip",
            Verdict::Fail => "fail",
            Verdict::Crash => "crash",
            Verdict::Timeout => "timeout",
        }
    }

    pub fn bad(self) -> bool {
        self >= Verdict::Fail
    }
}

/// Subtest (or `""` for a test without subtests) to verdict.
pub type Outcome = BTreeMap<String, Verdict>;

/// Parses one test's output: `Subtest X: VERDICT`, `Dynamic subtest Y: VERDICT` (recorded as
/// `X@Y`), a subtest started but never ended (the test was killed: a timeout), and the exit
/// status for a test without subtests.
pub fn parse_output(lines: &[String], rc: i32) -> Outcome {
    let mut out = Outcome::new();
    let mut current: Option<String> = None;
    let mut dynamic: Option<String> = None;
    for l in lines {
        let l = l.trim();
        if let Some(name) = l.strip_prefix("Starting subtest: ") {
            current = Some(name.trim().to_string());
            dynamic = None;
        } else if let Some(name) = l.strip_prefix("Starting dynamic subtest: ") {
            dynamic = Some(name.trim().to_string());
        } else if let Some(rest) = l.strip_prefix("Dynamic subtest ") {
            if let Some((name, v)) = verdict_of(rest) {
                let parent = current.clone().unwrap_or_default();
                out.insert(format!("{parent}@{name}"), v);
                dynamic = None;
            }
        } else if let Some(rest) = l.strip_prefix("Subtest ") {
            if let Some((name, v)) = verdict_of(rest) {
                out.insert(name, v);
                current = None;
                dynamic = None;
            }
        }
    }
    let exit = Verdict::from_exit(rc);
    if let Some(cur) = current {
        // Killed or crashed in the middle of a subtest.
        let name = match dynamic {
            Some(d) => format!("{cur}@{d}"),
            None => cur,
        };
        out.insert(name, exit.max(Verdict::Crash));
    }
    if out.is_empty() {
        out.insert(String::new(), exit);
    }
    out
}

/// `NAME: VERDICT (1.234s)` into its parts.
fn verdict_of(rest: &str) -> Option<(String, Verdict)> {
    let (name, v) = rest.rsplit_once(": ")?;
    let word = v.split_whitespace().next()?;
    Some((name.trim().to_string(), Verdict::parse(word)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(String::from).collect()
    }

    #[test]
    fn parses_subtests_dynamic_and_timeouts() {
        let o = parse_output(
            &lines(
                "Starting subtest: a\nSubtest a: SUCCESS (0.1s)\nStarting subtest: b\n\
                 Starting dynamic subtest: pipe-A\nDynamic subtest pipe-A: FAIL (1.0s)\n\
                 Subtest b: FAIL (1.0s)\nStarting subtest: c\n",
            ),
            137,
        );
        assert_eq!(o["a"], Verdict::Pass);
        assert_eq!(o["b"], Verdict::Fail);
        assert_eq!(o["b@pipe-A"], Verdict::Fail);
        assert_eq!(o["c"], Verdict::Timeout);
    }

    #[test]
    fn whole_test_from_exit_status() {
        assert_eq!(parse_output(&[], 0)[""], Verdict::Pass);
        assert_eq!(parse_output(&[], 77)[""], Verdict::Skip);
        assert_eq!(parse_output(&[], 98)[""], Verdict::Fail);
    }
}
