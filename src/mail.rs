//! Mail: building a digest message and handing it to an SMTP server. The only module
//! that speaks `lettre`.
//!
//! The message (RFC 5322, MIME): `multipart/alternative` with `text/plain` first and
//! `text/html` last, as RFC 2046 §5.1.4 orders them (simplest first, preferred last);
//! UTF-8 bodies in quoted-printable or base64 (lettre picks the shorter), the subject
//! and names encoded per RFC 2047, so the whole message is 7-bit ASCII and can be kept
//! as text in the ledger. Headers: From, To, Subject, Date, a Message-ID that is stable
//! per (digest, period) so a re-sent issue is recognisable as the same one, List-Id
//! (RFC 2919), List-Archive and List-Unsubscribe (RFC 2369), and
//! List-Unsubscribe-Post: List-Unsubscribe=One-Click only when an https unsubscribe URL
//! is given (RFC 8058; senders who need one-click in Gmail must also DKIM-sign these
//! headers, which is the relay's job).
//!
//! Delivery speaks SMTP step by step (EHLO, STARTTLS or TLS, AUTH, MAIL, RCPT, DATA)
//! rather than in one call, so that the caller learns the moment the message body is
//! about to be handed over: before it, a failure certainly delivered nothing and the
//! message can be tried again; after it, the server may have accepted the message even
//! if relais never saw the reply. Every step has the configured deadline (10 minutes by
//! default, what RFC 5321 §4.5.3.2 allows the final reply: lettre's own default of 60 s
//! would turn a slow "250" into an uncertain delivery).

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use lettre::address::Envelope;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Quit, Rcpt};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, Message};
use url::Url;

use crate::config::{SmtpConfig, SmtpSecurity};

/// What a digest message says, besides its bodies.
#[derive(Debug, Clone)]
pub struct Draft<'a> {
    /// `Name <address>` or an address.
    pub from: &'a str,
    pub to: &'a [String],
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    /// With its angle brackets: `<2026-W48.hebdo.digest@veille.example.org>`.
    pub message_id: &'a str,
    pub date: DateTime<Utc>,
    /// `List-Id`, with its angle brackets and optional phrase: `Title <id.host>`.
    pub list_id: &'a str,
    pub archive: Option<&'a str>,
    /// `mailto:` and `https:` URLs.
    pub unsubscribe: &'a [Url],
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address `{address}`: {message}")]
    Address { address: String, message: String },
    #[error("cannot build the message: {0}")]
    Build(String),
}

/// The message as RFC 5322 text (CRLF line ends, 7-bit ASCII).
pub fn build(draft: &Draft<'_>) -> Result<String, MailError> {
    let mut builder = envelope_headers(
        draft.from,
        draft.to,
        draft.subject,
        draft.date,
        draft.message_id,
    )?
    .header(Raw::new("List-Id", draft.list_id));
    if let Some(archive) = draft.archive {
        builder = builder.header(Raw::new("List-Archive", &format!("<{archive}>")));
    }
    if !draft.unsubscribe.is_empty() {
        let list: Vec<String> = draft.unsubscribe.iter().map(|u| format!("<{u}>")).collect();
        builder = builder.header(Raw::new("List-Unsubscribe", &list.join(", ")));
        if draft.unsubscribe.iter().any(|u| u.scheme() == "https") {
            builder = builder.header(Raw::new(
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click",
            ));
        }
    }
    builder = builder.header(Raw::new("Auto-Submitted", "auto-generated"));
    let body = MultiPart::alternative()
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(draft.text.to_string()),
        )
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(draft.html.to_string()),
        );
    ascii(builder.multipart(body))
}

/// From, To, Subject, Date and Message-ID: what every message relais sends carries.
fn envelope_headers(
    from: &str,
    to: &[String],
    subject: &str,
    date: DateTime<Utc>,
    message_id: &str,
) -> Result<lettre::message::MessageBuilder, MailError> {
    let mut builder = Message::builder()
        .from(mailbox(from)?)
        .subject(subject)
        .date(SystemTime::from(date))
        .message_id(Some(message_id.to_string()));
    for to in to {
        builder = builder.to(mailbox(to)?);
    }
    Ok(builder)
}

/// The built message as text: lettre encodes every header and body to 7-bit ASCII.
fn ascii(message: Result<Message, lettre::error::Error>) -> Result<String, MailError> {
    let message = message.map_err(|e| MailError::Build(e.to_string()))?;
    String::from_utf8(message.formatted())
        .map_err(|_| MailError::Build("the message is not 7-bit text".to_string()))
}

