use super::*;

fn all(body: &str, format: Format) -> Result<Vec<(Entry<'_>, Vec<Label<'_>>)>, ParseError> {
    let mut p = Parser::new(body, format);
    let mut out = Vec::new();
    while let Some(e) = p.next() {
        let e = e?;
        out.push((e, p.labels().to_vec()));
    }
    Ok(out)
}

type Flat = Vec<(String, Vec<(String, String)>, f64, Option<i64>)>;

fn samples(body: &str, format: Format) -> Flat {
    all(body, format)
        .unwrap()
        .into_iter()
        .filter_map(|(e, l)| match e {
            Entry::Sample(s) => Some((
                s.name.to_string(),
                l.iter()
                    .map(|l| (l.name.to_string(), l.value.to_string()))
                    .collect(),
                s.value,
                s.timestamp_ms,
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn text_format_of_every_shape() {
    let body = "# HELP http_requests_total The total.\n\
                # TYPE http_requests_total counter\n\
                http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
                http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n\
                \n\
                # A comment\n\
                msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n\
                metric_without_timestamp_and_labels 12.47\n\
                something_weird{problem=\"division by zero\"} +Inf -3982045\n\
                nan_value NaN\n\
                  spaced { a = \"1\" , b=\"2\", } -Inf\n";
    let s = samples(body, Format::Text);
    assert_eq!(s.len(), 7);
    assert_eq!(s[0].0, "http_requests_total");
    assert_eq!(
        s[0].1,
        vec![
            ("method".into(), "post".into()),
            ("code".into(), "200".into())
        ]
    );
    assert_eq!((s[0].2, s[0].3), (1027.0, Some(1395066363000)));
    assert_eq!(s[2].1[0].1, "C:\\DIR\\FILE.TXT");
    assert_eq!(s[2].1[1].1, "Cannot find file:\n\"FILE.TXT\"");
    assert_eq!(s[3].1, vec![]);
    assert_eq!((s[4].2, s[4].3), (f64::INFINITY, Some(-3982045)));
    assert!(s[5].2.is_nan());
    assert_eq!(s[6].0, "spaced");
    assert_eq!(s[6].1.len(), 2);
    assert_eq!(s[6].2, f64::NEG_INFINITY);
}

#[test]
fn metadata_lines() {
    let body = "# HELP a Line one\\nand \\\\ two\n# TYPE a gauge\n# TYPE b histogram\n";
    let e = all(body, Format::Text).unwrap();
    assert_eq!(
        e[0].0,
        Entry::Help {
            name: "a",
            text: Cow::Owned("Line one\nand \\ two".into())
        }
    );
    assert_eq!(
        e[1].0,
        Entry::Type {
            name: "a",
            kind: MetricKind::Gauge
        }
    );
    assert_eq!(
        e[2].0,
        Entry::Type {
            name: "b",
            kind: MetricKind::Histogram
        }
    );
}

#[test]
fn openmetrics_with_exemplars_units_and_eof() {
    let body = "# TYPE foo counter\n# UNIT foo seconds\n# HELP foo Help \\\"quoted\\\"\n\
                foo_total{a=\"b\"} 17.0 1520879607.789 # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} 0.67 1520879607.7\n\
                foo_created{a=\"b\"} 1520430000.123\n\
                # EOF\n";
    let mut p = Parser::new(body, Format::OpenMetrics);
    let mut entries = Vec::new();
    while let Some(e) = p.next() {
        let e = e.unwrap();
        if let Entry::Sample(s) = &e
            && s.exemplar.is_some()
        {
            assert_eq!(p.exemplar_labels()[0].name, "trace_id");
        }
        entries.push(e);
    }
    assert_eq!(
        entries[1],
        Entry::Unit {
            name: "foo",
            unit: "seconds"
        }
    );
    let Entry::Sample(s) = &entries[3] else {
        panic!("not a sample")
    };
    assert_eq!(s.timestamp_ms, Some(1520879607789));
    assert_eq!(s.series, "foo_total{a=\"b\"}");
    let ex = s.exemplar.unwrap();
    assert_eq!(ex.value, 0.67);
    assert_eq!(ex.timestamp_ms, Some(1520879607700));
    assert_eq!(entries.len(), 5);
}

#[test]
fn openmetrics_requires_eof_and_nothing_after() {
    let e = all("a 1\n", Format::OpenMetrics).unwrap_err();
    assert!(e.reason.contains("EOF"), "{e}");
    let e = all("a 1\n# EOF\nb 2\n", Format::OpenMetrics).unwrap_err();
    assert!(e.reason.contains("after"), "{e}");
}

#[test]
fn malformed_lines_name_the_line() {
    for (body, want) in [
        ("a{b=\"1\" 1\n", "expected `,` or `}`"),
        ("a{b=1} 1\n", "expected `\"`"),
        ("a{b=\"1\",b=\"2\"} 1\n", "twice"),
        ("a x\n", "invalid value"),
        ("a 1 x\n", "invalid timestamp"),
        ("a 1 2 3\n", "unexpected"),
        ("a\n", "no value"),
        ("{a=\"1\"} 1\n", "expected a metric name"),
        ("ok 1\n# TYPE a bogus\n", "unknown metric type"),
        ("a{b=\"unterminated} 1\n", "unterminated"),
        ("a 1 # {x=\"y\"} 1\n", "only allowed in OpenMetrics"),
    ] {
        let err = all(body, Format::Text).unwrap_err();
        assert!(err.reason.contains(want), "{body:?}: {err}");
        assert!(err.line >= 1);
    }
    let err = all("ok 1\nok2 2\nbad{\n", Format::Text).unwrap_err();
    assert_eq!(err.line, 3);
}

#[test]
fn content_type_negotiation() {
    assert_eq!(
        Format::from_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        Format::OpenMetrics
    );
    assert_eq!(
        Format::from_content_type("text/plain; version=0.0.4"),
        Format::Text
    );
    assert_eq!(Format::from_content_type(""), Format::Text);
}

#[test]
fn never_panics_on_prefixes_and_garbage() {
    let body = "# HELP x h\n# TYPE x histogram\nx_bucket{le=\"0.1\",a=\"\\\"q\\\\\"} 1 # {t=\"1\"} 2 3\nx_sum 2\n# EOF\n";
    for format in [Format::Text, Format::OpenMetrics] {
        for end in 0..=body.len() {
            if body.is_char_boundary(end) {
                let _ = all(&body[..end], format);
            }
        }
        for junk in ["\u{0}", "{{{", "\"", "\\", "# ", "#", "é{", "a{b=\"\\"] {
            let _ = all(junk, format);
        }
    }
}
