// SPDX-License-Identifier: GPL-2.0
//! Verdicts of rbochs against C bochs: which failures are rbochs's, the result lines and the
//! markdown report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::anyhow;

use super::parse::{Outcome, Verdict};
use crate::suite::Report;

/// Subtests rbochs passes by design where C bochs fails (README.md says why): rbochs failing
/// one is a failure even though C bochs fails it too.
pub const RBOCHS_PASSES: &[(&str, &str)] = &[
    // Modes too fast for the vblank timer, or overflowing the refresh rate: refused.
    ("kms_invalid_mode", "int-max-clock"),
    ("kms_invalid_mode", "overflow-vrefresh"),
    // An ARGB8888 framebuffer (a cursor image) before the test looks at the planes.
    ("kms_rmfb", "rmfb-ioctl"),
    ("kms_rmfb", "close-fd"),
    // The CRTC turned off with the framebuffer left on the plane.
    ("kms_atomic_transition", "modeset-transition"),
    // The CRTC lit with its only plane off (black).
    ("kms_atomic_transition", "plane-all-transition"),
    ("kms_atomic_transition", "plane-all-transition-nonblocking"),
    ("kms_atomic_transition", "plane-all-modeset-transition"),
    ("kms_atomic_transition", "plane-toggle-modeset-transition"),
    ("kms_concurrent", "multi-plane-atomic-lowres"),
];

/// The subtests of `test` that rbochs must mend: those that fail on rbochs but not on C
/// bochs, and those of [`RBOCHS_PASSES`] that rbochs does not pass; labelled with the verdict.
pub fn only_ours(
    ours: &BTreeMap<String, Outcome>,
    reference: &BTreeMap<String, Outcome>,
    test: &str,
) -> Vec<String> {
    let empty = Outcome::new();
    let o = ours.get(test).unwrap_or(&empty);
    let r = reference.get(test).unwrap_or(&empty);
    let mut v: Vec<String> = o
        .iter()
        .filter(|(s, v)| v.bad() && !r.get(s.as_str()).is_some_and(|v| v.bad()))
        .map(|(s, v)| label(s, *v))
        .collect();
    if !o.is_empty() {
        for (_, sub) in RBOCHS_PASSES.iter().filter(|(t, _)| *t == test) {
            match o.get(*sub) {
                Some(Verdict::Pass) => {}
                Some(w) if w.bad() && !r.get(*sub).is_some_and(|v| v.bad()) => {}
                Some(w) => v.push(format!("{sub} ({}, must pass)", w.word())),
                None => v.push(format!("{sub} (did not run, must pass)")),
            }
        }
    }
    v
}

/// One PASS/FAIL/SKIP line per test for each driver. A failing subtest of rbochs that also
/// fails on C bochs is a skip ("also fails on C bochs"); one only rbochs fails is a failure.
/// C bochs's own failures are the reference's, recorded as skips.
pub fn record(
    ours: &BTreeMap<String, Outcome>,
    reference: &BTreeMap<String, Outcome>,
    rep_ours: &mut Report,
    rep_ref: &mut Report,
) {
    for (test, o) in ours {
        let bad: Vec<&String> = o.iter().filter(|(_, v)| v.bad()).map(|(s, _)| s).collect();
        let only_ours = only_ours(ours, reference, test);
        if !only_ours.is_empty() {
            rep_ours.record(
                test,
                Err(anyhow!(
                    "only rbochs fails, or fails what it must pass: {}",
                    only_ours.join(", ")
                )),
            );
        } else if !bad.is_empty() {
            let l: Vec<String> = bad.iter().map(|s| label(s, o[s.as_str()])).collect();
            rep_ours.skip(test, &format!("also fails on C bochs: {}", l.join(", ")));
        } else if o.values().all(|v| *v == Verdict::Skip) {
            rep_ours.skip(test, "IGT skipped every subtest");
        } else {
            rep_ours.record(test, Ok(()));
        }
    }
    for (test, o) in reference {
        let bad: Vec<String> = o
            .iter()
            .filter(|(_, v)| v.bad())
            .map(|(s, v)| label(s, *v))
            .collect();
        if !bad.is_empty() {
            rep_ref.skip(test, &format!("the reference fails: {}", bad.join(", ")));
        } else if o.values().all(|v| *v == Verdict::Skip) {
            rep_ref.skip(test, "IGT skipped every subtest");
        } else {
            rep_ref.record(test, Ok(()));
        }
    }
}

fn label(sub: &str, v: Verdict) -> String {
    if sub.is_empty() {
        v.word().to_string()
    } else {
        format!("{sub} ({})", v.word())
    }
}

