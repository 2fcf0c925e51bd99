//! The fetch stage against a scripted loopback server: one test per behaviour of the
//! issue (conditional GET, compression, caps, deadlines, redirects, statuses, the address
//! guard, local files, concurrency limits).

mod support;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use relais::config::{FetchConfig, Location};
use relais::fetch::{
    parse_retry_after, AddressKind, Body, FetchError, Fetched, Fetcher, Validators,
};
use support::{FixtureServer, Reply, Routes};
use url::Url;

const FEED: &str =
    "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Réseau</title></channel></rss>";

/// Loopback must be allowed to reach the fixture server; deadlines are short so a
/// regression fails fast instead of hanging the suite.
fn config() -> FetchConfig {
    FetchConfig {
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        allow_private: true,
        ..FetchConfig::default()
    }
}

fn fetcher(config: &FetchConfig) -> Fetcher {
    match Fetcher::new(config) {
        Ok(fetcher) => fetcher,
        Err(err) => panic!("cannot build fetcher: {err}"),
    }
}

fn http(url: &str) -> Location {
    match Url::parse(url) {
        Ok(url) => Location::Http(url),
        Err(err) => panic!("{url}: {err}"),
    }
}

async fn fetch(
    config: &FetchConfig,
    url: &str,
    validators: &Validators,
) -> Result<Fetched, FetchError> {
    fetcher(config).fetch(&http(url), validators).await
}

fn body(result: Result<Fetched, FetchError>) -> Body {
    match result {
        Ok(Fetched::Body(body)) => body,
        other => panic!("expected a body, got {other:?}"),
    }
}

fn error(result: Result<Fetched, FetchError>) -> FetchError {
    match result {
        Err(err) => err,
        Ok(other) => panic!("expected an error, got {other:?}"),
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(data)
        .and_then(|_| encoder.finish())
        .unwrap_or_else(|err| panic!("gzip: {err}"))
}

// ---------------------------------------------------------------- conditional GET

#[tokio::test]
async fn etag_then_not_modified_when_if_none_match_sent() {
    let server = FixtureServer::start(Routes::new().at("/feed", |req| {
        if req.header("if-none-match") == Some("\"v1\"") {
            Reply::status(304).header("ETag", "\"v1\"")
        } else {
            Reply::ok(FEED)
                .header("ETag", "\"v1\"")
                .header("Content-Type", "application/rss+xml; charset=utf-8")
        }
    }))
    .await;
    let config = config();
    let first = body(fetch(&config, &server.url("/feed"), &Validators::default()).await);
    assert_eq!(first.bytes, FEED.as_bytes());
    assert_eq!(first.status, 200);
    assert_eq!(first.etag.as_deref(), Some("\"v1\""));
    assert_eq!(
        first.content_type.as_deref(),
        Some("application/rss+xml; charset=utf-8")
    );
    assert_eq!(
        first.final_url.as_ref().map(Url::as_str),
        Some(server.url("/feed").as_str())
    );
    assert_eq!(first.permanent_url, None);

    let validators = Validators {
        etag: first.etag.clone(),
        last_modified: None,
    };
    let second = fetch(&config, &server.url("/feed"), &validators).await;
    assert!(matches!(second, Ok(Fetched::NotModified)), "{second:?}");

    let log = server.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].header("if-none-match"), None);
    assert_eq!(log[1].header("if-none-match"), Some("\"v1\""));
    assert_eq!(log[1].header("if-modified-since"), None);
}

#[tokio::test]
async fn last_modified_then_not_modified_when_if_modified_since_sent() {
    const DATE: &str = "Tue, 04 Nov 2025 08:30:00 GMT";
    let server = FixtureServer::start(Routes::new().at("/feed", |req| {
        if req.header("if-modified-since") == Some(DATE) {
            Reply::status(304)
        } else {
            Reply::ok(FEED).header("Last-Modified", DATE)
        }
    }))
    .await;
    let config = config();
    let first = body(fetch(&config, &server.url("/feed"), &Validators::default()).await);
    assert_eq!(first.last_modified.as_deref(), Some(DATE));
    assert_eq!(first.etag, None);

    let validators = Validators {
        etag: None,
        last_modified: first.last_modified,
    };
    let second = fetch(&config, &server.url("/feed"), &validators).await;
    assert!(matches!(second, Ok(Fetched::NotModified)), "{second:?}");
    let log = server.requests();
    assert_eq!(log[1].header("if-modified-since"), Some(DATE));
    assert_eq!(log[1].header("if-none-match"), None);
}

