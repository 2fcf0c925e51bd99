//! The address guard: which hosts a fetch may reach. Feed URLs come from partners and,
//! through redirects, from whoever runs their servers, so without this guard relais would
//! be a proxy into the machine it runs on (loopback services, cloud metadata, the office
//! LAN). Two checks cooperate: [`check_target`] refuses bad schemes and IP literals in a
//! URL before each hop is requested (reqwest never resolves literals), and
//! [`GuardedResolver`] resolves names itself and hands reqwest only acceptable addresses,
//! so the address checked is the address connected to (no DNS-rebinding window).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

use super::FetchError;

/// What an IP address is, as far as fetching is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    /// Globally routable: a partner's server.
    Public,
    Loopback,
    /// RFC 1918 v4 ranges, IPv6 unique-local (fc00::/7) and deprecated site-local.
    Private,
    LinkLocal,
    /// Cloud instance metadata (169.254.169.254, fd00:ec2::254): the classic SSRF prize.
    Metadata,
    /// Carrier-grade NAT shared space, 100.64.0.0/10.
    SharedCgnat,
    /// 0.0.0.0/8 and `::`: connecting there reaches the local host on Linux.
    Unspecified,
    Broadcast,
    Multicast,
    Documentation,
    Benchmarking,
    /// Other special-purpose ranges (IETF assignments, 240/4, discard, Teredo,
    /// IPv4-compatible IPv6) that no partner feed lives on.
    Reserved,
}

impl AddressKind {
    /// Kinds that are never a feed host, even on an intranet: `allow_private` does not
    /// open them (0.0.0.0 in particular is loopback in disguise).
    fn never_allowed(self) -> bool {
        matches!(
            self,
            AddressKind::Unspecified | AddressKind::Broadcast | AddressKind::Multicast
        )
    }

    /// Whether a fetch may connect to an address of this kind.
    pub fn is_allowed(self, allow_private: bool) -> bool {
        match self {
            AddressKind::Public => true,
            kind if kind.never_allowed() => false,
            _ => allow_private,
        }
    }
}

impl fmt::Display for AddressKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressKind::Public => "public",
            AddressKind::Loopback => "loopback",
            AddressKind::Private => "private",
            AddressKind::LinkLocal => "link-local",
            AddressKind::Metadata => "cloud metadata",
            AddressKind::SharedCgnat => "carrier-grade nat",
            AddressKind::Unspecified => "unspecified",
            AddressKind::Broadcast => "broadcast",
            AddressKind::Multicast => "multicast",
            AddressKind::Documentation => "documentation",
            AddressKind::Benchmarking => "benchmarking",
            AddressKind::Reserved => "reserved",
        })
    }
}

