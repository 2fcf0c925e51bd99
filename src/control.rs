//! The daemon's control socket: how `relais items`, `fetch`, `stories`, `digest`,
//! `backup`… work while `relais run` holds the store (sled lets one process open it).
//!
//! The daemon listens on a Unix socket beside the store (the store path with the
//! extension `.sock`: `data/relais.db` → `data/relais.sock`), mode 0600: only the user
//! the daemon runs as may connect; there is no token. A client sends its command line
//! and folder; the daemon parses it with the same clap definitions and runs the same
//! [`cli::execute`] against its open store, configuration, refresher and digester, and
//! streams back what the command writes — stdout bytes, stderr bytes, files, progress —
//! then the exit status. The client prints them as they come, so output is the same as
//! without a daemon, byte for byte; files (`backup --out`, `export --out`, `digest preview
//! --out`) are written by the client, as its user, in its folder.
//!
//! Wire format (version [`PROTOCOL`]): frames of one tag byte, a big-endian u32 length
//! and the payload. The client sends one `Q` frame, JSON `{"version", "argv", "cwd"}`, at
//! most [`MAX_REQUEST`] bytes; the daemon answers with any number of `O` (stdout), `E`
//! (stderr), `F` (open file: its path), `D` (file bytes), `C` (file complete), `P`
//! (progress, JSON `{"label", "len", "pos", "done"}`) frames and ends with one `X` frame,
//! JSON `{"code", "error"}`. A connection is one request.

use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream as StdStream;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cli::{self, Command, Ctx, Output, PartialFile, Terminal};
use crate::progress::Progress;

/// The protocol version; a daemon refuses requests of another version.
pub const PROTOCOL: u32 = 1;
/// The largest request a daemon reads.
pub const MAX_REQUEST: usize = 64 * 1024;
/// The largest frame a client accepts (the daemon sends at most [`CHUNK`] at once).
const MAX_REPLY_FRAME: usize = 16 * 1024 * 1024;
/// Bytes of stdout or of a file gathered before a frame is sent.
const CHUNK: usize = 64 * 1024;
/// How long a client may take to send its request once connected.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a write to a client that stopped reading may block the command.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long requests under way may run on once the daemon is stopping.
const GRACE: Duration = Duration::from_secs(10);

mod tag {
    pub const REQUEST: u8 = b'Q';
    pub const OUT: u8 = b'O';
    pub const ERR: u8 = b'E';
    pub const FILE: u8 = b'F';
    pub const DATA: u8 = b'D';
    pub const CLOSE: u8 = b'C';
    pub const PROGRESS: u8 = b'P';
    pub const EXIT: u8 = b'X';
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("control socket {path}: {message}")]
    Bind { path: String, message: String },
}

#[derive(Debug, Serialize, Deserialize)]
struct Request {
    version: u32,
    argv: Vec<String>,
    cwd: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Exit {
    code: u8,
    error: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ProgressFrame {
    label: String,
    len: Option<u64>,
    pos: u64,
    done: bool,
}

/// The control socket of the store at `store`: beside it, extension `.sock`.
pub fn socket_path(store: &Path) -> PathBuf {
    store.with_extension("sock")
}

// ---------------------------------------------------------------------------------------
// The daemon's side.

/// What each request runs against, asked afresh for every request so that a reloaded
/// configuration (and the refresher and digester built from it) applies at once: the
/// daemon reads it from its watch of the parts in force (`daemon::Current::ctx`).
pub type Current = Arc<dyn Fn() -> Ctx + Send + Sync>;

/// Listen on the control socket of the store at `store` until `stopped` turns true, then
/// remove the socket and give requests under way `GRACE` to finish. The caller must
/// hold the store: a socket file already there is then a crashed daemon's, and replaced.
/// Without a socket (a path too long, a read-only folder) the daemon runs on and says so.
pub fn start(
    store: &Path,
    current: Current,
    stopped: watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    let path = socket_path(store);
    let listener = bind(&path)
        .and_then(|l| tokio::net::UnixListener::from_std(l).map_err(|e| bind_error(&path, e)));
    match listener {
        Ok(listener) => {
            tracing::info!(socket = %path.display(), "control socket: store commands run here while the daemon runs");
            Some(tokio::spawn(serve(listener, path, current, stopped)))
        }
        Err(e) => {
            tracing::warn!("{e}; store commands cannot run while the daemon runs");
            None
        }
    }
}

fn bind_error(path: &Path, e: impl std::fmt::Display) -> ControlError {
    ControlError::Bind {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Bind in a private folder (0700), set the socket's mode to 0600, then rename it into
/// place: no other user can connect in between, and the rename replaces a stale socket
/// in one step.
fn bind(path: &Path) -> Result<std::os::unix::net::UnixListener, ControlError> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(bind_error(path, "exists and is not a socket; move it away"));
        }
    }
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let private = folder.join(format!(".relais-control-{}", std::process::id()));
    // A crashed daemon that had the same pid may have left it.
    let _ = std::fs::remove_dir_all(&private);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&private)
        .map_err(|e| bind_error(&private, e))?;
    let temporary = private.join("s");
    let bound = std::os::unix::net::UnixListener::bind(&temporary)
        .map_err(|e| bind_error(path, e))
        .and_then(|listener| {
            std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600))
                .and_then(|()| std::fs::rename(&temporary, path))
                .and_then(|()| listener.set_nonblocking(true))
                .map_err(|e| bind_error(path, e))?;
            Ok(listener)
        });
    let _ = std::fs::remove_file(&temporary);
    let _ = std::fs::remove_dir(&private);
    bound
}

