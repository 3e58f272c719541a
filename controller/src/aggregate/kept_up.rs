//! Why a layout's throughput fell short of the rate it was asked for, said as it happened. The
//! throughput counts successful responses only, so a layout whose answers were errors (a status
//! the plan does not expect, a `grpc-status` its call does not expect, a target answering 500)
//! reads short although every request went out on time and was answered: that is said as
//! delivered load with error answers, by kind and code. Only sends that went out late or never,
//! or requests never answered, make it "the target or the generator fell behind".

use crate::result::{ErrorKinds, LayoutResult};
use crate::trust::KEPT_UP;
use crate::units::{counted, thousands};

/// The reason for caution when `result`'s throughput is below [`KEPT_UP`] of `asked` req/s;
/// `None` when it kept up.
pub(super) fn shortfall(result: &LayoutResult, asked: f64) -> Option<String> {
    if result.throughput_rps >= asked * KEPT_UP {
        return None;
    }
    let kinds = &result.errors_by_kind;
    let error_answers = kinds.answered();
    // The answers came at the successes' pace and the error answers' over the window.
    let answered_rps = result.throughput_rps
        + if result.elapsed_s > 0.0 {
            error_answers as f64 / result.elapsed_s
        } else {
            0.0
        };
    let answered = result.requests + error_answers;
    let counted = result.requests + result.errors;
    let intended = result.delivery.map_or(counted, |d| d.intended.max(counted));
    let missing = intended - answered.min(intended);
    let late = result.counts.late_sends;
    let n = |v: u64| thousands(v as f64);
    let rate = |v: f64| thousands(v);
    let errors = error_kinds(result);
    if answered_rps >= asked * KEPT_UP {
        return Some(format!(
            "{} req/s of the {} req/s asked succeeded, yet the load was delivered: {} of the \
             window's {} requests were answered ({} req/s), {} of them with errors ({errors}); \
             the throughput counts successful responses only",
            rate(result.throughput_rps),
            rate(asked),
            n(answered),
            n(intended),
            rate(answered_rps),
            n(error_answers),
        ));
    }
    let mut what = Vec::new();
    if late > 0 {
        what.push(format!("{} sends went out late", n(late)));
    }
    if missing > 0 {
        what.push(format!(
            "{} of the window's {} requests were never answered ({})",
            n(missing),
            n(intended),
            unanswered(result, missing)
        ));
    }
    let mut text = if what.is_empty() {
        format!(
            "achieved {} req/s of the {} req/s asked, though no send was late and every request \
             of the window was answered",
            rate(result.throughput_rps),
            rate(asked)
        )
    } else {
        format!(
            "achieved {} req/s of the {} req/s asked: the target or the generator fell behind: {}",
            rate(result.throughput_rps),
            rate(asked),
            what.join(", and ")
        )
    };
    if error_answers > 0 {
        text.push_str(&format!(
            "; {} answers were errors ({errors})",
            n(error_answers)
        ));
    }
    Some(text)
}

/// `12,000 an unexpected HTTP status (statuses 200 ×20,000, 404 ×12,000); 5 an unexpected
/// grpc-status (0 ×9,870, 5 ×5)`: the answers that were errors, by kind, with every code seen
/// (expected ones too: which codes a request expects is the plan's, per request).
fn error_kinds(result: &LayoutResult) -> String {
    let kinds = &result.errors_by_kind;
    let mut parts = Vec::new();
    if kinds.http_status > 0 {
        parts.push(format!(
            "{} an unexpected HTTP status; statuses {}",
            thousands(kinds.http_status as f64),
            counted(&result.status_codes)
        ));
    }
    if kinds.grpc_status > 0 {
        parts.push(format!(
            "{} an unexpected grpc-status; grpc-status {}",
            thousands(kinds.grpc_status as f64),
            counted(&result.grpc_status_codes)
        ));
    }
    parts.join("; ")
}