/// Classify an address. IPv6 forms that embed an IPv4 address and reach it through a
/// translator or tunnel (mapped, NAT64, 6to4) are judged by the embedded address.
pub fn classify(ip: IpAddr) -> AddressKind {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressKind {
    let [a, b, c, d] = ip.octets();
    match (a, b, c, d) {
        (0, ..) => AddressKind::Unspecified,
        (10, ..) => AddressKind::Private,
        (100, 64..=127, ..) => AddressKind::SharedCgnat,
        (127, ..) => AddressKind::Loopback,
        (169, 254, 169, 254) => AddressKind::Metadata,
        (169, 254, ..) => AddressKind::LinkLocal,
        (172, 16..=31, ..) => AddressKind::Private,
        (192, 0, 0, _) => AddressKind::Reserved,
        (192, 0, 2, _) | (198, 51, 100, _) | (203, 0, 113, _) => AddressKind::Documentation,
        (192, 168, ..) => AddressKind::Private,
        (198, 18..=19, ..) => AddressKind::Benchmarking,
        (224..=239, ..) => AddressKind::Multicast,
        (255, 255, 255, 255) => AddressKind::Broadcast,
        (240..=255, ..) => AddressKind::Reserved,
        _ => AddressKind::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressKind {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if ip.is_unspecified() {
        return AddressKind::Unspecified;
    }
    if ip.is_loopback() {
        return AddressKind::Loopback;
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    match s {
        // IPv4-compatible (::a.b.c.d), deprecated since 2006: no real host uses it, and
        // some stacks still route it to the embedded v4 address.
        [0, 0, 0, 0, 0, 0, _, _] => AddressKind::Reserved,
        // NAT64 well-known prefix: the translator connects to the embedded v4 address.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => classify_v4(embedded(hi, lo)),
        // NAT64 local-use prefix: a site's own translator, by definition internal.
        [0x64, 0xff9b, 1, ..] => AddressKind::Private,
        // Discard-only prefix.
        [0x100, 0, 0, 0, ..] => AddressKind::Reserved,
        // Teredo tunnels embed obfuscated addresses; no feed lives behind one.
        [0x2001, 0, ..] => AddressKind::Reserved,
        [0x2001, 2, 0, ..] => AddressKind::Benchmarking,
        [0x2001, 0xdb8, ..] => AddressKind::Documentation,
        // 6to4: the relay forwards to the v4 address in bits 16..48.
        [0x2002, hi, lo, ..] => classify_v4(embedded(hi, lo)),
        // AWS's IPv6 instance metadata endpoint, inside the ULA range.
        [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254] => AddressKind::Metadata,
        [x, ..] if x & 0xfe00 == 0xfc00 => AddressKind::Private,
        [x, ..] if x & 0xffc0 == 0xfe80 => AddressKind::LinkLocal,
        [x, ..] if x & 0xffc0 == 0xfec0 => AddressKind::Private,
        [x, ..] if x & 0xff00 == 0xff00 => AddressKind::Multicast,
        _ => AddressKind::Public,
    }
}

/// Check one hop before it is requested: http(s) only, a host, and, when the host is an
/// IP literal, an acceptable address. Names are checked at resolution time instead, by
/// `GuardedResolver`, because only then is the address known.
pub fn check_target(url: &Url, allow_private: bool) -> Result<(), FetchError> {
    match url.scheme() {
        "http" | "https" => {}
        scheme => {
            return Err(FetchError::Scheme {
                url: url.to_string(),
                scheme: scheme.to_owned(),
            })
        }
    }
    let ip = match url.host() {
        None => {
            return Err(FetchError::InvalidUrl {
                url: url.to_string(),
                message: "no host".into(),
            })
        }
        Some(Host::Domain(_)) => return Ok(()),
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
    };
    let kind = classify(ip);
    if kind.is_allowed(allow_private) {
        Ok(())
    } else {
        Err(FetchError::Refused {
            url: url.to_string(),
            addr: ip,
            kind,
        })
    }
}

/// A name that could not be turned into an acceptable address.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{host}: cannot resolve: {source}")]
    Lookup {
        host: String,
        source: std::io::Error,
    },
    #[error("{host}: resolves to no address")]
    NoAddress { host: String },
    #[error("{host}: resolves only to refused addresses ({addr} is {kind})")]
    Refused {
        host: String,
        addr: IpAddr,
        kind: AddressKind,
    },
}

/// Resolve `host` with the system resolver and keep only the addresses a fetch may
/// connect to. A name with some acceptable addresses keeps those (a sloppy zone with a
/// stray private record still works, and the private one is never dialled); a name with
/// none is refused. Port 0 lets reqwest put the URL's port in.
pub async fn resolve_guarded(
    host: &str,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, ResolveError> {
    // reqwest hands over bare names, but stay correct if a bracketed literal shows up.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let found: Vec<SocketAddr> = tokio::net::lookup_host((bare, 0))
        .await
        .map_err(|source| ResolveError::Lookup {
            host: host.to_owned(),
            source,
        })?
        .collect();
    let mut first_refused = None;
    let mut kept = Vec::with_capacity(found.len());
    for addr in found {
        let kind = classify(addr.ip());
        if kind.is_allowed(allow_private) {
            kept.push(addr);
        } else if first_refused.is_none() {
            first_refused = Some((addr.ip(), kind));
        }
    }
    match (kept.is_empty(), first_refused) {
        (false, _) => Ok(kept),
        (true, Some((addr, kind))) => Err(ResolveError::Refused {
            host: host.to_owned(),
            addr,
            kind,
        }),
        (true, None) => Err(ResolveError::NoAddress {
            host: host.to_owned(),
        }),
    }
}

/// reqwest's resolver hook, so every connection reqwest opens for a name (first hop,
/// redirects, reconnections) goes through [`resolve_guarded`].
#[derive(Debug, Clone, Copy)]
pub(super) struct GuardedResolver {
    pub(super) allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addrs = resolve_guarded(&host, allow_private).await?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AddressKind::*;

    #[test]
    fn classification_table() {
        let cases: &[(&str, AddressKind)] = &[
            // IPv4
            ("8.8.8.8", Public),
            ("93.184.216.34", Public),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("10.0.0.1", Private),
            ("10.255.255.255", Private),
            ("100.63.255.255", Public),
            ("100.64.0.1", SharedCgnat),
            ("100.100.100.200", SharedCgnat),
            ("100.127.255.255", SharedCgnat),
            ("100.128.0.0", Public),
            ("127.0.0.1", Loopback),
            ("127.255.0.9", Loopback),
            ("169.254.169.254", Metadata),
            ("169.254.1.1", LinkLocal),
            ("172.15.255.255", Public),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("172.32.0.0", Public),
            ("192.0.0.8", Reserved),
            ("192.0.2.1", Documentation),
            ("198.51.100.7", Documentation),
            ("203.0.113.9", Documentation),
            ("192.168.1.1", Private),
            ("192.169.0.1", Public),
            ("198.18.0.1", Benchmarking),
            ("198.19.255.255", Benchmarking),
            ("198.20.0.0", Public),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("240.0.0.1", Reserved),
            ("255.255.255.255", Broadcast),
            // IPv6
            ("2001:4860:4860::8888", Public),
            ("2a00:1450:4007:80e::200e", Public),
            ("::", Unspecified),
            ("::1", Loopback),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:10.1.2.3", Private),
            ("::ffff:169.254.169.254", Metadata),
            ("::ffff:8.8.8.8", Public),
            ("::127.0.0.1", Reserved),
            ("::8.8.8.8", Reserved),
            ("64:ff9b::127.0.0.1", Loopback),
            ("64:ff9b::192.168.0.1", Private),
            ("64:ff9b::a9fe:a9fe", Metadata),
            ("64:ff9b::8.8.8.8", Public),
            ("64:ff9b:1::1", Private),
            ("2002:7f00:1::1", Loopback),
            ("2002:c0a8:101::", Private),
            ("2002:0808:0808::1", Public),
            ("fd00:ec2::254", Metadata),
            ("fd12:3456::1", Private),
            ("fc00::1", Private),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("fec0::1", Private),
            ("ff02::1", Multicast),
            ("2001:db8::1", Documentation),
            ("2001:2::1", Benchmarking),
            ("2001:0:4136:e378::1", Reserved),
            ("100::1", Reserved),
        ];
        for (text, expected) in cases {
            let ip: IpAddr = match text.parse() {
                Ok(ip) => ip,
                Err(err) => panic!("{text}: {err}"),
            };
            assert_eq!(classify(ip), *expected, "{text}");
        }
    }

    #[test]
    fn allow_private_opens_all_but_unroutable_kinds() {
        for kind in [
            Loopback,
            Private,
            LinkLocal,
            Metadata,
            SharedCgnat,
            Documentation,
            Benchmarking,
            Reserved,
        ] {
            assert!(!kind.is_allowed(false), "{kind}");
            assert!(kind.is_allowed(true), "{kind}");
        }
        for kind in [Unspecified, Broadcast, Multicast] {
            assert!(!kind.is_allowed(false), "{kind}");
            assert!(!kind.is_allowed(true), "{kind}");
        }
        assert!(Public.is_allowed(false));
    }

    /// The url crate normalises odd spellings of hosts into IP literals; each must be
    /// caught by the hop check, and every refusal must name the URL.
    #[test]
    fn hop_check_table() {
        let refused: &[(&str, AddressKind)] = &[
            ("http://127.0.0.1/feed", Loopback),
            ("http://2130706433/", Loopback),
            ("http://0x7f.1/", Loopback),
            ("http://0177.0.0.1/", Loopback),
            ("http://127.1/", Loopback),
            ("http://[::1]:8080/", Loopback),
            ("http://[::ffff:127.0.0.1]/", Loopback),
            ("http://[::ffff:7f00:1]/", Loopback),
            ("https://169.254.169.254/latest/meta-data/", Metadata),
            ("http://[fd00:ec2::254]/", Metadata),
            ("http://10.0.0.5/", Private),
            ("http://[fc00::5]/", Private),
            ("http://100.64.1.1/", SharedCgnat),
            ("http://0.0.0.0:8080/", Unspecified),
            ("http://[64:ff9b::7f00:1]/", Loopback),
            ("http://[2002:a00:1::]/", Private),
        ];
        for (text, kind) in refused {
            let url = Url::parse(text).unwrap_or_else(|err| panic!("{text}: {err}"));
            match check_target(&url, false) {
                Err(err @ FetchError::Refused { kind: got, .. }) => {
                    assert_eq!(got, *kind, "{text}");
                    assert!(err.to_string().starts_with(url.as_str()), "{err}");
                }
                other => panic!("{text}: expected a refusal, got {other:?}"),
            }
        }
        for text in [
            "http://example.org/feed",
            "https://localhost/",
            "http://8.8.8.8/",
            "http://[2001:4860::1]/",
        ] {
            let url = Url::parse(text).unwrap_or_else(|err| panic!("{text}: {err}"));
            assert!(check_target(&url, false).is_ok(), "{text}");
        }
        for text in ["http://127.0.0.1:9/", "http://[::ffff:10.0.0.1]/"] {
            let url = Url::parse(text).unwrap_or_else(|err| panic!("{text}: {err}"));
            assert!(check_target(&url, true).is_ok(), "{text}");
        }
        for text in [
            "ftp://example.org/feed.xml",
            "file:///etc/passwd",
            "gopher://x/",
        ] {
            let url = Url::parse(text).unwrap_or_else(|err| panic!("{text}: {err}"));
            assert!(
                matches!(check_target(&url, true), Err(FetchError::Scheme { .. })),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn resolver_refuses_names_of_loopback() {
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = match "localhost".parse() {
            Ok(name) => name,
            Err(err) => panic!("{err}"),
        };
        let refused = GuardedResolver {
            allow_private: false,
        }
        .resolve(name)
        .await;
        let err = match refused {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(err) => err,
        };
        match err.downcast_ref::<ResolveError>() {
            Some(ResolveError::Refused { host, kind, .. }) => {
                assert_eq!(host, "localhost");
                assert_eq!(*kind, Loopback);
            }
            other => panic!("expected a refusal, got {other:?}"),
        }

        let name: reqwest::dns::Name = match "localhost".parse() {
            Ok(name) => name,
            Err(err) => panic!("{err}"),
        };
        let allowed = GuardedResolver {
            allow_private: true,
        }
        .resolve(name)
        .await;
        match allowed {
            Ok(addrs) => {
                let addrs: Vec<SocketAddr> = addrs.collect();
                assert!(!addrs.is_empty());
                assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
            }
            Err(err) => panic!("{err}"),
        }
    }
}