async fn serve(
    listener: tokio::net::UnixListener,
    path: PathBuf,
    current: Current,
    mut stopped: watch::Receiver<bool>,
) {
    let mut requests = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    requests.spawn(handle(stream, Arc::clone(&current)));
                }
                Err(e) => {
                    // Out of file descriptors, most likely: wait rather than spin.
                    tracing::warn!(error = %e, "control socket: cannot accept");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = requests.join_next(), if !requests.is_empty() => {}
            () = stopping(&mut stopped) => break,
        }
    }
    drop(listener);
    if let Err(e) = std::fs::remove_file(&path) {
        tracing::warn!(socket = %path.display(), error = %e, "cannot remove the control socket");
    }
    let finished = tokio::time::timeout(GRACE, async {
        while requests.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tracing::warn!("control socket: requests still running at shutdown were abandoned");
        requests.abort_all();
    }
}

/// Completes when `stopped` turns true (or its sender is gone).
async fn stopping(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

/// One connection: read the request (async, with a deadline, so idle clients cost no
/// thread), then run the command on a blocking thread that writes the replies.
async fn handle(mut stream: UnixStream, current: Current) {
    let request = match tokio::time::timeout(REQUEST_TIMEOUT, read_request(&mut stream)).await {
        Ok(Ok(Some(request))) => request,
        // Connected and left without asking (`control::answers`): nothing to say.
        Ok(Ok(None)) => return,
        Ok(Err(message)) => return refuse(stream, message).await,
        Err(_) => return refuse(stream, "no request within 10 s".to_string()).await,
    };
    let command = match parse_request(&request) {
        Ok(command) => command,
        Err(message) => return refuse(stream, message).await,
    };
    let stream = match stream.into_std().and_then(|s| {
        s.set_nonblocking(false)?;
        s.set_write_timeout(Some(WRITE_TIMEOUT))?;
        Ok(s)
    }) {
        Ok(stream) => stream,
        Err(e) => {
            tracing::warn!(error = %e, "control socket: cannot use a connection");
            return;
        }
    };
    tracing::debug!(argv = ?request.argv, cwd = %request.cwd, "control request");
    let ctx = current();
    let ran = tokio::task::spawn_blocking(move || {
        let mut remote = Remote::new(stream);
        let result = cli::execute(&ctx, &command, &mut remote);
        remote.finish(result)
    })
    .await;
    match ran {
        Ok(Ok(())) => {}
        // The client went away: its loss; the daemon carries on.
        Ok(Err(e)) => tracing::debug!(error = %e, "control socket: client gone"),
        Err(e) => tracing::error!(error = %e, "control socket: a command failed"),
    }
}

/// Read the `Q` frame. `Ok(None)`: the client closed without a request.
async fn read_request(stream: &mut UnixStream) -> Result<Option<Request>, String> {
    let mut head = [0u8; 5];
    match stream.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(format!("cannot read the request: {e}")),
    }
    let [t, a, b, c, d] = head;
    let len = u32::from_be_bytes([a, b, c, d]) as usize;
    if t != tag::REQUEST {
        return Err(format!(
            "not a relais control request (protocol {PROTOCOL}: a `Q` frame)"
        ));
    }
    if len > MAX_REQUEST {
        return Err(format!(
            "request of {len} bytes; at most {MAX_REQUEST} are read"
        ));
    }
    let mut payload = vec![0; len];
    stream
        .read_exact(&mut payload)
        .await
        .map_err(|e| format!("cannot read the request: {e}"))?;
    let request: Request =
        serde_json::from_slice(&payload).map_err(|e| format!("malformed request: {e}"))?;
    Ok(Some(request))
}

