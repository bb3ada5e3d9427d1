//! `numeric`: base-10000 digits on the wire, into decimal128/decimal256, text or float64.
//!
//! Wire format: ndigits i16, weight i16 (power of 10000 of the first digit), sign u16,
//! display scale u16, then ndigits base-10000 digits as u16.

use std::sync::Arc;

use arrow_array::types::{Decimal128Type, Decimal256Type, DecimalType, Float64Type};
use arrow_array::{ArrayRef, PrimitiveArray, StringArray};
use arrow_buffer::{i256, OffsetBuffer};

use super::Column;
use crate::error::Result;

const SIGN_POS: u16 = 0x0000;
const SIGN_NEG: u16 = 0x4000;
const SIGN_NAN: u16 = 0xC000;
const SIGN_PINF: u16 = 0xD000;
const SIGN_NINF: u16 = 0xF000;

/// A numeric value borrowed from the wire.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Numeric<'a> {
    sign: u16,
    weight: i16,
    dscale: u16,
    digits: &'a [u8],
}

impl<'a> Numeric<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, String> {
        let Some((head, digits)) = bytes.split_first_chunk::<8>() else {
            return Err(format!("numeric needs at least 8 bytes, got {}", bytes.len()));
        };
        let word = |i: usize| u16::from_be_bytes([head[i], head[i + 1]]);
        let ndigits = word(0) as i16;
        let numeric = Numeric { weight: word(2) as i16, sign: word(4), dscale: word(6) & 0x3fff, digits };
        if ndigits < 0 || digits.len() != 2 * ndigits as usize {
            return Err(format!("numeric with {ndigits} digits in {} bytes", bytes.len()));
        }
        if !matches!(numeric.sign, SIGN_POS | SIGN_NEG | SIGN_NAN | SIGN_PINF | SIGN_NINF) {
            return Err(format!("numeric with unknown sign word {:#06x}", numeric.sign));
        }
        if digits.chunks_exact(2).any(|d| u16::from_be_bytes([d[0], d[1]]) >= 10_000) {
            return Err("numeric digit over 9999".into());
        }
        Ok(numeric)
    }

    fn ndigits(&self) -> i32 {
        (self.digits.len() / 2) as i32
    }

    /// Base-10000 digit `i` (0 = most significant); zero outside the stored digits.
    fn digit(&self, i: i32) -> u16 {
        if i < 0 || i >= self.ndigits() {
            return 0;
        }
        let at = 2 * i as usize;
        u16::from_be_bytes([self.digits[at], self.digits[at + 1]])
    }

    fn special(&self) -> Option<&'static str> {
        match self.sign {
            SIGN_NAN => Some("NaN"),
            SIGN_PINF => Some("Infinity"),
            SIGN_NINF => Some("-Infinity"),
            _ => None,
        }
    }

    /// PostgreSQL's text form (`numeric_out`): all integer digits, exactly `dscale` decimals.
    pub fn write_text(&self, out: &mut Vec<u8>) {
        if let Some(special) = self.special() {
            out.extend_from_slice(special.as_bytes());
            return;
        }
        if self.sign == SIGN_NEG {
            out.push(b'-');
        }
        if self.weight < 0 {
            out.push(b'0');
        } else {
            for i in 0..=self.weight as i32 {
                let group = four_digits(self.digit(i));
                let skip = if i == 0 { group.iter().take(3).take_while(|&&b| b == b'0').count() } else { 0 };
                out.extend_from_slice(&group[skip..]);
            }
        }
        if self.dscale > 0 {
            out.push(b'.');
            let mut left = self.dscale as usize;
            let mut i = self.weight as i32 + 1;
            while left > 0 {
                let take = left.min(4);
                out.extend_from_slice(&four_digits(self.digit(i))[..take]);
                left -= take;
                i += 1;
            }
        }
    }

    /// The value times 10^`scale` as an integer, exactly, or why that is impossible.
    ///
    /// `pow10[k]` must hold 10^k for every k where that fits `T`.
    fn to_scaled<T: Scaled>(self, scale: i8, pow10: &[T]) -> Result<T, String> {
        if let Some(special) = self.special() {
            return Err(format!("{special} does not fit a decimal column"));
        }
        let overflow = || "value overflows the decimal type".to_string();
        let inexact = || format!("more than {scale} decimal places");
        // Exponent of the last digit the result keeps.
        let target = -(scale as i32);
        let mut acc = T::ZERO;
        let mut acc_exponent = None::<i32>;
        for i in 0..self.ndigits() {
            let digit = self.digit(i);
            let exponent = 4 * (self.weight as i32 - i);
            if exponent >= target {
                acc = acc.mul_add(T::TEN_THOUSAND, digit).ok_or_else(overflow)?;
                acc_exponent = Some(exponent);
            } else if exponent + 4 > target {
                let dropped = 10u16.pow((target - exponent) as u32);
                if digit % dropped != 0 {
                    return Err(inexact());
                }
                let kept = pow10[(4 - (target - exponent)) as usize];
                acc = acc.mul_add(kept, digit / dropped).ok_or_else(overflow)?;
                acc_exponent = Some(target);
            } else if digit != 0 {
                return Err(inexact());
            }
        }
        if let Some(exponent) = acc_exponent.filter(|&e| e > target) {
            let shift = pow10.get((exponent - target) as usize).ok_or_else(overflow)?;
            acc = acc.mul_add(*shift, 0).ok_or_else(overflow)?;
        }
        if self.sign == SIGN_NEG {
            acc = acc.negate().ok_or_else(overflow)?;
        }
        Ok(acc)
    }
}