/// `timeout 200, unsent 1,000`: the unanswered requests by kind (in the reports' order); those the generator did not
/// count at all (its schedule did not run in full) as `not scheduled`.
fn unanswered(result: &LayoutResult, missing: u64) -> String {
    let mut kinds: Vec<(&str, u64)> = result
        .errors_by_kind
        .by_kind()
        .into_iter()
        .filter(|(kind, _)| !ErrorKinds::ANSWERED_KINDS.contains(kind))
        .collect();
    let counted: u64 = kinds.iter().map(|(_, n)| n).sum();
    kinds.push(("not scheduled", missing.saturating_sub(counted)));
    kinds
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(kind, n)| format!("{kind} {}", thousands(n as f64)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::shortfall;
    use crate::result::{Delivery, LayoutResult};

    /// The fixture's first layout as a window of 10 s with `successes` answered with success
    /// (status 200), then `edit` for its errors; its delivery counted from them.
    fn window(successes: u64, edit: impl FnOnce(&mut LayoutResult)) -> LayoutResult {
        let result: crate::result::RunResult =
            serde_json::from_str(include_str!("../../tests/fixtures/quickstart-result.json"))
                .expect("fixture");
        let mut l = result.layouts[0].clone();
        l.elapsed_s = 10.0;
        l.requests = successes;
        l.throughput_rps = successes as f64 / 10.0;
        l.counts.late_sends = 0;
        l.status_codes.clear();
        l.status_codes.insert("200".into(), successes);
        edit(&mut l);
        l.errors = l.errors_by_kind.total();
        l.delivery = Some(Delivery::of_window(
            l.requests + l.errors,
            l.requests + l.errors_by_kind.answered(),
            None,
            0.99,
        ));
        l
    }

    #[test]
    fn a_layout_that_kept_up_has_no_reason() {
        assert_eq!(shortfall(&window(10_000, |_| {}), 1_000.0), None);
    }

    #[test]
    fn deliberate_http_errors_are_delivered_load_not_a_generator_behind() {
        let l = window(4_000, |l| {
            l.errors_by_kind.http_status = 6_000;
            l.status_codes.insert("404".into(), 6_000);
        });
        let reason = shortfall(&l, 1_000.0).expect("short of the rate in successes");
        assert_eq!(
            reason,
            "400 req/s of the 1,000 req/s asked succeeded, yet the load was delivered: 10,000 of \
             the window's 10,000 requests were answered (1,000 req/s), 6,000 of them with errors \
             (6,000 an unexpected HTTP status; statuses 200 ×4,000, 404 ×6,000); the throughput \
             counts successful responses only"
        );
        assert!(!reason.contains("fell behind"));
    }

    #[test]
    fn a_target_answering_500_is_said_so() {
        let l = window(0, |l| {
            l.status_codes.clear();
            l.errors_by_kind.http_status = 10_000;
            l.status_codes.insert("500".into(), 10_000);
        });
        let reason = shortfall(&l, 1_000.0).expect("nothing succeeded");
        assert!(
            reason.starts_with(
                "0 req/s of the 1,000 req/s asked succeeded, yet the load was delivered: 10,000 of"
            ),
            "{reason}"
        );
        assert!(reason.contains("statuses 500 ×10,000"), "{reason}");
        assert!(!reason.contains("fell behind"), "{reason}");
    }

    #[test]
    fn expected_grpc_errors_name_the_grpc_status_codes() {
        let l = window(2_000, |l| {
            l.errors_by_kind.grpc_status = 8_000;
            l.grpc_status_codes.insert("0".into(), 2_000);
            l.grpc_status_codes.insert("5".into(), 8_000);
        });
        let reason = shortfall(&l, 1_000.0).expect("short in successes");
        assert!(
            reason.contains("8,000 of them with errors (8,000 an unexpected grpc-status; grpc-status 0 ×2,000, 5 ×8,000)"),
            "{reason}"
        );
        assert!(!reason.contains("fell behind"), "{reason}");
    }

    #[test]
    fn late_and_unsent_sends_fell_behind() {
        let l = window(8_000, |l| {
            l.counts.late_sends = 3_000;
            l.errors_by_kind.unsent = 2_000;
        });
        assert_eq!(
            shortfall(&l, 1_000.0).as_deref(),
            Some(
                "achieved 800 req/s of the 1,000 req/s asked: the target or the generator fell \
                 behind: 3,000 sends went out late, and 2,000 of the window's 10,000 requests \
                 were never answered (unsent 2,000)"
            )
        );
    }

    #[test]
    fn answers_missing_fell_behind_and_error_answers_are_named_beside() {
        let l = window(7_000, |l| {
            l.errors_by_kind.timeout = 2_000;
            l.errors_by_kind.http_status = 1_000;
            l.status_codes.insert("503".into(), 1_000);
        });
        let reason = shortfall(&l, 1_000.0).expect("short");
        assert_eq!(
            reason,
            "achieved 700 req/s of the 1,000 req/s asked: the target or the generator fell \
             behind: 2,000 of the window's 10,000 requests were never answered (timeout 2,000); \
             1,000 answers were errors (1,000 an unexpected HTTP status; statuses 200 ×7,000, \
             503 ×1,000)"
        );
    }

    #[test]
    fn a_schedule_that_did_not_run_in_full_is_requests_not_scheduled() {
        let mut l = window(8_000, |_| {});
        l.delivery = Some(Delivery::of_window(8_000, 8_000, Some(10_000), 0.99));
        let reason = shortfall(&l, 1_000.0).expect("short");
        assert!(
            reason.contains("fell behind: 2,000 of the window's 10,000 requests were never answered (not scheduled 2,000)"),
            "{reason}"
        );
    }
}