/// A short plain-text note (operator alerts): one `text/plain` UTF-8 part, the same
/// encoding rules as digests, so it too is 7-bit text that a ledger can keep.
#[derive(Debug, Clone)]
pub struct Note<'a> {
    pub from: &'a str,
    pub to: &'a [String],
    pub subject: &'a str,
    pub text: &'a str,
    /// With its angle brackets.
    pub message_id: &'a str,
    pub date: DateTime<Utc>,
}

/// The note as RFC 5322 text (CRLF line ends, 7-bit ASCII).
pub fn build_note(note: &Note<'_>) -> Result<String, MailError> {
    let builder = envelope_headers(note.from, note.to, note.subject, note.date, note.message_id)?
        .header(Raw::new("Auto-Submitted", "auto-generated"));
    ascii(
        builder.singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(note.text.to_string()),
        ),
    )
}

/// A header lettre has no type for, written through its RFC 2047 encoder.
#[derive(Debug, Clone)]
struct Raw {
    name: &'static str,
    value: String,
}

impl Raw {
    fn new(name: &'static str, value: &str) -> Raw {
        // Header values are one line: a CR or LF would inject headers.
        let value = value.replace(['\r', '\n'], " ");
        Raw { name, value }
    }
}

impl Header for Raw {
    fn name() -> HeaderName {
        // Never called: `display` names the header itself.
        HeaderName::new_from_ascii_str("X-Relais")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Raw::new("X-Relais", s))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(
            HeaderName::new_from_ascii_str(self.name),
            self.value.clone(),
        )
    }
}

fn mailbox(text: &str) -> Result<Mailbox, MailError> {
    Mailbox::from_str(text.trim()).map_err(|e| MailError::Address {
        address: text.to_string(),
        message: e.to_string(),
    })
}

fn address(text: &str) -> Result<Address, MailError> {
    Ok(mailbox(text)?.email)
}

/// Why a delivery did not happen, by what the caller can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Nothing was delivered and trying later may work: connection refused or cut
    /// before the body, a timeout before the body, a 4xx reply.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// The server refused for good (5xx), or the configuration cannot work.
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// The body was handed over and no verdict came back (connection lost, timeout on
    /// the final reply): the message may have been delivered.
    #[error("delivery uncertain: {0}")]
    Uncertain(String),
}

/// Hands messages to the configured SMTP server, one connection per message.
#[derive(Debug, Clone)]
pub struct Mailer {
    config: SmtpConfig,
}

impl Mailer {
    pub fn new(config: &SmtpConfig) -> Mailer {
        Mailer {
            config: config.clone(),
        }
    }

    /// Where messages go, for logs.
    pub fn server(&self) -> String {
        format!("{}:{}", self.config.host, self.config.port)
    }