/// Checked integer arithmetic shared by decimal128's i128 and decimal256's i256.
trait Scaled: Copy + PartialOrd {
    const ZERO: Self;
    const TEN_THOUSAND: Self;
    /// self * factor + digit, or None on overflow.
    fn mul_add(self, factor: Self, digit: u16) -> Option<Self>;
    fn negate(self) -> Option<Self>;
    fn times_ten(self) -> Option<Self>;
    fn one() -> Self;
}

impl Scaled for i128 {
    const ZERO: Self = 0;
    const TEN_THOUSAND: Self = 10_000;
    fn mul_add(self, factor: Self, digit: u16) -> Option<Self> {
        self.checked_mul(factor)?.checked_add(digit as i128)
    }
    fn negate(self) -> Option<Self> {
        self.checked_neg()
    }
    fn times_ten(self) -> Option<Self> {
        self.checked_mul(10)
    }
    fn one() -> Self {
        1
    }
}

impl Scaled for i256 {
    const ZERO: Self = i256::ZERO;
    const TEN_THOUSAND: Self = i256::from_parts(10_000, 0);
    fn mul_add(self, factor: Self, digit: u16) -> Option<Self> {
        self.checked_mul(factor)?.checked_add(i256::from_i128(digit as i128))
    }
    fn negate(self) -> Option<Self> {
        self.checked_neg()
    }
    fn times_ten(self) -> Option<Self> {
        self.checked_mul(i256::from_i128(10))
    }
    fn one() -> Self {
        i256::ONE
    }
}

fn four_digits(digit: u16) -> [u8; 4] {
    [
        b'0' + (digit / 1000) as u8,
        b'0' + (digit / 100 % 10) as u8,
        b'0' + (digit / 10 % 10) as u8,
        b'0' + (digit % 10) as u8,
    ]
}

/// 10^0, 10^1, ... for as long as the value fits `T`.
fn powers_of_ten<T: Scaled>() -> Vec<T> {
    std::iter::successors(Some(T::one()), |p| p.times_ten()).take(78).collect()
}

fn nan_hint(col: &Column<'_>, row: usize, reason: String) -> crate::CodecError {
    col.out_of_range(
        row,
        format!("{reason}; read it with types={{\"numeric\": \"float64\"}} or {{\"numeric\": \"string\"}}"),
    )
}

