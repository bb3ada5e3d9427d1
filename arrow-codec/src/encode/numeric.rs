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
        "nan" => {
            header(out, 0, 0, 0xC000, 0);
            return Ok(());
        }
        "infinity" | "inf" => {
            header(out, 0, 0, if negative { 0xF000 } else { 0xD000 }, 0);
            return Ok(());
        }
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
        None => {
            header(out, 0, 0, 0, dscale);
            return Ok(());
        }
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
    let mut groups: Vec<u16> = padded.chunks(4).map(|g| g.iter().fold(0u16, |acc, &d| acc * 10 + d as u16)).collect();
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

/// Appends the binary `numeric` form of the decimal `value` x 10^-`scale` to `out`.
pub(crate) fn decimal_to_numeric(value: i128, scale: i8, out: &mut Vec<u8>) {
    let negative = value < 0;
    let abs = value.unsigned_abs();
    let pad = (4 - (scale as i32).rem_euclid(4)) % 4;
    // Fractions are padded to whole base-10000 groups; beyond u128's range (or a negative
    // scale) the text path handles it, exactly but slower.
    if scale < 0 || scale as i32 + pad > 38 {
        let text = format!("{}{}E{}", if negative { "-" } else { "" }, abs, -(scale as i32));
        // Cannot fail: the text is digits with an exponent in i8's range (the display scale
        // comes out as `scale`, or 0 for a negative one).
        let _ = numeric_from_str(&text, out);
        return;
    }
    let unit = POW10[scale as usize];
    let (int_part, frac) = (abs / unit, (abs % unit) * POW10[pad as usize]);
    // Base-10000 digits, least significant first: the fraction's, then the integer part's.
    // At most 10 of each fit u128.
    let mut groups = [0u16; 24];
    let mut len = push_groups(frac, Some(((scale as i32 + pad) / 4) as usize), &mut groups, 0);
    let int_start = len;
    len = push_groups(int_part, None, &mut groups, len);
    let mut weight = (len - int_start) as i32 - 1;
    let mut top = len;
    while top > 0 && groups[top - 1] == 0 {
        top -= 1;
        weight -= 1;
    }
    let bottom = groups[..top].iter().take_while(|&&g| g == 0).count();
    if top == bottom {
        return header(out, 0, 0, 0, scale as u16);
    }
    header(out, (top - bottom) as i16, weight as i16, if negative { 0x4000 } else { 0 }, scale as u16);
    for group in groups[bottom..top].iter().rev() {
        out.extend_from_slice(&group.to_be_bytes());
    }
}

/// 10^k for k in 0..=38.
pub(crate) const POW10: [u128; 39] = {
    let mut table = [1u128; 39];
    let mut k = 1;
    while k < 39 {
        table[k] = table[k - 1] * 10;
        k += 1;
    }
    table
};

/// Writes `value`'s base-10000 digits into `groups` from `at`, least significant first:
/// exactly `count` of them, or until none is left; returns the end. Values that fit u64
/// (nearly all) avoid 128-bit divisions, which are library calls.
fn push_groups(value: u128, count: Option<usize>, groups: &mut [u16; 24], at: usize) -> usize {
    match u64::try_from(value) {
        Ok(small) => push_groups_of(small, count, groups, at),
        Err(_) => push_groups_of(value, count, groups, at),
    }
}

fn push_groups_of<T>(mut value: T, count: Option<usize>, groups: &mut [u16; 24], mut at: usize) -> usize
where
    T: Copy + PartialEq + From<u16> + TryInto<u16> + std::ops::Rem<Output = T> + std::ops::Div<Output = T>,
{
    let (zero, base) = (T::from(0), T::from(10_000));
    let mut pushed = 0;
    while count.map_or(value != zero, |count| pushed < count) && at < groups.len() {
        // The remainder is below 10 000, so it fits.
        groups[at] = (value % base).try_into().unwrap_or(0);
        value = value / base;
        at += 1;
        pushed += 1;
    }
    at
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

    proptest::proptest! {
        #[test]
        fn any_decimal_matches_the_text_path(value: i128, scale in 0i8..=38) {
            let mut direct = Vec::new();
            decimal_to_numeric(value, scale, &mut direct);
            let digits = format!("{:0>width$}", value.unsigned_abs(), width = scale as usize + 1);
            let (int, frac) = digits.split_at(digits.len() - scale as usize);
            let text = format!("{}{int}.{frac}", if value < 0 { "-" } else { "" });
            let mut via_text = Vec::new();
            numeric_from_str(text.trim_end_matches('.'), &mut via_text).unwrap();
            proptest::prop_assert_eq!(direct, via_text, "{} scale {} ({})", value, scale, text);
        }
    }

    #[test]
    fn decimals_match_the_text_path() {
        for (value, scale) in [
            (0i128, 2i8),
            (150, 2),
            (-12345678, 2),
            (1, 6),
            (123456789, 0),
            (5, -3),
            (-7, 0),
            (10_000, 4),
            (9_999_999_999_999_999_999_999_999_999_999_999_999, 37),
            (i128::MIN + 1, 10),
            (120, 1),
        ] {
            let mut direct = Vec::new();
            decimal_to_numeric(value, scale, &mut direct);
            let text = if scale > 0 {
                let digits = format!("{:0>width$}", value.unsigned_abs(), width = scale as usize + 1);
                let (int, frac) = digits.split_at(digits.len() - scale as usize);
                format!("{}{int}.{frac}", if value < 0 { "-" } else { "" })
            } else {
                format!("{value}E{}", -(scale as i32))
            };
            let mut via_text = Vec::new();
            numeric_from_str(&text, &mut via_text).unwrap();
            assert_eq!(direct, via_text, "{value} scale {scale} ({text})");
        }
    }

    #[test]
    fn rejects_non_numbers() {
        for bad in ["", "-", ".", "1.2.3", "abc", "1e", "1e99999999999", "--1"] {
            assert!(numeric_from_str(bad, &mut Vec::new()).is_err(), "{bad}");
        }
    }
}
