//! Decimal text (`-12.50`, `1E+3`, `NaN`, `Infinity`) into numeric's binary format.

/// Appends the binary `numeric` form of decimal `text` to `out`.
///
/// Accepts what Python's `str(Decimal)` and PostgreSQL's `numeric_out` print: an optional
/// sign, digits with an optional point, an optional exponent, or `NaN` / `Infinity`. The
/// display scale is the number of digits after the point, so `1.500` keeps its three places.
pub fn numeric_from_str(text: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let bad = || format!("{text:?} is not a decimal number");
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    match body.to_ascii_lowercase().as_str() {
        "nan" => return Ok(header(out, 0, 0, 0xC000, 0)),
        "infinity" | "inf" => return Ok(header(out, 0, 0, if negative { 0xF000 } else { 0xD000 }, 0)),
        _ => {}
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], body[at + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (body, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty()) || !all_digits(int_part) || !all_digits(frac_part) {
        return Err(bad());
    }
    // value = digits x 10^exp10
    let digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).map(|b| b - b'0').collect();
    let exp10 = exponent.checked_sub(frac_part.len() as i32).ok_or_else(bad)?;
    let dscale = u16::try_from((-exp10).max(0)).ok().filter(|&s| s <= 0x3fff).ok_or_else(bad)?;

    let significant = match digits.iter().position(|&d| d != 0) {
        Some(first) => &digits[first..],
        None => return Ok(header(out, 0, 0, 0, dscale)),
    };
    // Align to base-10000 groups: pad right so the exponent is a multiple of 4, pad left to
    // whole groups.
    let group_exp = exp10.div_euclid(4);
    let right_pad = exp10.rem_euclid(4) as usize;
    let len = significant.len() + right_pad;
    let left_pad = (4 - len % 4) % 4;
    let padded: Vec<u8> = std::iter::repeat_n(0, left_pad)
        .chain(significant.iter().copied())
        .chain(std::iter::repeat_n(0, right_pad))
        .collect();
    let mut groups: Vec<u16> = padded
        .chunks(4)
        .map(|g| g.iter().fold(0u16, |acc, &d| acc * 10 + d as u16))
        .collect();
    let weight = groups.len() as i32 - 1 + group_exp;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    let weight = i16::try_from(weight).map_err(|_| format!("{text:?} is out of numeric's range"))?;
    let ndigits = i16::try_from(groups.len()).map_err(|_| format!("{text:?} has too many digits"))?;
    header(out, ndigits, weight, if negative { 0x4000 } else { 0 }, dscale);
    for group in groups {
        out.extend_from_slice(&group.to_be_bytes());
    }
    Ok(())
}

fn header(out: &mut Vec<u8>, ndigits: i16, weight: i16, sign: u16, dscale: u16) {
    out.extend_from_slice(&ndigits.to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Numeric;

    fn round_trip(text: &str) -> String {
        let mut wire = Vec::new();
        numeric_from_str(text, &mut wire).unwrap();
        let mut back = Vec::new();
        Numeric::parse(&wire).unwrap().write_text(&mut back);
        String::from_utf8(back).unwrap()
    }

    #[test]
    fn round_trips_through_the_decoder() {
        for (input, expected) in [
            ("0", "0"),
            ("0.00", "0.00"),
            ("1.500", "1.500"),
            ("-123456.78", "-123456.78"),
            ("0.000012", "0.000012"),
            ("100000000", "100000000"),
            ("1E+3", "1000"),
            ("1.5e-7", "0.00000015"),
            ("12345678901234567890.123456789", "12345678901234567890.123456789"),
            ("NaN", "NaN"),
            ("-Infinity", "-Infinity"),
            ("+7", "7"),
        ] {
            assert_eq!(round_trip(input), expected, "{input}");
        }
    }

    #[test]
    fn rejects_non_numbers() {
        for bad in ["", "-", ".", "1.2.3", "abc", "1e", "1e99999999999", "--1"] {
            assert!(numeric_from_str(bad, &mut Vec::new()).is_err(), "{bad}");
        }
    }
}
