//! A scriptable HTTP/1.1 fixture server for integration tests: it listens on
//! 127.0.0.1:0, answers each connection's single request with whatever the test scripted
//! (well-formed replies, or raw bytes that lie about their length, drip, or stall), and
//! logs every request so tests can assert which headers arrived. Deliberately not a real
//! HTTP library: hostile-server tests need to send what no library would.
//!
//! Each test binary uses a different part of it, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod daemon;
pub mod html;
pub mod prom;
pub mod smtp;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// A partner's RSS 2.0 feed of two French items (the daemon and control tests poll it,
/// often with `partenaire` replaced to make another partner).
pub const PARTNER_RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Partenaire</title><link>https://partenaire.example.org/</link>
<item><title>Rencontre régionale à Lyon</title><link>https://partenaire.example.org/a</link>
<guid isPermaLink="false">a-1</guid><pubDate>Mon, 23 Nov 2026 09:00:00 +0100</pubDate>
<description>Une journée d&#8217;échanges.</description></item>
<item><title>Appel à projets 2027</title><link>https://partenaire.example.org/b</link>
<guid isPermaLink="false">b-2</guid><pubDate>Tue, 24 Nov 2026 09:00:00 +0100</pubDate>
<description>Dépôt des dossiers jusqu'au 15 janvier.</description></item>
</channel></rss>"#;

/// A request as it arrived.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The request target as sent (path and query).
    pub target: String,
    /// Header names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The server's own address, so handlers can build absolute URLs.
    pub server: SocketAddr,
}

impl Request {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The target without its query string.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// An absolute URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.server, path)
    }
}

#[derive(Debug, Clone)]
enum Step {
    Write(Vec<u8>),
    Pause(Duration),
    /// The same bytes written `times` times: a huge body the server never holds.
    Repeat(Vec<u8>, u64),
}

