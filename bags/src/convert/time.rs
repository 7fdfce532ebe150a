//! `builtin_interfaces/Time` and `Duration` ↔ seconds (`f64`) and
//! nanoseconds (`u64`, as rosbag2 and MCAP stamp messages).
//!
//! ROS keeps `sec` in an `int32`, so stamps after 2038-01-19 cannot be
//! represented; converting one is an error, not a wrap-around.

use crate::msg::builtin_interfaces::{Duration, Time};
use crate::{Error, Result};

const NANOS_PER_SEC: u64 = 1_000_000_000;

macro_rules! seconds_conversions {
    ($ty:ident, $what:literal) => {
        impl $ty {
            #[doc = concat!("The ", $what, " in seconds (`sec + nanosec·1e-9`).")]
            pub fn as_secs_f64(&self) -> f64 {
                f64::from(self.sec) + f64::from(self.nanosec) * 1e-9
            }

            #[doc = concat!("The ", $what, " nearest to `seconds` (to the nanosecond; an `f64` near")]
            /// 1.7e9 s resolves ≈ 0.24 µs). Non-finite values and values beyond
            /// the `int32` seconds range are errors.
            pub fn from_secs_f64(seconds: f64) -> Result<Self> {
                let (sec, nanosec) = split_seconds(seconds, $what)?;
                Ok($ty { sec, nanosec })
            }

            #[doc = concat!("The ", $what, " in nanoseconds; an error when negative.")]
            pub fn to_nanos(&self) -> Result<u64> {
                let total = i128::from(self.sec) * i128::from(NANOS_PER_SEC) + i128::from(self.nanosec);
                u64::try_from(total).map_err(|_| {
                    Error::Convert(format!(
                        "{} {} s is negative; unsigned nanoseconds cannot hold it",
                        $what,
                        self.as_secs_f64()
                    ))
                })
            }

            #[doc = concat!("The ", $what, " of `nanos` nanoseconds; an error beyond 2³¹ − 1 seconds.")]
            pub fn from_nanos(nanos: u64) -> Result<Self> {
                let sec = i32::try_from(nanos / NANOS_PER_SEC).map_err(|_| {
                    Error::Convert(format!(
                        "{} {nanos} ns is beyond the int32 seconds of builtin_interfaces (year 2038)",
                        $what
                    ))
                })?;
                // The remainder is below 1e9, so it fits a u32.
                Ok($ty { sec, nanosec: (nanos % NANOS_PER_SEC) as u32 })
            }
        }
    };
}

seconds_conversions!(Time, "time");
seconds_conversions!(Duration, "duration");

/// `seconds` as whole seconds (floored) and nanoseconds in `[0, 1e9)`.
fn split_seconds(seconds: f64, what: &str) -> Result<(i32, u32)> {
    if !seconds.is_finite() {
        return Err(Error::Convert(format!("{what} {seconds} s is not a finite number")));
    }
    let mut whole = seconds.floor();
    // Exact for seconds ≥ 0 (Sterbenz: whole is within a factor 2 of seconds, or 0).
    let mut nanos = ((seconds - whole) * 1e9).round();
    if nanos >= 1e9 {
        whole += 1.0;
        nanos -= 1e9;
    }
    if whole < f64::from(i32::MIN) || whole > f64::from(i32::MAX) {
        return Err(Error::Convert(format!(
            "{what} {seconds} s is beyond the int32 seconds of builtin_interfaces (year 2038)"
        )));
    }
    Ok((whole as i32, nanos as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_trip_to_the_nanosecond() {
        let t = Time::from_secs_f64(1305031102.175304).expect("in range");
        assert_eq!(t.sec, 1305031102);
        assert!((i64::from(t.nanosec) - 175_304_000).abs() < 300, "{t:?}");
        assert!((t.as_secs_f64() - 1305031102.175304).abs() < 1e-6);
        assert_eq!(Time::from_secs_f64(2.0 - 1e-12).expect("in range"), Time { sec: 2, nanosec: 0 });
    }

    #[test]
    fn negative_seconds_floor() {
        assert_eq!(Duration::from_secs_f64(-1.7).expect("in range"), Duration { sec: -2, nanosec: 300_000_000 });
        assert!((Duration { sec: -2, nanosec: 300_000_000 }.as_secs_f64() + 1.7).abs() < 1e-12);
    }

    #[test]
    fn nanoseconds_round_trip_exactly() {
        let nanos = 1_700_000_000_123_456_789;
        let t = Time::from_nanos(nanos).expect("before 2038");
        assert_eq!(t, Time { sec: 1_700_000_000, nanosec: 123_456_789 });
        assert_eq!(t.to_nanos().expect("positive"), nanos);
    }

    #[test]
    fn out_of_range_is_an_error() {
        assert!(Time::from_nanos(u64::MAX).expect_err("2038").to_string().contains("2038"));
        assert!(Time { sec: -1, nanosec: 0 }.to_nanos().expect_err("negative").to_string().contains("negative"));
        assert!(Time::from_secs_f64(f64::NAN).is_err());
        assert!(Time::from_secs_f64(3e9).is_err());
    }
}
