//! The synthetic vocabulary shared by the benchmarks that generate French news
//! (benches/stories.rs, benches/scale.rs; bench/gen_farm.py has the same in Python): words
//! made of French syllables, drawn by the Zipf–Mandelbrot law. Included by each bench with
//! `#[path]` (benches are separate crates). Deterministic for a given `fastrand` seed.

// Each bench uses part of it.
#![allow(dead_code)]

pub fn pick<'a>(rng: &mut fastrand::Rng, list: &[&'a str]) -> &'a str {
    list.get(rng.usize(..list.len())).copied().unwrap_or("")
}

/// Syllables of the synthetic vocabulary.
pub const SYLLABLES: &[&str] = &[
    "ca", "ro", "mi", "ter", "lan", "di", "sé", "vo", "pa", "tri", "mon", "gé", "ra", "lu", "ni",
    "po", "char", "bé", "fa", "qui", "ver", "do", "cé", "min", "gra", "pé", "sou", "ta", "ri",
    "con", "dé", "vil", "lo", "mé", "ar", "bor", "col", "tu",
];
pub const SUFFIXES: &[&str] = &[
    "", "", "", "tion", "ment", "age", "ité", "eur", "ale", "ique", "ance", "isme", "oire",
];
/// French function words strewn between the content words.
pub const GLUE: &[&str] = &[
    "de", "la", "les", "et", "pour", "avec", "des", "du", "dans", "une", "un", "sur", "au", "aux",
    "par", "en",
];

/// Zipf–Mandelbrot offset: with it, the commonest content word is in about a fifth of
/// the items, as « collectivités » is in the labelled pairs (`../shared/dedup`).
pub const ZIPF_OFFSET: f64 = 15.0;

/// A vocabulary of `n` distinct words made of French syllables, sampled with the
/// Zipf–Mandelbrot law (the word of rank r with a weight 1/(r + 15)): a few words
/// everywhere, a long tail of rare ones, as in real news of one field.
pub struct Vocabulary {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Vocabulary {
    pub fn new(n: usize, rng: &mut fastrand::Rng) -> Vocabulary {
        let mut seen = std::collections::HashSet::new();
        let mut words = Vec::with_capacity(n);
        while words.len() < n {
            let mut w = String::new();
            for _ in 0..rng.usize(2..5) {
                w.push_str(pick(rng, SYLLABLES));
            }
            w.push_str(pick(rng, SUFFIXES));
            if seen.insert(w.clone()) {
                words.push(w);
            }
        }
        let mut cumulative = Vec::with_capacity(n);
        let mut total = 0.0;
        for r in 1..=n {
            total += 1.0 / (r as f64 + ZIPF_OFFSET);
            cumulative.push(total);
        }
        Vocabulary { words, cumulative }
    }

    pub fn zipf(&self, rng: &mut fastrand::Rng) -> &str {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.f64() * total;
        let i = self.cumulative.partition_point(|&c| c < x);
        self.words.get(i).map_or("", String::as_str)
    }

    /// A word of the middle of the distribution: what a story is about.
    pub fn topical(&self, rng: &mut fastrand::Rng) -> &str {
        let lo = 200.min(self.words.len());
        self.words
            .get(rng.usize(lo..self.words.len().max(lo + 1)))
            .map_or("", String::as_str)
    }
}

/// `n` words of running text: Zipf-drawn content words, with function words between.
pub fn filler(vocab: &Vocabulary, rng: &mut fastrand::Rng, n: usize) -> String {
    let mut out = Vec::with_capacity(2 * n);
    for _ in 0..n {
        if rng.f32() < 0.4 {
            out.push(pick(rng, GLUE).to_string());
        }
        out.push(vocab.zipf(rng).to_string());
    }
    out.join(" ")
}