/// What the server sends back: a well-formed response built with the methods below, or
/// exact bytes with [`Reply::raw`]. After the reply the connection is closed.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    content_length: bool,
    /// Pause before the head is written (a slow server).
    delay: Option<Duration>,
    /// Write the body one byte at a time with this pause between bytes.
    drip: Option<Duration>,
    /// Pause after the head, before the body (a server that stalls).
    stall: Option<Duration>,
    raw: Option<Vec<Step>>,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            content_length: true,
            delay: None,
            drip: None,
            stall: None,
            raw: None,
        }
    }

    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply::status(200).body(body)
    }

    /// A redirect with the given status to `location` (sent verbatim, relative or not).
    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::status(status).header("Location", location)
    }

    /// Exactly these bytes, nothing added.
    pub fn raw(bytes: impl Into<Vec<u8>>) -> Reply {
        let mut reply = Reply::status(0);
        reply.raw = Some(vec![Step::Write(bytes.into())]);
        reply
    }

    /// A raw script of writes and pauses.
    pub fn script() -> Reply {
        let mut reply = Reply::status(0);
        reply.raw = Some(Vec::new());
        reply
    }

    /// Append raw bytes to a [`Reply::script`].
    pub fn write(mut self, bytes: impl Into<Vec<u8>>) -> Reply {
        self.raw
            .get_or_insert_with(Vec::new)
            .push(Step::Write(bytes.into()));
        self
    }

    /// Append `chunk` written `times` times to a [`Reply::script`]: a body of any size
    /// (a gigabyte, or practically endless) streamed without being allocated.
    pub fn repeat(mut self, chunk: impl Into<Vec<u8>>, times: u64) -> Reply {
        self.raw
            .get_or_insert_with(Vec::new)
            .push(Step::Repeat(chunk.into(), times));
        self
    }

    /// Append a pause to a [`Reply::script`].
    pub fn pause(mut self, pause: Duration) -> Reply {
        self.raw
            .get_or_insert_with(Vec::new)
            .push(Step::Pause(pause));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.body = body.into();
        self
    }

    /// Leave out the Content-Length header (the body then ends at close).
    pub fn without_length(mut self) -> Reply {
        self.content_length = false;
        self
    }

    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = Some(delay);
        self
    }

    pub fn drip(mut self, every: Duration) -> Reply {
        self.drip = Some(every);
        self
    }

    pub fn stall(mut self, stall: Duration) -> Reply {
        self.stall = Some(stall);
        self
    }

    fn steps(self) -> Vec<Step> {
        if let Some(raw) = self.raw {
            return raw;
        }
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let has = |wanted: &str| {
            self.headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(wanted))
        };
        if self.content_length && !has("content-length") {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        if !has("connection") {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        let mut steps = Vec::new();
        if let Some(delay) = self.delay {
            steps.push(Step::Pause(delay));
        }
        steps.push(Step::Write(head.into_bytes()));
        if let Some(stall) = self.stall {
            steps.push(Step::Pause(stall));
        }
        match self.drip {
            Some(every) => {
                for byte in self.body {
                    steps.push(Step::Write(vec![byte]));
                    steps.push(Step::Pause(every));
                }
            }
            None => steps.push(Step::Write(self.body)),
        }
        steps
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// Routes by path (query ignored); anything else gets 404.
#[derive(Clone, Default)]
pub struct Routes {
    handlers: HashMap<String, Handler>,
}

impl Routes {
    pub fn new() -> Routes {
        Routes::default()
    }

    /// Answer `path` with a handler that sees the request (state goes in captured atomics).
    pub fn at(
        mut self,
        path: &str,
        handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> Routes {
        self.handlers.insert(path.to_owned(), Arc::new(handler));
        self
    }

    /// Answer `path` with the same reply every time.
    pub fn fixed(self, path: &str, reply: Reply) -> Routes {
        self.at(path, move |_| reply.clone())
    }
}

#[derive(Default)]
struct Shared {
    log: Mutex<Vec<Request>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// A running fixture server; stops (connections included) when dropped.
pub struct FixtureServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl FixtureServer {
    pub async fn start(routes: Routes) -> FixtureServer {
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(err) => panic!("fixture server cannot bind 127.0.0.1:0: {err}"),
        };
        let addr = match listener.local_addr() {
            Ok(addr) => addr,
            Err(err) => panic!("fixture server has no address: {err}"),
        };
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn(accept_loop(listener, addr, routes, Arc::clone(&shared)));
        FixtureServer { addr, shared, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT` with no trailing slash.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An absolute URL string on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base(), path)
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.log).clone()
    }

    /// Requests received for one path.
    pub fn requests_to(&self, path: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path() == path)
            .collect()
    }

    /// The most requests ever being answered at the same time: a request counts from its
    /// arrival until the last write of its reply starts, so a client that has its answer
    /// is never still counted (the figure never overstates the client's parallelism).
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

async fn accept_loop(listener: TcpListener, addr: SocketAddr, routes: Routes, shared: Arc<Shared>) {
    // Connection tasks live in the set so aborting this task aborts them too.
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        connections.spawn(serve(stream, addr, routes.clone(), Arc::clone(&shared)));
    }
}

async fn serve(mut stream: TcpStream, server: SocketAddr, routes: Routes, shared: Arc<Shared>) {
    let Some(request) = read_request(&mut stream, server).await else {
        return;
    };
    lock(&shared.log).push(request.clone());
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let reply = match routes.handlers.get(request.path()) {
        Some(handler) => handler(&request),
        None => Reply::status(404).body("not found"),
    };
    let steps = reply.steps();
    let last_write = steps
        .iter()
        .rposition(|s| matches!(s, Step::Write(_) | Step::Repeat(..)));
    let mut counted = true;
    for (index, step) in steps.into_iter().enumerate() {
        // Leave the count before the last byte can reach the client: once the client has
        // its answer it may start the next request, which must not see this one counted.
        if Some(index) == last_write {
            shared.in_flight.fetch_sub(1, Ordering::SeqCst);
            counted = false;
        }
        let written = match step {
            Step::Write(bytes) => stream.write_all(&bytes).await.and(stream.flush().await),
            Step::Repeat(chunk, times) => {
                let mut written = Ok(());
                for _ in 0..times {
                    written = stream.write_all(&chunk).await;
                    if written.is_err() {
                        break;
                    }
                }
                written
            }
            Step::Pause(pause) => {
                tokio::time::sleep(pause).await;
                Ok(())
            }
        };
        if written.is_err() {
            break;
        }
    }
    if counted {
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
    let _ = stream.shutdown().await;
}

/// Read one request head (and a Content-Length body); `None` if the client went away
/// or sent something unreadable.
async fn read_request(stream: &mut TcpStream, server: SocketAddr) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(chunk.get(..n)?);
    };
    let head = String::from_utf8_lossy(buf.get(..head_end)?).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        })
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buf.get(head_end + 4..)?.to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(chunk.get(..n)?);
    }
    Some(Request {
        method,
        target,
        headers,
        body,
        server,
    })
}

/// GET `path` over a raw connection, with `extra` request header lines (each ending in
/// CRLF): the status line, the headers (names in lower case) and the body.
pub async fn http_get(
    addr: SocketAddr,
    path: &str,
    extra: &str,
) -> (String, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap_or("").to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

/// A billion-laughs document (nine levels of ten entity references, 10⁹ "lol"s if
/// expanded) declaring UTF-8, with `root` after its DOCTYPE.
pub fn billion_laughs(root: &str) -> String {
    let mut doc = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE rss [\n <!ENTITY lol \"lol\">\n",
    );
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        doc.push_str(&format!(
            " <!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    doc.push_str("]>\n");
    doc.push_str(root);
    doc
}