// ---------------------------------------------------------------- compression

#[tokio::test]
async fn gzip_body_is_decoded_and_encodings_are_offered() {
    let server = FixtureServer::start(Routes::new().fixed(
        "/feed",
        Reply::ok(gzip(FEED.as_bytes())).header("Content-Encoding", "gzip"),
    ))
    .await;
    let got = body(fetch(&config(), &server.url("/feed"), &Validators::default()).await);
    assert_eq!(got.bytes, FEED.as_bytes());
    let log = server.requests();
    let offered = log[0].header("accept-encoding").unwrap_or_default();
    for coding in ["gzip", "br", "deflate"] {
        assert!(
            offered.contains(coding),
            "accept-encoding {offered:?} lacks {coding}"
        );
    }
}

#[tokio::test]
async fn brotli_body_is_decoded() {
    let mut compressed = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut compressed, 4096, 5, 22);
        writer
            .write_all(FEED.as_bytes())
            .unwrap_or_else(|err| panic!("brotli: {err}"));
    }
    let server = FixtureServer::start(Routes::new().fixed(
        "/feed",
        Reply::ok(compressed).header("Content-Encoding", "br"),
    ))
    .await;
    let got = body(fetch(&config(), &server.url("/feed"), &Validators::default()).await);
    assert_eq!(got.bytes, FEED.as_bytes());
}

#[tokio::test]
async fn deflate_body_is_decoded() {
    // HTTP "deflate" is the zlib format (RFC 9110 §8.4.1.2).
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let compressed = encoder
        .write_all(FEED.as_bytes())
        .and_then(|_| encoder.finish())
        .unwrap_or_else(|err| panic!("deflate: {err}"));
    let server = FixtureServer::start(Routes::new().fixed(
        "/feed",
        Reply::ok(compressed).header("Content-Encoding", "deflate"),
    ))
    .await;
    let got = body(fetch(&config(), &server.url("/feed"), &Validators::default()).await);
    assert_eq!(got.bytes, FEED.as_bytes());
}

// ---------------------------------------------------------------- size cap