fn parse_request(request: &Request) -> Result<Command, String> {
    if request.version != PROTOCOL {
        return Err(format!(
            "this daemon speaks control protocol {PROTOCOL}, the client {}: use the same relais version",
            request.version
        ));
    }
    let command = cli::parse_args(&request.argv)?;
    if matches!(command, Command::Restore { .. }) {
        return Err(
            "stop the daemon first: restore loads a backup into an empty store, which the running daemon holds"
                .to_string(),
        );
    }
    Ok(command)
}

/// Answer a request that cannot run with one `X` frame.
async fn refuse(mut stream: UnixStream, message: String) {
    tracing::warn!("control socket: refused a request: {message}");
    let exit = Exit {
        code: 1,
        error: Some(message),
    };
    let mut bytes = Vec::new();
    if serde_json::to_writer(&mut bytes, &exit).is_ok() {
        let _ = stream.write_all(&frame_head(tag::EXIT, bytes.len())).await;
        let _ = stream.write_all(&bytes).await;
        let _ = stream.shutdown().await;
    }
}

fn frame_head(tag: u8, len: usize) -> [u8; 5] {
    let [a, b, c, d] = u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes();
    [tag, a, b, c, d]
}

/// The connection, shared by the command's writers and its progress reports.
type Wire = Arc<Mutex<BufWriter<StdStream>>>;

fn send(wire: &Wire, tag: u8, payload: &[u8]) -> std::io::Result<()> {
    let mut w = wire
        .lock()
        .map_err(|_| std::io::Error::other("control connection poisoned"))?;
    w.write_all(&frame_head(tag, payload.len()))?;
    w.write_all(payload)?;
    w.flush()
}

/// A writer that sends what it is given as frames of one tag, [`CHUNK`] at a time.
struct Frames {
    wire: Wire,
    tag: u8,
    buf: Vec<u8>,
}