fn decode_decimal<T>(col: &Column<'_>, precision: u8, scale: i8) -> Result<PrimitiveArray<T>>
where
    T: DecimalType,
    T::Native: Scaled,
{
    let pow10 = powers_of_ten::<T::Native>();
    // 10^precision fits both types (10^38 < 2^127, 10^76 < 2^255).
    let limit = pow10[precision as usize];
    let mut values = Vec::with_capacity(col.rows());
    for (row, field) in col.positions().enumerate() {
        if field.is_null() {
            values.push(<T::Native as Scaled>::ZERO);
            continue;
        }
        let numeric = Numeric::parse(field.bytes(col.chunk)).map_err(|e| col.invalid(row, e))?;
        let value = numeric.to_scaled(scale, &pow10).map_err(|e| nan_hint(col, row, e))?;
        // PostgreSQL enforces the typmod, so this only fires on data that does not match
        // the column description; Arrow requires it of a decimal array.
        if value >= limit || limit.negate().is_some_and(|low| value <= low) {
            return Err(col.out_of_range(row, format!("value has more than {precision} digits")));
        }
        values.push(value);
    }
    Ok(PrimitiveArray::<T>::new(values.into(), col.nulls()).with_precision_and_scale(precision, scale)?)
}

/// numeric(p,s) into decimal128(p,s) (p <= 38) or decimal256(p,s).
pub(super) fn decimal(col: &Column<'_>, precision: u8, scale: i8) -> Result<ArrayRef> {
    Ok(if precision <= 38 {
        Arc::new(decode_decimal::<Decimal128Type>(col, precision, scale)?)
    } else {
        Arc::new(decode_decimal::<Decimal256Type>(col, precision, scale)?)
    })
}

/// numeric into its text form, exactly as PostgreSQL prints it.
pub(super) fn text(col: &Column<'_>) -> Result<ArrayRef> {
    let mut values = Vec::new();
    let mut offsets = Vec::with_capacity(col.rows() + 1);
    offsets.push(0i32);
    for (row, field) in col.positions().enumerate() {
        if !field.is_null() {
            let numeric = Numeric::parse(field.bytes(col.chunk)).map_err(|e| col.invalid(row, e))?;
            numeric.write_text(&mut values);
        }
        let end = i32::try_from(values.len()).map_err(|_| col.out_of_range(row, "chunk over 2 GiB of text"))?;
        offsets.push(end);
    }
    let offsets = OffsetBuffer::new(offsets.into());
    Ok(Arc::new(StringArray::try_new(offsets, values.into(), col.nulls())?))
}

/// numeric into float64 (nearest double; NaN and ±Infinity kept).
pub(super) fn float64(col: &Column<'_>) -> Result<ArrayRef> {
    let mut text = Vec::with_capacity(32);
    let mut values = Vec::with_capacity(col.rows());
    for (row, field) in col.positions().enumerate() {
        if field.is_null() {
            values.push(0.0);
            continue;
        }
        let numeric = Numeric::parse(field.bytes(col.chunk)).map_err(|e| col.invalid(row, e))?;
        text.clear();
        numeric.write_text(&mut text);
        values.push(parse_f64(&text).ok_or_else(|| col.invalid(row, "numeric text is not a number"))?);
    }
    Ok(Arc::new(PrimitiveArray::<Float64Type>::new(values.into(), col.nulls())))
}

fn parse_f64(text: &[u8]) -> Option<f64> {
    match text {
        b"NaN" => Some(f64::NAN),
        b"Infinity" => Some(f64::INFINITY),
        b"-Infinity" => Some(f64::NEG_INFINITY),
        _ => std::str::from_utf8(text).ok()?.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes a numeric the way PostgreSQL's numeric_send does.
    fn wire(sign: u16, weight: i16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(digits.len() as i16).to_be_bytes());
        out.extend_from_slice(&weight.to_be_bytes());
        out.extend_from_slice(&sign.to_be_bytes());
        out.extend_from_slice(&dscale.to_be_bytes());
        for d in digits {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out
    }

    fn text_of(bytes: &[u8]) -> String {
        let mut out = Vec::new();
        Numeric::parse(bytes).unwrap().write_text(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_form_matches_numeric_out() {
        assert_eq!(text_of(&wire(SIGN_POS, 0, 0, &[])), "0");
        assert_eq!(text_of(&wire(SIGN_POS, 0, 3, &[])), "0.000");
        assert_eq!(text_of(&wire(SIGN_POS, 0, 3, &[1, 5000])), "1.500");
        assert_eq!(text_of(&wire(SIGN_NEG, 1, 2, &[12, 3456, 7800])), "-123456.78");
        assert_eq!(text_of(&wire(SIGN_POS, -2, 6, &[1200])), "0.000012");
        assert_eq!(text_of(&wire(SIGN_POS, 2, 0, &[1])), "100000000");
        assert_eq!(text_of(&wire(SIGN_NAN, 0, 0, &[])), "NaN");
        assert_eq!(text_of(&wire(SIGN_NINF, 0, 0, &[])), "-Infinity");
    }

    #[test]
    fn scales_exactly() {
        let pow10 = powers_of_ten::<i128>();
        let scaled = |b: &[u8], s| Numeric::parse(b).unwrap().to_scaled::<i128>(s, &pow10);
        assert_eq!(scaled(&wire(SIGN_NEG, 1, 2, &[12, 3456, 7800]), 2), Ok(-12345678));
        assert_eq!(scaled(&wire(SIGN_POS, 0, 1, &[1, 5000]), 3), Ok(1500));
        assert_eq!(scaled(&wire(SIGN_POS, -2, 6, &[1200]), 6), Ok(12));
        assert_eq!(scaled(&wire(SIGN_POS, 2, 0, &[1]), 0), Ok(100_000_000));
        assert_eq!(scaled(&wire(SIGN_POS, 1, 0, &[5]), -4), Ok(5));
        assert!(scaled(&wire(SIGN_POS, 0, 2, &[1, 2345]), 2).is_err());
        assert!(scaled(&wire(SIGN_NAN, 0, 0, &[]), 2).unwrap_err().contains("NaN"));
        // 38 nines with scale 37: the last digit group is partial.
        let digits = [9, 9999, 9999, 9999, 9999, 9999, 9999, 9999, 9999, 9999, 9000];
        let max = "9".repeat(38).parse::<i128>().unwrap();
        assert_eq!(scaled(&wire(SIGN_POS, 0, 37, &digits), 37), Ok(max));
        assert!(scaled(&wire(SIGN_POS, 10, 0, &[1]), 0).is_err());
    }

    #[test]
    fn rejects_malformed() {
        assert!(Numeric::parse(&[0; 7]).is_err());
        assert!(Numeric::parse(&wire(SIGN_POS, 0, 0, &[10_000])).is_err());
        assert!(Numeric::parse(&wire(0x1234, 0, 0, &[])).is_err());
        let mut short = wire(SIGN_POS, 0, 0, &[1, 2]);
        short.pop();
        assert!(Numeric::parse(&short).is_err());
    }
}
