//! Small helpers shared by the parsers: numbers with errors that say what was expected.
use crate::source::ParseError;

/// Parses a decimal unsigned integer field; `what` names it in the error.
pub fn u64_at(s: &str, line: usize, what: &str) -> Result<u64, ParseError> {
    s.parse::<u64>().map_err(|_| {
        ParseError::new(
            line,
            format!("expected an unsigned integer for {what}, found {s:?}"),
        )
    })
}

/// Parses a decimal signed integer field.
pub fn i64_at(s: &str, line: usize, what: &str) -> Result<i64, ParseError> {
    s.parse::<i64>()
        .map_err(|_| ParseError::new(line, format!("expected an integer for {what}, found {s:?}")))
}

/// Parses a floating-point field (also accepts integers).
pub fn f64_at(s: &str, line: usize, what: &str) -> Result<f64, ParseError> {
    s.parse::<f64>()
        .map_err(|_| ParseError::new(line, format!("expected a number for {what}, found {s:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_errors() {
        assert_eq!(u64_at("18446744073709551615", 1, "x"), Ok(u64::MAX));
        assert_eq!(i64_at("-5", 1, "x"), Ok(-5));
        assert_eq!(f64_at("0.25", 1, "x"), Ok(0.25));
        let e = u64_at("-1", 3, "reads completed").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 3: expected an unsigned integer for reads completed, found \"-1\""
        );
        assert!(u64_at("18446744073709551616", 1, "x").is_err());
        assert!(f64_at("", 1, "x").is_err());
    }
}
