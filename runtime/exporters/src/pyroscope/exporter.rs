//! The running Pyroscope exporter: one pprof upload per application,
//! label set and profile type of each batch.

use std::collections::BTreeMap;
use std::io::Write as _;

use bytes::Bytes;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use prost::Message as _;
use weir_engine::NodeError;
use weir_engine::node::BatchExporter;
use weir_pdata::{Batch, Signal, profiles};

use super::config::PyroscopeConfig;
use super::pprof::ProfileBuilder;
use crate::ExportError;
use crate::otlp::parse_retry_after;

/// The multipart boundary of upload bodies (never inside a gzip stream's
/// first bytes, and checked anyway).
const BOUNDARY: &str = "weir-pprof-7f3a9c1e5b2d";

/// Pushes profiles to Pyroscope's `/ingest` API as gzipped pprof.
pub struct PyroscopeExporter {
    id: String,
    config: PyroscopeConfig,
    client: reqwest::Client,
    url: reqwest::Url,
}

/// One upload: an application, its labels and the profile.
#[derive(Debug)]
pub(super) struct Upload {
    /// `app{label="value",...}`, the `name` query parameter.
    pub(super) name: String,
    /// Start and end of the samples, in seconds.
    pub(super) from: u64,
    pub(super) until: u64,
    /// Samples per second.
    pub(super) sample_rate: i64,
    /// The gzipped pprof.
    pub(super) pprof: Vec<u8>,
}

/// What one upload covers: application, series labels, profile type and
/// sampling period.
type GroupKey = (String, Vec<(String, String)>, String, i64);

/// Why the exporter could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PyroscopeSetupError {
    /// The endpoint is not a URL.
    #[error("invalid endpoint: {0}")]
    Url(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

impl PyroscopeExporter {
    /// An exporter named `id`.
    ///
    /// # Errors
    /// [`PyroscopeSetupError`] for an endpoint that is not a URL.
    pub fn new(id: &str, config: PyroscopeConfig) -> Result<Self, PyroscopeSetupError> {
        let url: reqwest::Url = format!("{}/ingest", config.endpoint.value)
            .parse()
            .map_err(|e| PyroscopeSetupError::Url(format!("{e}")))?;
        let client = reqwest::Client::builder().timeout(config.timeout).build()?;
        Ok(PyroscopeExporter {
            id: id.to_string(),
            config,
            client,
            url,
        })
    }

    /// The uploads of one profiles batch.
    ///
    /// # Errors
    /// [`ExportError::Data`] when the tables do not follow the schema.
    pub(super) fn uploads(&self, batch: &Batch) -> Result<Vec<Upload>, ExportError> {
        let tables = batch.tables()?;
        let mut groups: BTreeMap<GroupKey, ProfileBuilder> = BTreeMap::new();
        for rs in profiles::read(&tables)? {
            let app = string_attr(&rs.resource, "service.name").unwrap_or_else(|| "weir".into());
            for s in &rs.samples {
                let labels: Vec<(String, String)> = self
                    .config
                    .labels
                    .iter()
                    .filter_map(|k| Some((label_name(k), value_text(&s.attributes, k)?)))
                    .collect();
                let key = (app.clone(), labels, s.profile_type.clone(), s.period_ns);
                groups
                    .entry(key)
                    .or_insert_with(|| ProfileBuilder::cpu(s.period_ns))
                    .add(s, &thread_labels(s));
            }
        }
        let mut out = Vec::with_capacity(groups.len());
        for ((app, labels, _ty, period), builder) in groups {
            let (profile, start, end) = builder.finish();
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&profile.encode_to_vec())
                .map_err(ExportError::Compress)?;
            let pprof = gz.finish().map_err(ExportError::Compress)?;
            out.push(Upload {
                name: series_name(&app, &labels),
                from: start / 1_000_000_000,
                until: end.div_ceil(1_000_000_000),
                sample_rate: 1_000_000_000 / period.max(1),
                pprof,
            });
        }
        Ok(out)
    }

    async fn send(&self, upload: &Upload) -> Result<(), ExportError> {
        let mut url = self.url.clone();
        let _ = url
            .query_pairs_mut()
            .append_pair("name", &upload.name)
            .append_pair("from", &upload.from.to_string())
            .append_pair("until", &upload.until.to_string())
            .append_pair("format", "pprof")
            .append_pair("sampleRate", &upload.sample_rate.to_string())
            .append_pair("spyName", "weir-ebpf");
        let body = multipart(&upload.pprof);
        let response = self
            .client
            .post(url.clone())
            .headers(self.config.headers.clone())
            .header(
                http::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .send()
            .await
            .map_err(|source| ExportError::HttpTransport {
                url: url.to_string(),
                source,
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let text = response.text().await.unwrap_or_default();
        Err(ExportError::HttpStatus {
            status,
            message: text.chars().take(512).collect(),
            retry_after,
        })
    }
}

/// A multipart/form-data body with the pprof in the `profile` field, the
/// form Pyroscope's own clients upload.
fn multipart(pprof: &[u8]) -> Bytes {
    let mut body = Vec::with_capacity(pprof.len() + 256);
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"profile\"; filename=\"profile.pprof\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(pprof);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    Bytes::from(body)
}

/// `app{a="1",b="2"}` (Pyroscope's series name syntax; label values with
/// `"`, `\`, `,`, `{` or `}` have them replaced by `_`).
fn series_name(app: &str, labels: &[(String, String)]) -> String {
    let clean = |s: &str| s.replace(['"', '\\', ',', '{', '}', '='], "_");
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", clean(v)))
        .collect();
    format!("{}{{{}}}", clean(app), inner.join(","))
}

/// A label name Pyroscope accepts: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn label_name(key: &str) -> String {
    let mut out: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn string_attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.clone()),
            _ => None,
        }
    })
}