    /// Sends `message` (RFC 5322 text) from `from` to `to`. `handing_over` runs after
    /// the server's "354 go ahead" and before the body is sent; if it fails, the body is
    /// not sent and the error is transient.
    pub async fn deliver(
        &self,
        from: &str,
        to: &[String],
        message: &str,
        handing_over: impl FnOnce() -> Result<(), String>,
    ) -> Result<(), SendError> {
        let permanent = |e: MailError| SendError::Permanent(e.to_string());
        let sender = address(from).map_err(permanent)?;
        let recipients = to
            .iter()
            .map(|t| address(t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(permanent)?;
        let envelope = Envelope::new(Some(sender.clone()), recipients.clone())
            .map_err(|e| SendError::Permanent(format!("envelope: {e}")))?;
        let limit = self.config.timeout;
        let server = self.server();
        let before = |e: lettre::transport::smtp::Error| classify(&server, e, false);

        let hello = self
            .config
            .hello_name
            .clone()
            .map_or_else(ClientId::default, ClientId::Domain);
        let tls = |host: &str| {
            TlsParameters::new(host.to_string())
                .map_err(|e| SendError::Permanent(format!("{server}: tls: {e}")))
        };
        let implicit = match self.config.security {
            SmtpSecurity::Tls => Some(tls(&self.config.host)?),
            _ => None,
        };
        let mut conn = step(
            limit,
            &server,
            "connect",
            AsyncSmtpConnection::connect_tokio1(
                (self.config.host.as_str(), self.config.port),
                Some(limit),
                &hello,
                implicit,
                None,
            ),
        )
        .await?
        .map_err(before)?;
        if self.config.security == SmtpSecurity::StartTls {
            if !conn.can_starttls() {
                return Err(SendError::Permanent(format!(
                    "{server} does not offer STARTTLS (set security = \"none\" for a local relay)"
                )));
            }
            step(
                limit,
                &server,
                "starttls",
                conn.starttls(tls(&self.config.host)?, &hello),
            )
            .await?
            .map_err(before)?;
        }
        if let Some(user) = &self.config.username {
            let password = self.config.password().map_err(SendError::Permanent)?;
            let credentials = Credentials::new(user.clone(), password.unwrap_or_default());
            step(
                limit,
                &server,
                "auth",
                conn.auth(&[Mechanism::Plain, Mechanism::Login], &credentials),
            )
            .await?
            .map_err(before)?;
        }
        step(
            limit,
            &server,
            "MAIL FROM",
            conn.command(Mail::new(envelope.from().cloned(), vec![])),
        )
        .await?
        .map_err(before)?;
        for rcpt in envelope.to() {
            step(
                limit,
                &server,
                "RCPT TO",
                conn.command(Rcpt::new(rcpt.clone(), vec![])),
            )
            .await?
            .map_err(before)?;
        }
        step(limit, &server, "DATA", conn.command(Data))
            .await?
            .map_err(before)?;
        if let Err(e) = handing_over() {
            conn.abort().await;
            return Err(SendError::Transient(format!(
                "not sent: cannot record the hand-over: {e}"
            )));
        }
        match tokio::time::timeout(limit, conn.message(message.as_bytes())).await {
            Err(_) => {
                conn.abort().await;
                return Err(SendError::Uncertain(format!(
                    "{server}: no reply to the end of the message within {}",
                    humantime::format_duration(limit)
                )));
            }
            Ok(Err(e)) => {
                conn.abort().await;
                return Err(classify(&server, e, true));
            }
            Ok(Ok(_)) => {}
        }
        // The message is accepted; a failed QUIT changes nothing.
        let _ = tokio::time::timeout(Duration::from_secs(30), conn.command(Quit)).await;
        Ok(())
    }
}

/// Runs one step of the conversation under the deadline; a timeout before the body is
/// handed over is transient.
async fn step<T>(
    limit: Duration,
    server: &str,
    what: &str,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, SendError> {
    tokio::time::timeout(limit, fut).await.map_err(|_| {
        SendError::Transient(format!(
            "{server}: {what}: no answer within {}",
            humantime::format_duration(limit)
        ))
    })
}

/// Sorts lettre's errors: a reply code decides when there is one (4xx transient, 5xx
/// permanent); otherwise (network, timeout, protocol) it is transient before the body
/// was handed over and uncertain after.
fn classify(server: &str, e: lettre::transport::smtp::Error, handed_over: bool) -> SendError {
    let text = format!("{server}: {e}");
    if e.is_permanent() {
        SendError::Permanent(text)
    } else if e.is_transient() || !handed_over {
        SendError::Transient(text)
    } else {
        SendError::Uncertain(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft<'a>(to: &'a [String], unsubscribe: &'a [Url]) -> Draft<'a> {
        Draft {
            from: "Veille du réseau <veille@example.org>",
            to,
            subject: "La lettre du réseau — semaine du 23 novembre 2026",
            text: "Coopération décentralisée\n",
            html: "<p>Coopération décentralisée</p>",
            message_id: "<2026-W48.hebdo.digest@veille.example.org>",
            date: DateTime::parse_from_rfc3339("2026-11-30T08:00:00+01:00")
                .unwrap()
                .with_timezone(&Utc),
            list_id: "hebdo.veille.example.org",
            archive: Some("https://veille.example.org/digests/hebdo/"),
            unsubscribe,
        }
    }

    #[test]
    fn messages_are_ascii_and_carry_list_headers() {
        let to = vec!["reseau@lists.example.org".to_string()];
        let mailto = vec![Url::parse("mailto:reseau-unsubscribe@lists.example.org").unwrap()];
        let eml = build(&draft(&to, &mailto)).unwrap();
        assert!(eml.is_ascii());
        assert!(
            eml.contains("List-Unsubscribe: <mailto:reseau-unsubscribe@lists.example.org>\r\n"),
            "{eml}"
        );
        assert!(!eml.contains("List-Unsubscribe-Post"));
        assert!(eml.contains("Message-ID: <2026-W48.hebdo.digest@veille.example.org>\r\n"));
        let both = vec![
            mailto[0].clone(),
            Url::parse("https://lists.example.org/unsubscribe?l=reseau").unwrap(),
        ];
        let eml = build(&draft(&to, &both)).unwrap();
        assert!(eml.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
        let bad = vec!["not an address".to_string()];
        assert!(matches!(
            build(&draft(&bad, &mailto)),
            Err(MailError::Address { .. })
        ));
    }
}
