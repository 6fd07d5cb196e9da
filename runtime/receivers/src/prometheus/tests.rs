//! Node-harness tests of the `prometheus` receiver: real HTTP targets on
//! loopback (good, refused, slow, garbage, huge), health series, staleness
//! when a target disappears from a target file, configuration errors.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt32Type};
use arrow_array::{Array, MapArray};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use weir_engine::Message;
use weir_engine::channel::Output;
use weir_engine::metrics::NodeMetrics;
use weir_engine::node::{Receiver as _, ReceiverContext, Shutdown};

use super::PrometheusReceiver;
use super::config::{self, PrometheusConfig};

const GOOD: &str = "# TYPE app_requests_total counter\napp_requests_total{code=\"200\"} 7\n# TYPE app_temp gauge\napp_temp 21.5\n";

/// A loopback HTTP/1.1 server answering by path.
async fn server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            drop(tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                loop {
                    let Ok(n) = sock.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                    if got.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                let req = String::from_utf8_lossy(&got);
                let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
                let auth_ok = req
                    .to_ascii_lowercase()
                    .contains("authorization: bearer s3cret");
                match path.as_str() {
                    "/slow" => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    "/huge" => {
                        // 1 GiB announced, streamed until the client hangs up.
                        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n";
                        if sock.write_all(head.as_bytes()).await.is_err() {
                            return;
                        }
                        let chunk =
                            "big_metric{x=\"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\"} 1\n".repeat(1000);
                        for _ in 0..(1usize << 30) / chunk.len() {
                            if sock.write_all(chunk.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    }
                    p => {
                        let (status, body) = match p {
                            "/metrics" => ("200 OK", GOOD.to_string()),
                            "/garbage" => ("200 OK", "this is { not metrics\n".to_string()),
                            "/auth" if auth_ok => ("200 OK", GOOD.to_string()),
                            "/auth" => ("401 Unauthorized", String::new()),
                            _ => ("404 Not Found", String::new()),
                        };
                        let resp = format!(
                            "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = sock.write_all(resp.as_bytes()).await;
                    }
                }
            }));
        }
    }));
    addr
}

fn read(text: &str) -> (Option<PrometheusConfig>, Vec<weir_config::ConfigError>) {
    let text = format!(
        "receiver \"prom\" type=\"prometheus\" {{\n{text}\n}}\nexporter \"out\" type=\"debug\" {{\n    from \"prom\"\n}}\n"
    );
    let pipeline = weir_config::parse("test.kdl", &text).expect("valid shape");
    let decl = pipeline.node("prom").expect("node");
    let mut errors = Vec::new();
    let mut reader = decl.reader(&mut errors);
    let config = config::read(&mut reader);
    reader.finish();
    (config, errors)
}

/// A point read back: `(metric, job, value, flags, attributes)`.
type Point = (String, String, f64, u32, BTreeMap<String, String>);

fn points(msg: &Message) -> Vec<Point> {
    let t = msg.batch.tables().expect("tables");
    let res = t.resources.column_by_name("attributes").unwrap();
    let res = res.as_any().downcast_ref::<MapArray>().unwrap();
    let entries = res.value(0);
    let keys = entries.column(0).as_string::<i32>();
    let vals = entries.column(1).as_struct().column(1).as_string::<i32>();
    let instance = (0..keys.len())
        .find(|&j| keys.value(j) == "service.name")
        .map(|j| vals.value(j).to_string())
        .unwrap_or_default();
    let r = &t.records;
    let names = r
        .column_by_name("metric_name")
        .unwrap()
        .as_dictionary::<UInt32Type>()
        .clone();
    let dict = names.values().as_string::<i32>().clone();
    let values = r
        .column_by_name("value_double")
        .unwrap()
        .as_primitive::<Float64Type>()
        .clone();
    let flags = r
        .column_by_name("flags")
        .unwrap()
        .as_primitive::<UInt32Type>()
        .clone();
    let attrs = r.column_by_name("attributes").unwrap().clone();
    let attrs = attrs.as_any().downcast_ref::<MapArray>().unwrap();
    (0..r.num_rows())
        .map(|i| {
            let e = attrs.value(i);
            let k = e.column(0).as_string::<i32>();
            let v = e.column(1).as_struct().column(1).as_string::<i32>();
            (
                dict.value(names.keys().value(i) as usize).to_string(),
                instance.clone(),
                if values.is_valid(i) {
                    values.value(i)
                } else {
                    f64::NAN
                },
                flags.value(i),
                (0..k.len())
                    .map(|j| (k.value(j).to_string(), v.value(j).to_string()))
                    .collect(),
            )
        })
        .collect()
}

fn start(
    config: PrometheusConfig,
) -> (
    mpsc::Receiver<Message>,
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<Result<(), weir_engine::NodeError>>,
) {
    let (tx, rx) = mpsc::channel(1024);
    let metrics = Arc::new(NodeMetrics::new("prom", "receiver", "prometheus"));
    let (trigger, shutdown) = Shutdown::new();
    let ctx = ReceiverContext {
        id: "prom".to_string(),
        output: Output::new(vec![tx], metrics.clone()),
        shutdown,
        metrics,
    };
    let receiver = PrometheusReceiver::new(config).expect("client");
    (rx, trigger, tokio::spawn(Box::new(receiver).run(ctx)))
}

