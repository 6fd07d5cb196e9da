//! Base64 and hex for `bytes` values and ids (small enough not to need a
//! dependency).

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends the standard, padded base64 encoding of `bytes` to `out`.
pub(super) fn encode(bytes: &[u8], out: &mut String) {
    let sextet = |v: u32, shift: u32| char::from(ALPHABET[((v >> shift) & 63) as usize]);
    let mut chunks = bytes.chunks_exact(3);
    for chunk in &mut chunks {
        let v = u32::from(chunk[0]) << 16 | u32::from(chunk[1]) << 8 | u32::from(chunk[2]);
        out.extend([sextet(v, 18), sextet(v, 12), sextet(v, 6), sextet(v, 0)]);
    }
    match *chunks.remainder() {
        [a] => {
            let v = u32::from(a) << 16;
            out.extend([sextet(v, 18), sextet(v, 12), '=', '=']);
        }
        [a, b] => {
            let v = u32::from(a) << 16 | u32::from(b) << 8;
            out.extend([sextet(v, 18), sextet(v, 12), sextet(v, 6), '=']);
        }
        _ => {}
    }
}

/// The value of a base64 digit of the standard or the URL-safe alphabet.
fn digit(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decodes base64 (standard or URL-safe alphabet, padding optional).
pub(super) fn decode(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let data = bytes
        .strip_suffix(b"==")
        .or_else(|| bytes.strip_suffix(b"="))
        .unwrap_or(bytes);
    if bytes.len() != data.len() && !bytes.len().is_multiple_of(4) {
        return Err("invalid base64 padding".to_owned());
    }
    if data.len() % 4 == 1 {
        return Err(format!("invalid base64 length {}", data.len()));
    }
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    for chunk in data.chunks(4) {
        let mut v = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let d =
                digit(c).ok_or_else(|| format!("invalid base64 character {:?}", char::from(c)))?;
            v |= d << (18 - 6 * i);
        }
        let n = chunk.len() - 1;
        out.extend_from_slice(&[(v >> 16) as u8, (v >> 8) as u8, v as u8][..n]);
    }
    Ok(out)
}

/// Appends the lower-case hex encoding of `bytes` to `out`.
pub(super) fn encode_hex(bytes: &[u8], out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
}

/// Decodes hex (either case).
pub(super) fn decode_hex(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", bytes.len()));
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(format!("invalid hex digit {:?}", char::from(c))),
    };
    bytes
        .chunks_exact(2)
        .map(|pair| Ok(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_every_length() {
        for len in 0..10u8 {
            let bytes: Vec<u8> = (0..len)
                .map(|i| i.wrapping_mul(97).wrapping_add(250))
                .collect();
            let mut text = String::new();
            encode(&bytes, &mut text);
            assert_eq!(text.len() % 4, 0);
            assert_eq!(decode(&text), Ok(bytes.clone()));
            assert_eq!(decode(text.trim_end_matches('=')), Ok(bytes));
        }
    }

    #[test]
    fn base64_matches_known_values() {
        let mut text = String::new();
        encode(b"hello?>", &mut text);
        assert_eq!(text, "aGVsbG8/Pg==");
        assert_eq!(decode("aGVsbG8_Pg"), Ok(b"hello?>".to_vec()));
        assert!(decode("a").is_err());
        assert!(decode("ab*d").is_err());
        assert!(decode("abc==").is_err());
    }

    #[test]
    fn hex_round_trips_and_refuses_junk() {
        let mut text = String::new();
        encode_hex(&[0x5b, 0x8e, 0xff, 0x00], &mut text);
        assert_eq!(text, "5b8eff00");
        assert_eq!(decode_hex("5B8EFF00"), Ok(vec![0x5b, 0x8e, 0xff, 0x00]));
        assert!(decode_hex("abc").is_err());
        assert!(decode_hex("zz").is_err());
    }
}
