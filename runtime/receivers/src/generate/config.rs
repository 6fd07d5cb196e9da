//! Configuration of the `generate` receiver and its validation.
//!
//! ```kdl
//! receiver "demo" type="generate" {
//!     signals "traces" "logs" "metrics"
//!     rate 1000          // items per second per signal; 0 = as fast as accepted
//!     batch-size 100     // items per batch
//!     count 10000        // optional: stop after this many items per signal
//!     services 5         // distinct services (resources)
//!     seed 42            // same seed, same data (timestamps and ids aside)
//! }
//! ```
//!
//! | property | default | meaning |
//! |---|---|---|
//! | `signals` | all three | Which signals to generate: `"traces"`, `"logs"`, `"metrics"`. |
//! | `rate` | `1000` | Items (spans, log records, data points) per second for each signal; `0` sends as fast as the pipeline accepts. |
//! | `batch-size` | `100` | Items per batch (1 to 100000). |
//! | `count` | none | Stop after this many items of each signal, then end (the pipeline downstream drains). |
//! | `services` | `5` | Number of distinct services, each a resource with `service.name`, `service.version` and `host.name` (1 to 1000). |
//! | `seed` | `42` | Seed of the random choices, so runs are reproducible. |

use weir_config::{ConfigError, ErrorCode, NodeReader};
use weir_engine::registry::{BuildContext, Builder, Built};
use weir_pdata::Signal;

use super::receiver::GenerateReceiver;

/// Configuration of a `generate` receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateConfig {
    /// The signals to generate, each once. Default: traces, metrics, logs.
    pub signals: Vec<Signal>,
    /// Items per second per signal; 0 = unlimited. Default
    /// [`GenerateConfig::DEFAULT_RATE`].
    pub rate: u64,
    /// Items per batch. Default [`GenerateConfig::DEFAULT_BATCH_SIZE`].
    pub batch_size: usize,
    /// Stop after this many items per signal; `None` (the default) runs
    /// until shutdown.
    pub count: Option<u64>,
    /// Number of distinct services. Default
    /// [`GenerateConfig::DEFAULT_SERVICES`].
    pub services: usize,
    /// Seed of the random generator. Default [`GenerateConfig::DEFAULT_SEED`].
    pub seed: u64,
}

impl GenerateConfig {
    /// Default `rate`.
    pub const DEFAULT_RATE: u64 = 1000;
    /// Default `batch-size`.
    pub const DEFAULT_BATCH_SIZE: usize = 100;
    /// Largest `batch-size`.
    pub const MAX_BATCH_SIZE: u64 = 100_000;
    /// Default `services`.
    pub const DEFAULT_SERVICES: usize = 5;
    /// Largest `services`.
    pub const MAX_SERVICES: u64 = 1000;
    /// Default `seed`.
    pub const DEFAULT_SEED: u64 = 42;
}

impl Default for GenerateConfig {
    fn default() -> Self {
        GenerateConfig {
            signals: Signal::ALL.to_vec(),
            rate: Self::DEFAULT_RATE,
            batch_size: Self::DEFAULT_BATCH_SIZE,
            count: None,
            services: Self::DEFAULT_SERVICES,
            seed: Self::DEFAULT_SEED,
        }
    }
}

/// Reads a `receiver type="generate"` block; `None` when it has errors.
pub fn validate(r: &mut NodeReader<'_>) -> Option<Box<dyn Builder>> {
    GenerateConfig::read(r).map(|c| Box::new(c) as Box<dyn Builder>)
}

impl GenerateConfig {
    /// Reads the properties of a `receiver type="generate"` block,
    /// recording every problem on `r`; `None` when there was one.
    pub fn read(r: &mut NodeReader<'_>) -> Option<GenerateConfig> {
        read(r)
    }
}

fn read(r: &mut NodeReader<'_>) -> Option<GenerateConfig> {
    let mut c = GenerateConfig::default();
    let mut ok = true;
    if r.present("signals") {
        let mut signals = Vec::new();
        for s in r.strings("signals") {
            match s.value.as_str() {
                "traces" | "logs" | "metrics" => {
                    if let Ok(signal) = s.value.parse::<Signal>()
                        && !signals.contains(&signal)
                    {
                        signals.push(signal);
                    }
                }
                _ => {
                    r.error(
                        ConfigError::new(
                            ErrorCode::InvalidValue,
                            format!("unknown signal {:?} in a generate receiver", s.value),
                        )
                        .at(s.span, "expected traces, logs or metrics"),
                    );
                    ok = false;
                }
            }
        }
        if signals.is_empty() && ok {
            let span = r.span();
            r.error(
                ConfigError::new(ErrorCode::Missing, "`signals` names no signal")
                    .at(span, "this receiver would generate nothing")
                    .help("write `signals \"traces\" \"logs\" \"metrics\"`"),
            );
            ok = false;
        }
        c.signals = signals;
    }
    let mut number = |r: &mut NodeReader<'_>, key: &str, range| {
        r.mark_used(key);
        if !r.present(key) {
            return None;
        }
        let v = r.u64_in(key, range);
        ok &= v.is_some();
        v
    };
    if let Some(rate) = number(r, "rate", 0..=u64::from(u32::MAX)) {
        c.rate = rate;
    }
    if let Some(n) = number(r, "batch-size", 1..=GenerateConfig::MAX_BATCH_SIZE) {
        c.batch_size = usize::try_from(n).unwrap_or(GenerateConfig::DEFAULT_BATCH_SIZE);
    }
    c.count = number(r, "count", 0..=u64::MAX);
    if let Some(n) = number(r, "services", 1..=GenerateConfig::MAX_SERVICES) {
        c.services = usize::try_from(n).unwrap_or(GenerateConfig::DEFAULT_SERVICES);
    }
    if let Some(seed) = number(r, "seed", 0..=u64::MAX) {
        c.seed = seed;
    }
    ok.then_some(c)
}

impl Builder for GenerateConfig {
    fn build(self: Box<Self>, _ctx: &BuildContext<'_>) -> Result<Built, ConfigError> {
        Ok(Built::Receiver(Box::new(GenerateReceiver::new(*self))))
    }
}