#[tokio::test]
async fn gzip_bomb_stops_at_the_decompressed_cap() {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        encoder
            .write_all(&zeros)
            .unwrap_or_else(|err| panic!("gzip: {err}"));
    }
    let bomb = encoder.finish().unwrap_or_else(|err| panic!("gzip: {err}"));
    assert!(
        bomb.len() < 1 << 20,
        "the bomb itself is small: {}",
        bomb.len()
    );
    let server = FixtureServer::start(
        Routes::new().fixed("/bomb", Reply::ok(bomb).header("Content-Encoding", "gzip")),
    )
    .await;
    let config = FetchConfig {
        max_body: 1 << 20,
        ..config()
    };
    let started = Instant::now();
    let err = error(fetch(&config, &server.url("/bomb"), &Validators::default()).await);
    assert!(
        matches!(err, FetchError::TooLarge { limit, .. } if limit == 1 << 20),
        "{err:?}"
    );
    assert!(err.to_string().contains(&server.url("/bomb")), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn content_length_over_the_cap_is_refused_before_reading() {
    // The head promises 50 MB, then the server stalls: reading the body would run into
    // the deadline, so an immediate TooLarge shows nothing was read.
    let server = FixtureServer::start(
        Routes::new().fixed(
            "/big",
            Reply::script()
                .write("HTTP/1.1 200 OK\r\nContent-Length: 50000000\r\n\r\n")
                .pause(Duration::from_secs(30)),
        ),
    )
    .await;
    let config = FetchConfig {
        max_body: 1 << 20,
        ..config()
    };
    let started = Instant::now();
    let err = error(fetch(&config, &server.url("/big"), &Validators::default()).await);
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn lying_content_length_is_an_error_not_a_hang() {
    let server = FixtureServer::start(Routes::new().fixed(
        "/short",
        Reply::raw(
            "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n<rss>short",
        ),
    ))
    .await;
    let started = Instant::now();
    let err = error(fetch(&config(), &server.url("/short"), &Validators::default()).await);
    assert!(matches!(err, FetchError::Body { .. }), "{err:?}");
    assert!(err.to_string().starts_with(&server.url("/short")), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------- deadline

#[tokio::test]
async fn dripping_server_is_cut_off_by_the_total_deadline() {
    let server = FixtureServer::start(
        Routes::new().fixed("/drip", Reply::ok(FEED).drip(Duration::from_secs(1))),
    )
    .await;
    let config = FetchConfig {
        timeout: Duration::from_secs(1),
        ..config()
    };
    let started = Instant::now();
    let err = error(fetch(&config, &server.url("/drip"), &Validators::default()).await);
    let elapsed = started.elapsed();
    assert!(matches!(err, FetchError::Timeout { .. }), "{err:?}");
    assert!(err.is_timeout());
    assert_eq!(
        err.to_string(),
        format!("{}: no complete response within 1s", server.url("/drip"))
    );
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn deadline_covers_every_redirect_hop() {
    // Each hop is quick on its own (0.4 s), but the chain together exceeds 1 s.
    let server = FixtureServer::start(
        Routes::new()
            .fixed(
                "/a",
                Reply::redirect(302, "/b").delay(Duration::from_millis(400)),
            )
            .fixed(
                "/b",
                Reply::redirect(302, "/c").delay(Duration::from_millis(400)),
            )
            .fixed(
                "/c",
                Reply::redirect(302, "/d").delay(Duration::from_millis(400)),
            )
            .fixed("/d", Reply::ok(FEED).delay(Duration::from_millis(400))),
    )
    .await;
    let config = FetchConfig {
        timeout: Duration::from_secs(1),
        ..config()
    };
    let err = error(fetch(&config, &server.url("/a"), &Validators::default()).await);
    assert!(matches!(err, FetchError::Timeout { .. }), "{err:?}");
}

// ---------------------------------------------------------------- redirects

/// `/hop/N` redirects to `/hop/N-1`; `/hop/0` is the feed.
fn hop_routes() -> Routes {
    let mut routes = Routes::new().fixed("/hop/0", Reply::ok(FEED));
    for n in 1..=10 {
        routes = routes.fixed(
            &format!("/hop/{n}"),
            Reply::redirect(302, &format!("/hop/{}", n - 1)),
        );
    }
    routes
}

#[tokio::test]
async fn five_redirects_are_followed() {
    let server = FixtureServer::start(hop_routes()).await;
    let got = body(fetch(&config(), &server.url("/hop/5"), &Validators::default()).await);
    assert_eq!(got.bytes, FEED.as_bytes());
    assert_eq!(
        got.final_url.as_ref().map(Url::as_str),
        Some(server.url("/hop/0").as_str())
    );
    assert_eq!(server.requests().len(), 6);
}

#[tokio::test]
async fn a_sixth_redirect_is_an_error() {
    let server = FixtureServer::start(hop_routes()).await;
    let err = error(fetch(&config(), &server.url("/hop/6"), &Validators::default()).await);
    assert!(
        matches!(err, FetchError::TooManyRedirects { max: 5, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("{}: more than 5 redirects", server.url("/hop/6"))
    );
    // The sixth redirect's target was never requested.
    assert_eq!(server.requests().len(), 6);
    assert!(server.requests_to("/hop/0").is_empty());
}

#[tokio::test]
async fn redirect_loop_is_detected() {
    let server = FixtureServer::start(
        Routes::new()
            .fixed("/a", Reply::redirect(301, "/b"))
            .fixed("/b", Reply::redirect(302, "/a")),
    )
    .await;
    let err = error(fetch(&config(), &server.url("/a"), &Validators::default()).await);
    match &err {
        FetchError::RedirectLoop { target, .. } => assert_eq!(target, &server.url("/a")),
        other => panic!("expected a loop, got {other:?}"),
    }
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn permanent_chain_sets_permanent_url() {
    let server = FixtureServer::start(
        Routes::new()
            .fixed("/old", Reply::redirect(301, "/moved"))
            .at("/moved", |req| Reply::redirect(308, &req.url("/new")))
            .fixed("/new", Reply::ok(FEED)),
    )
    .await;
    let got = body(fetch(&config(), &server.url("/old"), &Validators::default()).await);
    let new = server.url("/new");
    assert_eq!(got.final_url.as_ref().map(Url::as_str), Some(new.as_str()));
    assert_eq!(
        got.permanent_url.as_ref().map(Url::as_str),
        Some(new.as_str())
    );
}

#[tokio::test]
async fn a_temporary_hop_keeps_permanent_url_unset() {
    let server = FixtureServer::start(
        Routes::new()
            .fixed("/old", Reply::redirect(301, "/moved"))
            .fixed("/moved", Reply::redirect(302, "/new"))
            .fixed("/new", Reply::ok(FEED))
            .fixed("/tmp303", Reply::redirect(303, "/new"))
            .fixed("/tmp307", Reply::redirect(307, "/new")),
    )
    .await;
    let config = config();
    for start in ["/old", "/tmp303", "/tmp307"] {
        let got = body(fetch(&config, &server.url(start), &Validators::default()).await);
        assert_eq!(
            got.final_url.as_ref().map(Url::as_str),
            Some(server.url("/new").as_str()),
            "{start}"
        );
        assert_eq!(got.permanent_url, None, "{start}");
    }
}

#[tokio::test]
async fn relative_location_is_resolved_against_the_hop() {
    let server = FixtureServer::start(
        Routes::new()
            .fixed(
                "/blog/feed/",
                Reply::redirect(301, "../actualites/rss.xml?lang=fr"),
            )
            .fixed("/blog/actualites/rss.xml", Reply::ok(FEED)),
    )
    .await;
    let got = body(
        fetch(
            &config(),
            &server.url("/blog/feed/"),
            &Validators::default(),
        )
        .await,
    );
    assert_eq!(got.bytes, FEED.as_bytes());
    let expected = server.url("/blog/actualites/rss.xml?lang=fr");
    assert_eq!(
        got.final_url.as_ref().map(Url::as_str),
        Some(expected.as_str())
    );
    assert_eq!(
        got.permanent_url.as_ref().map(Url::as_str),
        Some(expected.as_str())
    );
    assert_eq!(
        server.requests()[1].target,
        "/blog/actualites/rss.xml?lang=fr"
    );
}

#[tokio::test]
async fn every_hop_is_checked_like_the_first() {
    // Even with allow_private, 0.0.0.0 (which Linux connects to loopback) and non-http
    // schemes are refused; the refusal happens on the hop, before any connection.
    let server = FixtureServer::start(
        Routes::new()
            .at("/to-zero", |req| {
                Reply::redirect(302, &format!("http://0.0.0.0:{}/feed", req.server.port()))
            })
            .fixed("/to-file", Reply::redirect(301, "file:///etc/passwd"))
            .fixed("/feed", Reply::ok(FEED)),
    )
    .await;
    let config = config();
    let err = error(fetch(&config, &server.url("/to-zero"), &Validators::default()).await);
    assert!(
        matches!(
            err,
            FetchError::Refused {
                kind: AddressKind::Unspecified,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("0.0.0.0"), "{err}");
    let err = error(fetch(&config, &server.url("/to-file"), &Validators::default()).await);
    assert!(
        matches!(&err, FetchError::Scheme { scheme, .. } if scheme == "file"),
        "{err:?}"
    );
    assert!(server.requests_to("/feed").is_empty());
}

#[tokio::test]
async fn redirect_without_location_is_an_error() {
    let server = FixtureServer::start(Routes::new().fixed("/r", Reply::status(302))).await;
    let err = error(fetch(&config(), &server.url("/r"), &Validators::default()).await);
    assert!(
        matches!(err, FetchError::BadRedirect { status: 302, .. }),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(302));
}

// ---------------------------------------------------------------- statuses

#[tokio::test]
async fn gone_is_reported_as_gone() {
    let server = FixtureServer::start(Routes::new().fixed("/feed", Reply::status(410))).await;
    let got = fetch(&config(), &server.url("/feed"), &Validators::default()).await;
    assert!(matches!(got, Ok(Fetched::Gone { status: 410 })), "{got:?}");
}

#[tokio::test]
async fn too_many_requests_carries_retry_after_seconds() {
    let server = FixtureServer::start(
        Routes::new().fixed("/feed", Reply::status(429).header("Retry-After", "120")),
    )
    .await;
    let err = error(fetch(&config(), &server.url("/feed"), &Validators::default()).await);
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(
        err.to_string(),
        format!("{}: http status 429, retry after 2m", server.url("/feed"))
    );
}

#[tokio::test]
async fn unavailable_carries_retry_after_http_date() {
    let when = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2 * 3600));
    let server = FixtureServer::start(
        Routes::new().fixed("/feed", Reply::status(503).header("Retry-After", &when)),
    )
    .await;
    let err = error(fetch(&config(), &server.url("/feed"), &Validators::default()).await);
    assert_eq!(err.status(), Some(503));
    let wait = err.retry_after().unwrap_or_default();
    // The date has whole-second precision and some time passed since it was written.
    assert!(
        wait > Duration::from_secs(2 * 3600 - 30) && wait <= Duration::from_secs(2 * 3600),
        "{wait:?}"
    );
}

#[tokio::test]
async fn other_statuses_are_errors_with_the_status() {
    let server = FixtureServer::start(
        Routes::new()
            .fixed("/boom", Reply::status(500).header("Retry-After", "120"))
            .fixed(
                "/gone-wrong",
                Reply::status(503).header("Retry-After", "soon"),
            ),
    )
    .await;
    let config = config();
    let err = error(fetch(&config, &server.url("/boom"), &Validators::default()).await);
    assert!(
        matches!(err, FetchError::Status { status: 500, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.retry_after(),
        None,
        "retry-after only counts on 429/503"
    );
    assert_eq!(
        err.to_string(),
        format!("{}: http status 500", server.url("/boom"))
    );

    let err = error(fetch(&config, &server.url("/missing"), &Validators::default()).await);
    assert_eq!(err.status(), Some(404));

    let err = error(fetch(&config, &server.url("/gone-wrong"), &Validators::default()).await);
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.retry_after(), None);
}

#[test]
fn retry_after_table() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_760_000_000);
    let date = |offset: i64| {
        let when = if offset >= 0 {
            now + Duration::from_secs(offset.unsigned_abs())
        } else {
            now - Duration::from_secs(offset.unsigned_abs())
        };
        httpdate::fmt_http_date(when)
    };
    let minute = Duration::from_secs(60);
    let day = Duration::from_secs(24 * 3600);
    let cases: Vec<(String, Option<Duration>)> = vec![
        ("120".into(), Some(Duration::from_secs(120))),
        (" 3600 ".into(), Some(Duration::from_secs(3600))),
        ("5".into(), Some(minute)),
        ("0".into(), Some(minute)),
        ("86400".into(), Some(day)),
        ("315360000".into(), Some(day)),
        ("99999999999999999999999".into(), Some(day)),
        ("-5".into(), None),
        ("1.5".into(), None),
        ("".into(), None),
        ("soon".into(), None),
        ("Mon, 99 Foo 2025 00:00:00 GMT".into(), None),
        (date(7200), Some(Duration::from_secs(7200))),
        (date(10), Some(minute)),
        (date(10 * 365 * 86400), Some(day)),
        (date(-3600), None),
        (date(0), None),
        // The two obsolete date forms HTTP still requires recipients to accept: three
        // days ahead (clamped), and RFC 9110's own examples, long past.
        ("Sunday, 12-Oct-25 08:53:20 GMT".into(), Some(day)),
        ("Sun Oct 12 08:53:20 2025".into(), Some(day)),
        ("Sunday, 06-Nov-94 08:49:37 GMT".into(), None),
        ("Sun Nov  6 08:49:37 1994".into(), None),
    ];
    for (value, expected) in cases {
        assert_eq!(parse_retry_after(&value, now), expected, "{value:?}");
    }
    // Obsolete forms in the future are honoured too.
    let before = SystemTime::UNIX_EPOCH + Duration::from_secs(1_760_252_000 - 600);
    assert_eq!(
        parse_retry_after("Sun Oct 12 06:53:20 2025", before),
        Some(Duration::from_secs(600))
    );
}

// ---------------------------------------------------------------- address guard

#[tokio::test]
async fn private_addresses_are_refused_without_allow_private() {
    let server = FixtureServer::start(Routes::new().fixed("/feed", Reply::ok(FEED))).await;
    let port = server.port();
    let config = FetchConfig {
        allow_private: false,
        ..config()
    };
    let fetcher = fetcher(&config);
    for url in [
        format!("http://127.0.0.1:{port}/feed"),
        format!("http://2130706433:{port}/feed"),
        format!("http://0x7f.1:{port}/feed"),
        format!("http://[::ffff:127.0.0.1]:{port}/feed"),
        format!("http://[::1]:{port}/feed"),
        format!("http://localhost:{port}/feed"),
    ] {
        let err = error(fetcher.fetch(&http(&url), &Validators::default()).await);
        match &err {
            FetchError::Refused { kind, .. } => assert_eq!(*kind, AddressKind::Loopback, "{url}"),
            other => panic!("{url}: expected a refusal, got {other:?}"),
        }
        // Named by the normalised URL the request would have gone to.
        let normalised = http(&url).to_string();
        assert!(err.to_string().starts_with(&normalised), "{err}");
    }
    assert!(
        server.requests().is_empty(),
        "a refused fetch reached the server"
    );
}

#[tokio::test]
async fn non_http_schemes_are_refused() {
    let fetcher = fetcher(&config());
    for url in [
        "ftp://example.org/feed.xml",
        "file:///etc/passwd",
        "data:text/plain,hello",
    ] {
        let err = error(fetcher.fetch(&http(url), &Validators::default()).await);
        assert!(matches!(err, FetchError::Scheme { .. }), "{url}: {err:?}");
        assert!(err.to_string().contains(url), "{err}");
    }
}

#[tokio::test]
async fn resolver_filter_refuses_loopback_names() {
    match relais::fetch::resolve_guarded("localhost", false).await {
        Err(relais::fetch::ResolveError::Refused { host, kind, .. }) => {
            assert_eq!(host, "localhost");
            assert_eq!(kind, AddressKind::Loopback);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    match relais::fetch::resolve_guarded("localhost", true).await {
        Ok(addrs) => assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())),
        Err(err) => panic!("{err}"),
    }
    // Literals given as names go through the same filter.
    assert!(relais::fetch::resolve_guarded("127.0.0.1", false)
        .await
        .is_err());
    assert!(relais::fetch::resolve_guarded("169.254.169.254", false)
        .await
        .is_err());
}

// ---------------------------------------------------------------- headers

#[tokio::test]
async fn user_agent_and_accept_are_sent() {
    let server = FixtureServer::start(Routes::new().fixed("/feed", Reply::ok(FEED))).await;
    let config = FetchConfig {
        user_agent: "relais-test/1.0 (+https://veille.example.org)".into(),
        ..config()
    };
    body(fetch(&config, &server.url("/feed"), &Validators::default()).await);
    let log = server.requests();
    assert_eq!(log[0].method, "GET");
    assert_eq!(
        log[0].header("user-agent"),
        Some("relais-test/1.0 (+https://veille.example.org)")
    );
    let accept = log[0].header("accept").unwrap_or_default();
    assert!(accept.starts_with("application/rss+xml"), "{accept}");
    assert!(accept.contains("application/atom+xml"), "{accept}");
    assert!(accept.contains("application/feed+json"), "{accept}");
}

// ---------------------------------------------------------------- local files

#[tokio::test]
async fn local_file_is_read() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("tempdir: {err}"));
    let path = dir.path().join("flux.xml");
    std::fs::write(&path, FEED).unwrap_or_else(|err| panic!("write: {err}"));
    let got = body(
        fetcher(&config())
            .fetch(&Location::File(path.clone()), &Validators::default())
            .await,
    );
    assert_eq!(got.bytes, FEED.as_bytes());
    assert_eq!(got.status, 200);
    assert_eq!(got.final_url, None);
    assert_eq!(got.permanent_url, None);
    assert_eq!(got.etag, None);
}

#[tokio::test]
async fn local_file_over_the_cap_or_missing_is_an_error() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("tempdir: {err}"));
    let path = dir.path().join("big.xml");
    std::fs::write(&path, vec![b'x'; 2048]).unwrap_or_else(|err| panic!("write: {err}"));
    let config = FetchConfig {
        max_body: 1024,
        ..config()
    };
    let fetcher = fetcher(&config);
    let err = error(
        fetcher
            .fetch(&Location::File(path.clone()), &Validators::default())
            .await,
    );
    assert!(
        matches!(err, FetchError::TooLarge { limit: 1024, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );

    let missing = dir.path().join("absent.xml");
    let err = error(
        fetcher
            .fetch(&Location::File(missing.clone()), &Validators::default())
            .await,
    );
    assert!(matches!(err, FetchError::File { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&missing.display().to_string()),
        "{err}"
    );
}

// ---------------------------------------------------------------- concurrency

async fn fetch_many(config: FetchConfig, server: &FixtureServer, count: usize) {
    let fetcher = Arc::new(fetcher(&config));
    let mut tasks = Vec::new();
    for n in 0..count {
        let fetcher = Arc::clone(&fetcher);
        let location = http(&server.url(&format!("/slow?n={n}")));
        tasks.push(tokio::spawn(async move {
            fetcher.fetch(&location, &Validators::default()).await
        }));
    }
    for task in tasks {
        match task.await {
            Ok(result) => {
                body(result);
            }
            Err(err) => panic!("fetch task failed: {err}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_host_limit_caps_parallel_requests() {
    // The server is slow on purpose so that unlimited fetches would overlap.
    let server = FixtureServer::start(
        Routes::new().fixed("/slow", Reply::ok(FEED).delay(Duration::from_millis(300))),
    )
    .await;
    let config = FetchConfig {
        per_host: 2,
        concurrency: 16,
        ..config()
    };
    fetch_many(config, &server, 6).await;
    assert_eq!(server.requests().len(), 6);
    assert_eq!(server.max_in_flight(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_limit_caps_parallel_requests() {
    let server = FixtureServer::start(
        Routes::new().fixed("/slow", Reply::ok(FEED).delay(Duration::from_millis(150))),
    )
    .await;
    let config = FetchConfig {
        per_host: 8,
        concurrency: 1,
        ..config()
    };
    fetch_many(config, &server, 4).await;
    assert_eq!(server.requests().len(), 4);
    assert_eq!(server.max_in_flight(), 1);
}

#[tokio::test]
async fn connect_timeout_applies_when_the_server_never_accepts() {
    // A listener that never accepts, with its tiny backlog filled: Linux then drops
    // further SYNs, so a new connection neither succeeds nor fails, like a black hole.
    let socket = tokio::net::TcpSocket::new_v4().unwrap_or_else(|err| panic!("socket: {err}"));
    socket
        .bind("127.0.0.1:0".parse().unwrap_or_else(|err| panic!("{err}")))
        .unwrap_or_else(|err| panic!("bind: {err}"));
    let addr = socket
        .local_addr()
        .unwrap_or_else(|err| panic!("addr: {err}"));
    let _listener = socket
        .listen(0)
        .unwrap_or_else(|err| panic!("listen: {err}"));
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(
            Duration::from_millis(100),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            Ok(Ok(stream)) => fillers.push(stream),
            _ => break,
        }
    }
    let config = FetchConfig {
        connect_timeout: Duration::from_millis(300),
        timeout: Duration::from_secs(5),
        ..config()
    };
    let started = Instant::now();
    let err = error(
        fetch(
            &config,
            &format!("http://{addr}/feed"),
            &Validators::default(),
        )
        .await,
    );
    assert!(matches!(err, FetchError::ConnectTimeout { .. }), "{err:?}");
    assert!(err.is_timeout());
    assert_eq!(
        err.to_string(),
        format!("http://{addr}/feed: no connection within 300ms")
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
