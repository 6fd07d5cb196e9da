//! Compiled patterns of the `redact` kernel, cached per instance so that a
//! plugin passing the same pattern on every batch compiles it once.

use std::collections::HashMap;

use regex::{Regex, RegexBuilder};

/// At most this many distinct patterns are kept; past it the cache starts
/// over (a plugin generating patterns cannot grow host memory).
const MAX_PATTERNS: usize = 64;

/// Compiled regular expressions by source text.
#[derive(Debug, Default)]
pub struct RegexCache {
    compiled: HashMap<String, Regex>,
}

impl RegexCache {
    /// The compiled form of `pattern`.
    ///
    /// # Errors
    /// The compiler's message for an invalid (or too large) pattern.
    pub fn get(&mut self, pattern: &str) -> Result<&Regex, String> {
        if !self.compiled.contains_key(pattern) {
            let re = RegexBuilder::new(pattern)
                // Bounded compile size: a hostile pattern cannot exhaust
                // host memory; matching is linear time by construction.
                .size_limit(1 << 20)
                .dfa_size_limit(2 << 20)
                .build()
                .map_err(|e| e.to_string())?;
            if self.compiled.len() >= MAX_PATTERNS {
                self.compiled.clear();
            }
            let _ = self.compiled.insert(pattern.to_string(), re);
        }
        self.compiled
            .get(pattern)
            .ok_or_else(|| "pattern cache inconsistency".to_string())
    }
}
