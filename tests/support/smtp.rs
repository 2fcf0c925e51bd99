//! A small scriptable SMTP server for tests, on 127.0.0.1: it speaks enough ESMTP for a
//! client to deliver (greeting, EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing, RSET,
//! NOOP, QUIT), keeps every message it accepted, and can be told to misbehave session by
//! session: refuse at the greeting, answer a 4xx or 5xx to a given command, take a
//! message and hang up before the final reply, or be slow to give it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Where in a session a scripted reply replaces the normal one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Greeting,
    Mail,
    Rcpt,
    Data,
    /// The reply to the final `.`.
    End,
}

/// How one session goes.
#[derive(Debug, Clone)]
pub enum Session {
    /// Accept everything.
    Accept,
    /// Answer `code` at `stage` (and close after a greeting refusal).
    Reply { stage: Stage, code: u16 },
    /// Read the whole message, keep it as *handed over*, and close without replying.
    HangUpAfterData,
    /// Wait this long before the final 250.
    SlowEnd(Duration),
}

/// A message the server took.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (dot-unstuffed, CRLF line ends).
    pub data: Vec<u8>,
}

struct Shared {
    /// Counts accepted messages, for tests that wait for one.
    count: tokio::sync::watch::Sender<usize>,
    script: VecDeque<Session>,
    accepted: Vec<Received>,
    /// Messages read in full but never answered (`HangUpAfterData`).
    unanswered: Vec<Received>,
    sessions: usize,
}

pub struct SmtpServer {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    task: JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(m: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A port that nothing listens on (bound, then released): connecting to it is refused.
pub async fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    l.local_addr().expect("addr").port()
}

impl SmtpServer {
    /// Starts on a free port; sessions follow `script` in order, then accept.
    pub async fn start(script: Vec<Session>) -> SmtpServer {
        SmtpServer::start_on(0, script).await
    }

    /// Starts on `port` (0 for any).
    pub async fn start_on(port: u16, script: Vec<Session>) -> SmtpServer {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("smtp test server cannot bind");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Mutex::new(Shared {
            count: tokio::sync::watch::channel(0).0,
            script: script.into(),
            accepted: Vec::new(),
            unanswered: Vec::new(),
            sessions: 0,
        }));
        let s = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            let mut sessions = tokio::task::JoinSet::new();
            loop {
                while sessions.try_join_next().is_some() {}
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let behaviour = {
                    let mut g = lock(&s);
                    g.sessions += 1;
                    g.script.pop_front().unwrap_or(Session::Accept)
                };
                sessions.spawn(session(stream, behaviour, Arc::clone(&s)));
            }
        });
        SmtpServer { addr, shared, task }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Messages accepted with a 250 to the final `.`.
    pub fn accepted(&self) -> Vec<Received> {
        lock(&self.shared).accepted.clone()
    }

    /// Waits until `n` messages were accepted (the caller bounds the wait).
    pub async fn wait_accepted(&self, n: usize) {
        let mut rx = lock(&self.shared).count.subscribe();
        let _ = rx.wait_for(|c| *c >= n).await;
    }

    /// Messages read in full but left without a reply.
    pub fn unanswered(&self) -> Vec<Received> {
        lock(&self.shared).unanswered.clone()
    }

    /// Connections received so far.
    pub fn sessions(&self) -> usize {
        lock(&self.shared).sessions
    }
}

async fn session(stream: TcpStream, behaviour: Session, shared: Arc<Mutex<Shared>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let scripted = |stage: Stage| match &behaviour {
        Session::Reply { stage: s, code } if *s == stage => Some(*code),
        _ => None,
    };
    let reply = |code: u16| {
        format!(
            "{code} {}\r\n",
            if code < 400 { "ok" } else { "scripted failure" }
        )
    };
    if let Some(code) = scripted(Stage::Greeting) {
        let _ = write.write_all(reply(code).as_bytes()).await;
        return;
    }
    if write
        .write_all(b"220 test.localhost ESMTP ready\r\n")
        .await
        .is_err()
    {
        return;
    }
    let mut from = String::new();
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end().to_string();
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let answer: String = match verb.as_str() {
            "EHLO" => {
                "250-test.localhost\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 SIZE 10485760\r\n"
                    .into()
            }
            "HELO" => "250 test.localhost\r\n".into(),
            "NOOP" => "250 ok\r\n".into(),
            "RSET" => {
                from.clear();
                to.clear();
                "250 ok\r\n".into()
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            "MAIL" => match scripted(Stage::Mail) {
                Some(code) => reply(code),
                None => {
                    from = angle(&command);
                    "250 ok\r\n".into()
                }
            },
            "RCPT" => match scripted(Stage::Rcpt) {
                Some(code) => reply(code),
                None => {
                    to.push(angle(&command));
                    "250 ok\r\n".into()
                }
            },
            "DATA" => match scripted(Stage::Data) {
                Some(code) => reply(code),
                None => {
                    if write.write_all(b"354 go ahead\r\n").await.is_err() {
                        return;
                    }
                    let Some(data) = read_data(&mut lines).await else {
                        return;
                    };
                    let received = Received {
                        from: from.clone(),
                        to: to.clone(),
                        data,
                    };
                    match &behaviour {
                        Session::HangUpAfterData => {
                            lock(&shared).unanswered.push(received);
                            return;
                        }
                        Session::SlowEnd(wait) => tokio::time::sleep(*wait).await,
                        _ => {}
                    }
                    match scripted(Stage::End) {
                        Some(code) => reply(code),
                        None => {
                            let mut g = lock(&shared);
                            g.accepted.push(received);
                            let n = g.accepted.len();
                            g.count.send_replace(n);
                            "250 queued\r\n".into()
                        }
                    }
                }
            },
            _ => "500 unknown command\r\n".into(),
        };
        if write.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// The address between `<` and `>` of a MAIL or RCPT command.
fn angle(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let end = command.rfind('>').unwrap_or(command.len());
    command.get(start..end).unwrap_or("").to_string()
}

/// Lines up to the lone `.`, dot-unstuffed.
async fn read_data<R: tokio::io::AsyncBufRead + Unpin>(lines: &mut R) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = lines.read_until(b'\n', &mut line).await.ok()?;
        if n == 0 {
            return None;
        }
        if line == b".\r\n" || line == b".\n" {
            return Some(data);
        }
        let content = if line.starts_with(b"..") {
            &line[1..]
        } else {
            &line[..]
        };
        data.extend_from_slice(content);
    }
}
