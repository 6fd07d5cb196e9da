//! The `keep-trace-id-ratio` kernel: OpenTelemetry consistent probability
//! sampling (the TraceState `th`/`rv` specification).
//!
//! - Randomness `R` is the explicit `rv` of the `ot` trace-state entry when
//!   present, else the least-significant 56 bits of the trace id (W3C Trace
//!   Context Level 2).
//! - The rejection threshold `T` is `(1 - ratio) * 2^56`, rounded to the
//!   specification's recommended 4 significant hex digits (more for small
//!   ratios), so the `th` written downstream describes the decision made
//!   exactly.
//! - A record is kept when `R >= T`. Records without a trace id are kept.
//! - Kept spans get `ot=th:<T>` in their trace state when `T` is above the
//!   threshold they already carry (an equalizing downstream sampler never
//!   lowers a threshold), so downstream can compute the adjusted count
//!   `2^56 / (2^56 - T)`.

/// 2^56: thresholds and randomness are 56-bit.
pub const MAX_THRESHOLD: u64 = 1 << 56;

/// The rejection threshold of `ratio` (0 keeps all, [`MAX_THRESHOLD`]
/// keeps none). Ratios outside (0, 1] are clamped; NaN keeps none.
pub fn threshold(ratio: f64) -> u64 {
    if ratio.is_nan() || ratio <= 0.0 {
        return MAX_THRESHOLD;
    }
    if ratio >= 1.0 {
        return 0;
    }
    let scaled = (ratio * MAX_THRESHOLD as f64).round();
    if scaled < 1.0 {
        return MAX_THRESHOLD;
    }
    let exact = MAX_THRESHOLD - scaled as u64;
    // Precision: 4 hex digits, plus one per leading `f` the threshold of a
    // small ratio has (the frexp exponent of the ratio, as the spec's
    // reference algorithm).
    let exponent = ratio.log2().floor() as i64 + 1;
    let precision = (4 + (-exponent).max(0) / 4).clamp(1, 12) as u32;
    let unit = 1u64 << (4 * (14 - precision));
    let rounded = (exact + unit / 2) / unit * unit;
    rounded.min(MAX_THRESHOLD - unit)
}

/// The `th` value of a threshold: hex without trailing zeros, `0` for 0.
pub fn encode_threshold(t: u64) -> String {
    if t == 0 {
        return "0".to_string();
    }
    let s = format!("{t:014x}");
    s.trim_end_matches('0').to_string()
}

/// Parses a `th` value (1 to 14 hex digits, zero-padded on the right).
pub fn decode_threshold(th: &str) -> Option<u64> {
    if th.is_empty() || th.len() > 14 || !th.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let v = u64::from_str_radix(th, 16).ok()?;
    Some(v << (4 * (14 - th.len())))
}

/// The randomness of a trace id: its last 7 bytes, big-endian.
pub fn trace_randomness(trace_id: &[u8]) -> Option<u64> {
    let tail = trace_id.get(9..16)?;
    Some(tail.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

/// The value of the `ot` entry of a W3C trace state, if any.
fn ot_entry(trace_state: &str) -> Option<&str> {
    trace_state
        .split(',')
        .map(str::trim)
        .find_map(|e| e.strip_prefix("ot="))
}

/// The sub-key `key` of an `ot` value (`th:8;rv:...`).
fn ot_value<'a>(ot: &'a str, key: &str) -> Option<&'a str> {
    ot.split(';').find_map(|kv| {
        let (k, v) = kv.split_once(':')?;
        (k == key).then_some(v)
    })
}

/// The explicit randomness (`rv`) of a trace state.
pub fn explicit_randomness(trace_state: &str) -> Option<u64> {
    let rv = ot_value(ot_entry(trace_state)?, "rv")?;
    if rv.len() != 14 {
        return None;
    }
    u64::from_str_radix(rv, 16).ok()
}

/// The threshold (`th`) a trace state carries.
pub fn carried_threshold(trace_state: &str) -> Option<u64> {
    decode_threshold(ot_value(ot_entry(trace_state)?, "th")?)
}

/// `trace_state` with `th` set to `t`, the `ot` entry moved first (W3C:
/// a modified entry goes to the front). `None` when it already carries a
/// threshold of at least `t`.
pub fn with_threshold(trace_state: &str, t: u64) -> Option<String> {
    if carried_threshold(trace_state).is_some_and(|old| old >= t) {
        return None;
    }
    let th = format!("th:{}", encode_threshold(t));
    let mut ot = th.clone();
    if let Some(old) = ot_entry(trace_state) {
        let others: Vec<&str> = old
            .split(';')
            .filter(|kv| !kv.starts_with("th:") && !kv.is_empty())
            .collect();
        if !others.is_empty() {
            ot = format!("{th};{}", others.join(";"));
        }
    }
    let mut out = format!("ot={ot}");
    for e in trace_state.split(',').map(str::trim) {
        if !e.is_empty() && !e.starts_with("ot=") {
            out.push(',');
            out.push_str(e);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_match_the_specification_table() {
        // From the TraceState probability sampling specification, precision 4.
        for (ratio, th) in [
            (1.0, "0"),
            (0.5, "8"),
            (1.0 / 3.0, "aaab"),
            (0.25, "c"),
            (0.2, "cccd"),
            (0.125, "e"),
            (0.1, "e666"),
            (0.0625, "f"),
            (0.01, "fd70a"),
            (0.001, "ffbe77"),
            (0.0001, "fff9724"),
        ] {
            assert_eq!(encode_threshold(threshold(ratio)), th, "ratio {ratio}");
        }
        assert_eq!(threshold(0.0), MAX_THRESHOLD);
        assert_eq!(threshold(f64::NAN), MAX_THRESHOLD);
        assert_eq!(threshold(7.0), 0);
    }

    #[test]
    fn threshold_round_trips() {
        for ratio in [0.5, 0.1, 0.01, 0.3] {
            let t = threshold(ratio);
            assert_eq!(decode_threshold(&encode_threshold(t)), Some(t));
        }
    }

    #[test]
    fn randomness_is_the_last_seven_bytes() {
        let id = [0, 1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0, 0, 0, 0, 0, 1];
        assert_eq!(trace_randomness(&id), Some(0x00ff_0000_0000_0001));
        assert_eq!(trace_randomness(&id[..8]), None);
    }

    #[test]
    fn trace_state_updates() {
        assert_eq!(with_threshold("", 1 << 55).as_deref(), Some("ot=th:8"));
        assert_eq!(
            with_threshold("vendor=x,ot=rv:0123456789abcd", 1 << 55).as_deref(),
            Some("ot=th:8;rv:0123456789abcd,vendor=x")
        );
        // Never lowers a threshold.
        assert_eq!(with_threshold("ot=th:c", 1 << 55), None);
        assert_eq!(
            with_threshold("ot=th:4", 1 << 55).as_deref(),
            Some("ot=th:8")
        );
        assert_eq!(
            explicit_randomness("a=b, ot=th:8;rv:00000000000001"),
            Some(1)
        );
        assert_eq!(carried_threshold("ot=th:8"), Some(1 << 55));
    }
}