/// The value of attribute `key` as label text (strings, ints, doubles,
/// bools).
fn value_text(attrs: &[KeyValue], key: &str) -> Option<String> {
    let v = attrs
        .iter()
        .find(|kv| kv.key == key)?
        .value
        .as_ref()?
        .value
        .as_ref()?;
    Some(match v {
        any_value::Value::StringValue(s) => s.clone(),
        any_value::Value::IntValue(i) => i.to_string(),
        any_value::Value::DoubleValue(d) => d.to_string(),
        any_value::Value::BoolValue(b) => b.to_string(),
        _ => return None,
    })
}

/// Per-sample pprof labels: the thread.
fn thread_labels(s: &profiles::Sample) -> Vec<(String, String)> {
    ["process.pid", "thread.id", "thread.name"]
        .iter()
        .filter_map(|k| Some((label_name(k), value_text(&s.attributes, k)?)))
        .collect()
}

impl BatchExporter for PyroscopeExporter {
    async fn export(&mut self, batch: &Batch) -> Result<(), NodeError> {
        let what = || format!("sending {} profile samples to {}", batch.items(), self.url);
        if batch.signal() != Signal::Profiles {
            return Err(crate::delivery::node_error(
                what(),
                ExportError::UnsupportedSignal {
                    exporter: "pyroscope",
                    signal: batch.signal(),
                    hint: "it takes profiles only: feed it from an ebpf receiver with `signals \"profiles\"`",
                },
            ));
        }
        let uploads = self
            .uploads(batch)
            .map_err(|e| crate::delivery::node_error(what(), e))?;
        for upload in &uploads {
            let id = &self.id;
            let on_retry = |e: &ExportError, attempt: u32, delay: std::time::Duration| {
                tracing::warn!(node = %id, attempt, delay_ms = delay.as_millis() as u64, error = %e, "Profile upload failed; retrying.");
            };
            crate::otlp::retry(self.config.retry, || self.send(upload), on_retry)
                .await
                .map_err(|e| crate::delivery::node_error(what(), e))?;
        }
        Ok(())
    }
}
