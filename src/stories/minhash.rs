//! MinHash signatures and LSH banding: how a new item finds, among the thousands stored
//! in its time window, the few worth comparing word by word — without comparing them
//! all. Pure and deterministic: the hash functions are written here (FNV-1a then the
//! splitmix64 finaliser, one seed per function), never the standard library's, whose
//! output may change between Rust versions; the band index on disk depends on them.
//!
//! # Choice of bands and rows
//! The texts are short (a title and a summary of a few dozen words) and cross-posts are
//! rewritten: on the labelled pairs, the Jaccard similarity of two cross-posts' word
//! sets is typically 0.2–0.5, down to 0.15, while two unrelated items of the same
//! network share 0.02–0.08 (the network's own vocabulary). Banding with several rows
//! per band suits near-copies (0.8+) and would miss most cross-posts, so the signature
//! is [`HASHES`] = 16 minima, one per band ([`ROWS`] = 1), and a stored item becomes a
//! candidate when at least [`MIN_SHARED_BANDS`] = 2 of the 16 bands agree. With `s` the
//! Jaccard similarity, the probability of becoming a candidate is the binomial tail
//!
//! ```text
//! P(s) = 1 − (1 − s)^16 − 16·s·(1 − s)^15
//! s:    0.02  0.05  0.10  0.15  0.20  0.30  0.40  0.50
//! P:    0.04  0.19  0.49  0.72  0.86  0.97  1.00  1.00
//! ```
//!
//! so cross-posts are found while most of the window is never read. One band entry per
//! band and item keeps the index at 16 keys per item (see the store's layout). Shingles
//! are single words: with rewritten texts, two-word shingles share too little (measured
//! on the dev pairs: fewer cross-posts became candidates).

/// Bands in the LSH index.
pub const BANDS: usize = 16;
/// Hash values per band.
pub const ROWS: usize = 1;
/// Length of a signature.
pub const HASHES: usize = BANDS * ROWS;
/// Bands two items must share to be compared.
pub const MIN_SHARED_BANDS: usize = 2;

/// A MinHash signature: for each hash function, the least hash of the item's words.
pub type Signature = [u32; HASHES];

/// FNV-1a, 64 bits: stable across platforms and versions.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The splitmix64 finaliser: spreads the bits of `x` over the whole word.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The seed of hash function `i`.
fn seed(i: usize) -> u64 {
    mix(0x5eed_0000 ^ i as u64)
}

/// The signature of a set of shingles, given by their 64-bit hashes ([`fnv1a`] of the
/// word); `None` for an empty set (nothing to index).
pub fn signature(shingles: impl IntoIterator<Item = u64>) -> Option<Signature> {
    let mut sig = [u32::MAX; HASHES];
    let mut any = false;
    for base in shingles {
        any = true;
        for (i, slot) in sig.iter_mut().enumerate() {
            let h = (mix(base ^ seed(i)) >> 32) as u32;
            if h < *slot {
                *slot = h;
            }
        }
    }
    any.then_some(sig)
}

/// The bucket of each band: with one row, the minimum itself; with more, a hash of the
/// band's rows.
pub fn buckets(sig: &Signature) -> [u32; BANDS] {
    let mut out = [0u32; BANDS];
    for (b, slot) in out.iter_mut().enumerate() {
        let rows = sig.get(b * ROWS..(b + 1) * ROWS).unwrap_or_default();
        *slot = match rows {
            [only] => *only,
            _ => {
                let mut h = seed(b);
                for r in rows {
                    h = mix(h ^ u64::from(*r));
                }
                (h >> 32) as u32
            }
        };
    }
    out
}

/// The probability that two items of Jaccard similarity `s` become candidates (the
/// S-curve of the module doc).
pub fn candidate_probability(s: f64) -> f64 {
    let p = s.clamp(0.0, 1.0).powi(ROWS as i32);
    let n = BANDS as i32;
    // P(at least MIN_SHARED_BANDS of BANDS agree) = 1 − Σ_{k < min} C(n,k) p^k (1−p)^(n−k)
    let mut below = 0.0;
    let mut binom = 1.0;
    for k in 0..MIN_SHARED_BANDS as i32 {
        if k > 0 {
            binom = binom * f64::from(n - k + 1) / f64::from(k);
        }
        below += binom * p.powi(k) * (1.0 - p).powi(n - k);
    }
    1.0 - below
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_deterministic_and_order_free() {
        let h = |words: &[&str]| signature(words.iter().map(|w| fnv1a(w.as_bytes())));
        let a = h(&["cooperation", "jacmel", "haiti"]).unwrap();
        let b = h(&["haiti", "jacmel", "cooperation", "jacmel"]).unwrap();
        assert_eq!(a, b);
        assert!(signature(std::iter::empty()).is_none());
        // Pinned: the band index on disk depends on these exact values.
        assert_eq!(fnv1a(b"relais"), 0xb232_614d_85c0_16f3);
        assert_eq!(buckets(&a)[0], a[0]);
    }

    #[test]
    fn shared_bands_track_jaccard_similarity() {
        // Two sets of 40 words sharing 20: Jaccard 1/3. Over many such pairs, the
        // fraction of agreeing minima estimates it.
        let mut agree = 0;
        let mut total = 0;
        for round in 0..200 {
            let common: Vec<String> = (0..20).map(|i| format!("c{round}-{i}")).collect();
            let a: Vec<String> = (0..20).map(|i| format!("a{round}-{i}")).collect();
            let b: Vec<String> = (0..20).map(|i| format!("b{round}-{i}")).collect();
            let key = |w: &String| fnv1a(w.as_bytes());
            let sa = signature(common.iter().chain(&a).map(key)).unwrap();
            let sb = signature(common.iter().chain(&b).map(key)).unwrap();
            agree += sa.iter().zip(&sb).filter(|(x, y)| x == y).count();
            total += HASHES;
        }
        let estimate = agree as f64 / total as f64;
        assert!((estimate - 1.0 / 3.0).abs() < 0.03, "{estimate}");
    }

    #[test]
    fn the_s_curve() {
        let p = candidate_probability;
        assert!(p(0.0) < 1e-9);
        assert!((p(1.0) - 1.0).abs() < 1e-9);
        assert!((p(0.2) - 0.859).abs() < 0.005, "{}", p(0.2));
        assert!((p(0.05) - 0.189).abs() < 0.005, "{}", p(0.05));
        assert!(p(0.3) > 0.96 && p(0.02) < 0.05);
    }
}