/// Collects points until `done` says so (or 20 s pass, which fails).
async fn collect(
    rx: &mut mpsc::Receiver<Message>,
    mut done: impl FnMut(&[Point]) -> bool,
) -> Vec<Point> {
    let mut all = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done(&all) {
        let msg = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out; got {all:#?}"))
            .expect("the receiver stays up");
        all.extend(points(&msg));
    }
    all
}

fn up_of(points: &[Point], job: &str) -> Option<f64> {
    points
        .iter()
        .rev()
        .find(|p| p.0 == "up" && p.1 == job)
        .map(|p| p.2)
}

const JOBS: [(&str, f64); 6] = [
    ("good", 1.0),
    ("auth", 1.0),
    ("refused", 0.0),
    ("slow", 0.0),
    ("garbage", 0.0),
    ("huge", 0.0),
];

#[tokio::test]
async fn bad_targets_are_down_and_the_good_one_keeps_being_scraped() {
    let addr = server().await;
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let text = format!(
        "job \"good\" {{ targets \"{addr}\"; interval \"300ms\"; labels {{ env \"test\"; }} }}\n\
         job \"refused\" {{ targets \"{refused}\"; interval \"300ms\" }}\n\
         job \"slow\" {{ targets \"{addr}\"; metrics-path \"/slow\"; interval \"400ms\"; timeout \"200ms\" }}\n\
         job \"garbage\" {{ targets \"{addr}\"; metrics-path \"/garbage\"; interval \"300ms\" }}\n\
         job \"huge\" {{ targets \"{addr}\"; metrics-path \"/huge\"; interval \"1s\"; body-size-limit \"1MiB\" }}\n\
         job \"auth\" {{ targets \"{addr}\"; metrics-path \"/auth\"; interval \"300ms\"; bearer-token \"s3cret\" }}\n"
    );
    let (config, errors) = read(&text);
    assert!(errors.is_empty(), "{errors:?}");
    let (mut rx, trigger, task) = start(config.unwrap());
    let got = collect(&mut rx, |p| {
        JOBS.iter()
            .all(|(job, _)| p.iter().filter(|x| x.0 == "up" && x.1 == *job).count() >= 2)
    })
    .await;
    for (job, up) in JOBS {
        assert_eq!(up_of(&got, job), Some(up), "up of job {job}");
    }
    let good: Vec<&Point> = got.iter().filter(|p| p.0 == "app_requests_total").collect();
    assert!(good.len() >= 2);
    assert_eq!(good[0].2, 7.0);
    assert_eq!(good[0].4.get("code").map(String::as_str), Some("200"));
    // The target's own labels are on every point.
    assert!(
        got.iter()
            .filter(|p| p.0 == "app_temp" && p.4.contains_key("env"))
            .count()
            >= 2
    );
    // Health series.
    assert!(
        got.iter()
            .any(|p| p.0 == "scrape_samples_scraped" && p.2 == 2.0)
    );
    assert!(got.iter().any(|p| p.0 == "scrape_duration_seconds"));
    let _ = trigger.send(true);
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_target_removed_from_its_file_goes_stale() {
    let addr = server().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.json");
    std::fs::write(
        &file,
        format!("[{{\"targets\": [\"{addr}\"], \"labels\": {{\"team\": \"a\"}}}}]"),
    )
    .unwrap();
    let text = format!(
        "job \"files\" {{ file-sd \"{}\"; file-sd-refresh \"200ms\"; interval \"200ms\" }}\n",
        dir.path().join("*.json").display()
    );
    let (config, errors) = read(&text);
    assert!(errors.is_empty(), "{errors:?}");
    let (mut rx, trigger, task) = start(config.unwrap());
    let got = collect(&mut rx, |p| p.iter().any(|x| x.0 == "app_temp")).await;
    assert_eq!(
        got.iter()
            .find(|p| p.0 == "app_temp")
            .unwrap()
            .4
            .get("team")
            .map(String::as_str),
        Some("a")
    );
    // Empty the file: the target's series become stale markers.
    std::fs::write(&file, "[]").unwrap();
    let got = collect(&mut rx, |p| p.iter().any(|x| x.0 == "app_temp" && x.3 == 1)).await;
    let stale = got.iter().find(|p| p.0 == "app_temp" && p.3 == 1).unwrap();
    assert_eq!(stale.2.to_bits(), super::ingest::STALE_NAN);
    assert!(got.iter().any(|p| p.0 == "up" && p.3 == 1));
    let _ = trigger.send(true);
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[test]
fn configuration_errors_are_all_reported() {
    let (c, errors) = read(
        "job \"a\" { interval \"1s\"; timeout \"2s\"; targets \"x:1\" }\n\
         job \"b\" { scheme \"https\"; targets \"y:1\" }\n\
         job \"c\" { }\n\
         job \"d\" { targets \"z:1\"; relabel { action \"nope\" }; metric-relabel { regex \"(\"; target-label \"x\" } }\n\
         job \"e\" { targets \"h/metrics\"; intervl \"1s\" }\n",
    );
    assert!(c.is_none());
    let text: Vec<String> = errors.iter().map(|e| format!("{e:?}")).collect();
    let all = text.join("\n");
    for want in [
        "longer than `interval`",
        "TLS",
        "has no targets",
        "unknown value",
        "regex",
        "not host:port",
        "intervl",
    ] {
        assert!(all.contains(want), "missing {want:?} in:\n{all}");
    }
    let (c, errors) = read("job \"ok\" { targets \"127.0.0.1:9100\" }");
    assert!(errors.is_empty(), "{errors:?}");
    let job = &c.unwrap().jobs[0];
    assert_eq!(job.interval, PrometheusConfig::DEFAULT_INTERVAL);
    assert_eq!(job.timeout, PrometheusConfig::DEFAULT_TIMEOUT);
    assert_eq!(job.metrics_path, "/metrics");
}