/// Counts of each verdict, as "3 pass, 1 skip".
fn counts(o: &Outcome) -> String {
    let mut c: BTreeMap<Verdict, usize> = BTreeMap::new();
    for v in o.values() {
        *c.entry(*v).or_default() += 1;
    }
    c.iter()
        .map(|(v, n)| format!("{n} {}", v.word()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The markdown report: one row per test with both drivers' counts, then one row per subtest
/// where the drivers differ or either fails.
pub fn markdown(
    ours: &BTreeMap<String, Outcome>,
    reference: &BTreeMap<String, Outcome>,
    header: &str,
) -> String {
    let empty = Outcome::new();
    let mut s = String::new();
    let _ = writeln!(s, "{header}\n");
    let _ = writeln!(s, "| test | rbochs | C bochs |\n| --- | --- | --- |");
    let mut names: Vec<&String> = ours.keys().chain(reference.keys()).collect();
    names.sort();
    names.dedup();
    for n in &names {
        let a = ours.get(*n).unwrap_or(&empty);
        let b = reference.get(*n).unwrap_or(&empty);
        let _ = writeln!(s, "| {n} | {} | {} |", counts(a), counts(b));
    }
    let _ = writeln!(
        s,
        "\nSubtests where the drivers differ or either fails:\n\n| test | subtest | rbochs | C bochs |\n| --- | --- | --- | --- |"
    );
    let mut any = false;
    for n in &names {
        let a = ours.get(*n).unwrap_or(&empty);
        let b = reference.get(*n).unwrap_or(&empty);
        let mut subs: Vec<&String> = a.keys().chain(b.keys()).collect();
        subs.sort();
        subs.dedup();
        for sub in subs {
            let va = a.get(sub).copied();
            let vb = b.get(sub).copied();
            if va != vb || va.is_some_and(Verdict::bad) || vb.is_some_and(Verdict::bad) {
                any = true;
                let w = |v: Option<Verdict>| v.map_or("-", Verdict::word);
                let sub = if sub.is_empty() { "(whole test)" } else { sub };
                let _ = writeln!(s, "| {n} | {sub} | {} | {} |", w(va), w(vb));
            }
        }
    }
    if !any {
        let _ = writeln!(s, "| (none) | | | |");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_failures_are_skips() {
        let mut ours = BTreeMap::new();
        let mut reference = BTreeMap::new();
        let mk = |v: &[(&str, Verdict)]| -> Outcome {
            v.iter().map(|(s, v)| (s.to_string(), *v)).collect()
        };
        ours.insert(
            "x".into(),
            mk(&[("a", Verdict::Fail), ("b", Verdict::Pass)]),
        );
        reference.insert(
            "x".into(),
            mk(&[("a", Verdict::Fail), ("b", Verdict::Pass)]),
        );
        ours.insert("y".into(), mk(&[("a", Verdict::Crash)]));
        reference.insert("y".into(), mk(&[("a", Verdict::Pass)]));
        let mut r1 = Report::new("o");
        let mut r2 = Report::new("r");
        record(&ours, &reference, &mut r1, &mut r2);
        assert!(r1.lines[0].starts_with("SKIP o.x: also fails on C bochs"));
        assert!(r1.lines[1]
            .starts_with("FAIL o.y: only rbochs fails, or fails what it must pass: a (crash)"));
        assert_eq!(r1.failed, 1);
        assert!(r2.lines[0].starts_with("SKIP r.x: the reference fails"));
        assert_eq!(r2.lines[1], "PASS r.y");
    }

    #[test]
    fn rbochs_must_pass_what_it_passes_by_design() {
        let test = RBOCHS_PASSES[0].0;
        let subs: Vec<&str> = RBOCHS_PASSES
            .iter()
            .filter(|(t, _)| *t == test)
            .map(|(_, s)| *s)
            .collect();
        let mk = |v: Verdict| -> BTreeMap<String, Outcome> {
            let o = subs.iter().map(|s| (s.to_string(), v)).collect();
            [(test.to_string(), o)].into_iter().collect()
        };
        let want = |w: &str| -> Vec<String> {
            subs.iter()
                .map(|s| format!("{s} ({w}, must pass)"))
                .collect()
        };
        let reference = mk(Verdict::Fail);
        // Failing them together with C bochs is not a shared failure here.
        assert_eq!(
            only_ours(&mk(Verdict::Fail), &reference, test),
            want("fail")
        );
        assert_eq!(
            only_ours(&mk(Verdict::Skip), &reference, test),
            want("skip")
        );
        assert!(only_ours(&mk(Verdict::Pass), &reference, test).is_empty());
        // A test that ran without one of them (it crashed first, or the selection changed).
        let mut partial = mk(Verdict::Pass);
        partial.get_mut(test).unwrap().remove(subs[0]);
        assert_eq!(
            only_ours(&partial, &reference, test),
            [format!("{} (did not run, must pass)", subs[0])]
        );
        let mut r1 = Report::new("o");
        let mut r2 = Report::new("r");
        record(&mk(Verdict::Fail), &reference, &mut r1, &mut r2);
        assert_eq!(r1.failed, 1);
        // A test that did not run at all is not checked.
        assert!(only_ours(&BTreeMap::new(), &reference, test).is_empty());
    }
}