impl Write for Frames {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            send(&self.wire, self.tag, &self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

/// A command's [`Output`] when it runs for a control-socket client.
struct Remote {
    wire: Wire,
    out: Frames,
    err: Frames,
}

impl Remote {
    fn new(stream: StdStream) -> Remote {
        let wire = Arc::new(Mutex::new(BufWriter::new(stream)));
        let frames = |tag| Frames {
            wire: Arc::clone(&wire),
            tag,
            buf: Vec::new(),
        };
        Remote {
            out: frames(tag::OUT),
            err: frames(tag::ERR),
            wire,
        }
    }

    /// Send what is left and the exit status.
    fn finish(mut self, result: anyhow::Result<()>) -> std::io::Result<()> {
        self.out.flush()?;
        self.err.flush()?;
        let exit = match result {
            Ok(()) => Exit {
                code: 0,
                error: None,
            },
            Err(e) => Exit {
                code: 1,
                error: Some(format!("{e:#}")),
            },
        };
        let bytes = serde_json::to_vec(&exit).map_err(std::io::Error::other)?;
        send(&self.wire, tag::EXIT, &bytes)
    }
}

impl Output for Remote {
    fn out(&mut self) -> &mut dyn Write {
        &mut self.out
    }
    fn err(&mut self) -> &mut dyn Write {
        // Keep the order of answer and notes.
        let _ = self.out.flush();
        &mut self.err
    }
    fn file(
        &mut self,
        path: &Path,
        fill: &mut dyn FnMut(&mut dyn Write) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        self.out.flush()?;
        let name = path
            .to_str()
            .ok_or_else(|| anyhow::anyhow!("{}: not a UTF-8 path", path.display()))?;
        send(&self.wire, tag::FILE, name.as_bytes())?;
        let mut data = Frames {
            wire: Arc::clone(&self.wire),
            tag: tag::DATA,
            buf: Vec::new(),
        };
        fill(&mut data)?;
        data.flush()?;
        send(&self.wire, tag::CLOSE, &[])?;
        Ok(())
    }
    fn progress(&mut self, len: Option<u64>, label: &str) -> Progress {
        let wire = Arc::clone(&self.wire);
        Progress::remote(
            len,
            label,
            Arc::new(move |label, len, pos, done| {
                let frame = ProgressFrame {
                    label: label.to_string(),
                    len,
                    pos,
                    done,
                };
                if let Ok(bytes) = serde_json::to_vec(&frame) {
                    let _ = send(&wire, tag::PROGRESS, &bytes);
                }
            }),
        )
    }
}

// ---------------------------------------------------------------------------------------
// The client's side.

/// Whether a daemon answers on `socket` (it connects; nothing is asked).
pub fn answers(socket: &Path) -> bool {
    StdStream::connect(socket).is_ok()
}

/// Run `command` (given as `argv`, the command line after the program name) through the
/// daemon on `socket`, printing its output on `terminal` and writing its files here.
/// `Ok(None)`: no daemon answers (no socket, or a stale one): open the store instead.
/// `Ok(Some(result))`: the daemon ran it; `result` is the command's own.
pub fn forward(
    socket: &Path,
    argv: Vec<String>,
    command: &Command,
    terminal: &mut Terminal,
) -> anyhow::Result<Option<anyhow::Result<()>>> {
    use std::io::ErrorKind;
    let mut stream = match StdStream::connect(socket) {
        Ok(stream) => stream,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {
            return Ok(None)
        }
        Err(e) if e.kind() == ErrorKind::PermissionDenied => anyhow::bail!(
            "{}: permission denied: a daemon holds the store and its control socket is open \
             only to the user it runs as; run relais as that user",
            socket.display()
        ),
        Err(e) => anyhow::bail!("{}: cannot connect: {e}", socket.display()),
    };
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let request = serde_json::to_vec(&Request {
        version: PROTOCOL,
        argv,
        cwd,
    })?;
    stream
        .write_all(&frame_head(tag::REQUEST, request.len()))
        .and_then(|()| stream.write_all(&request))
        .map_err(|e| anyhow::anyhow!("{}: cannot send the command: {e}", socket.display()))?;
    Ok(Some(receive(
        &mut std::io::BufReader::new(stream),
        socket,
        cli::writable(command),
        terminal,
    )))
}

/// Print the daemon's replies until its exit frame.
fn receive(
    wire: &mut impl Read,
    socket: &Path,
    writable: Option<&Path>,
    terminal: &mut Terminal,
) -> anyhow::Result<()> {
    let mut file: Option<PartialFile> = None;
    let mut progress: Option<Progress> = None;
    loop {
        let Some((tag, payload)) = read_frame(wire)
            .map_err(|e| anyhow::anyhow!("{}: cannot read the reply: {e}", socket.display()))?
        else {
            anyhow::bail!(
                "{}: the daemon closed the connection before the command finished",
                socket.display()
            );
        };
        match tag {
            tag::OUT => {
                let out = terminal.out();
                let written = match &progress {
                    Some(p) => p.suspend(|| out.write_all(&payload).and_then(|()| out.flush())),
                    None => out.write_all(&payload).and_then(|()| out.flush()),
                };
                written?;
            }
            tag::ERR => terminal.err().write_all(&payload)?,
            tag::FILE => {
                let name = PathBuf::from(String::from_utf8_lossy(&payload).into_owned());
                if !writable.is_some_and(|root| within(&name, root)) {
                    anyhow::bail!(
                        "{}: the daemon asked to write {}, which this command did not name",
                        socket.display(),
                        name.display()
                    );
                }
                file = Some(PartialFile::create(&name)?);
            }
            tag::DATA => match &mut file {
                Some(f) => f.write_all(&payload)?,
                None => anyhow::bail!("{}: file bytes before a file", socket.display()),
            },
            tag::CLOSE => match file.take() {
                Some(f) => f.commit()?,
                None => anyhow::bail!("{}: a file closed twice", socket.display()),
            },
            tag::PROGRESS => {
                let Ok(update) = serde_json::from_slice::<ProgressFrame>(&payload) else {
                    continue;
                };
                if update.done {
                    if let Some(p) = progress.take() {
                        p.set_position(update.pos);
                        p.finish();
                    }
                } else {
                    progress
                        .get_or_insert_with(|| terminal.progress(update.len, &update.label))
                        .set_position(update.pos);
                }
            }
            tag::EXIT => {
                let exit: Exit = serde_json::from_slice(&payload).map_err(|e| {
                    anyhow::anyhow!("{}: malformed exit status: {e}", socket.display())
                })?;
                // A file left open is dropped, so removed: the command failed.
                drop(file);
                return match (exit.code, exit.error) {
                    (0, _) => Ok(()),
                    (_, Some(error)) => Err(anyhow::anyhow!(error)),
                    (code, None) => Err(anyhow::anyhow!("the daemon's command ended with {code}")),
                };
            }
            other => anyhow::bail!(
                "{}: unexpected reply (frame `{}`): is the daemon the same relais version?",
                socket.display(),
                char::from(other)
            ),
        }
    }
}

/// `path` is `root` or a plain path below it (no `..`): the daemon may only write what
/// the client's own command names.
fn within(path: &Path, root: &Path) -> bool {
    path.strip_prefix(root)
        .is_ok_and(|rest| rest.components().all(|c| matches!(c, Component::Normal(_))))
}

/// One frame, or `None` at a clean end of stream.
fn read_frame(r: &mut impl Read) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let [t, a, b, c, d] = head;
    let len = u32::from_be_bytes([a, b, c, d]) as usize;
    if len > MAX_REPLY_FRAME {
        return Err(std::io::Error::other(format!("a frame of {len} bytes")));
    }
    let mut payload = vec![0; len];
    r.read_exact(&mut payload)?;
    Ok(Some((t, payload)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_sits_beside_the_store() {
        assert_eq!(
            socket_path(Path::new("data/relais.db")),
            PathBuf::from("data/relais.sock")
        );
        assert_eq!(
            socket_path(Path::new("/var/lib/relais/store")),
            PathBuf::from("/var/lib/relais/store.sock")
        );
    }

    #[test]
    fn a_daemon_writes_only_what_the_command_names() {
        let cases = [
            ("b.jsonl", "b.jsonl", true),
            ("out/feeds/a.rss", "out", true),
            ("../out/a.rss", "../out", true),
            ("out/../etc/passwd", "out", false),
            ("/etc/passwd", "out", false),
            ("other.jsonl", "b.jsonl", false),
        ];
        for (path, root, ok) in cases {
            assert_eq!(
                within(Path::new(path), Path::new(root)),
                ok,
                "{path} in {root}"
            );
        }
    }

    #[test]
    fn requests_the_daemon_refuses() {
        let request = |version, argv: &[&str]| Request {
            version,
            argv: argv.iter().map(|a| a.to_string()).collect(),
            cwd: "/".to_string(),
        };
        let cases: [(Request, &str); 4] = [
            (
                request(2, &["items"]),
                "this daemon speaks control protocol 1, the client 2",
            ),
            (request(1, &["restore", "b.jsonl"]), "stop the daemon first"),
            (
                request(1, &["frobnicate"]),
                "unrecognized subcommand 'frobnicate'",
            ),
            (
                request(1, &["items", "--limit", "x"]),
                "invalid value 'x' for '--limit <LIMIT>'",
            ),
        ];
        for (request, expected) in cases {
            let refused = parse_request(&request).unwrap_err();
            assert!(
                refused.starts_with(expected),
                "{:?}: {refused}",
                request.argv
            );
        }
        assert!(matches!(
            parse_request(&request(1, &["--config", "x.toml", "items", "--json"])),
            Ok(Command::Items { json: true, .. })
        ));
    }

    #[test]
    fn frames_round_trip_and_a_short_stream_is_an_error() {
        let mut bytes = frame_head(tag::OUT, 3).to_vec();
        bytes.extend_from_slice(b"abc");
        let mut r = &bytes[..];
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some((tag::OUT, b"abc".to_vec()))
        );
        assert_eq!(read_frame(&mut r).unwrap(), None);
        let mut short = &bytes[..6];
        assert!(read_frame(&mut short).is_err());
    }
}
