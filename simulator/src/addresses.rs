//! Addresses: which peers are loopback, and which delivery targets are the simulator itself.
//!
//! A webhook must never reach the simulator that sends it (`delivery.allow_self` off, the
//! default): a subscription could otherwise make the simulator call its own control API
//! (`/_sim/reset`) or re-send its own deliveries in a loop. [`OwnAddresses`] knows where the
//! simulator listens; the subscriptions owner asks it about a URL's literal host when a
//! subscription is made, and the delivery shell asks it about every address the host resolves
//! to when a delivery is sent (a DNS name can change in between).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Whether `ip` is a loopback address, IPv4-mapped IPv6 (`::ffff:127.0.0.1`) included: a
/// server bound to `[::]` sees its IPv4 loopback clients that way.
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Why a notification URL that reaches the simulator itself is refused (at subscribe time) or
/// not sent (at delivery time).
pub fn self_target(url: &str) -> String {
    format!(
        "\"{url}\" points at this simulator itself (one of its own addresses and ports); deliveries to \
         the simulator are refused so that a webhook cannot call its control API or loop on its own \
         deliveries (rule delivery.allow_self); point it at your flow, or set delivery.allow_self = true \
         in the tenant file"
    )
}

/// Where the simulator can be reached: its listeners and its public URL.
#[derive(Debug, Clone)]
pub struct OwnAddresses {
    /// The bound listeners. An unspecified address (`0.0.0.0`, `[::]`) listens on every local
    /// address.
    pub listeners: Vec<SocketAddr>,
    /// `--public-url`'s host (lower case) and port: a tunnel or proxy in front of the simulator.
    pub public: Option<(String, u16)>,
    /// Whether an address is one of this machine's (the shell's check; the pure core passes
    /// [`no_local_lookup`]).
    pub is_local: fn(IpAddr) -> bool,
}

impl Default for OwnAddresses {
    fn default() -> OwnAddresses {
        OwnAddresses {
            listeners: Vec::new(),
            public: None,
            is_local: no_local_lookup,
        }
    }
}

/// An `is_local` that knows no interface addresses (loopback and unspecified addresses are
/// recognised without it).
pub fn no_local_lookup(_: IpAddr) -> bool {
    false
}

impl OwnAddresses {
    /// Whether a URL with this literal host and port names the simulator: `localhost` (and
    /// `*.localhost`), a loopback, unspecified or own address on a listener's port, or the
    /// public URL's authority. A DNS name is judged when it is resolved, at send time.
    pub fn named_by(&self, host: &str, port: u16) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if self
            .public
            .as_ref()
            .is_some_and(|(h, p)| *h == host && *p == port)
        {
            return true;
        }
        if host == "localhost" || host.ends_with(".localhost") {
            let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
            let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port);
            return self.is(v4) || self.is(v6);
        }
        host.parse::<IpAddr>()
            .is_ok_and(|ip| self.is(SocketAddr::new(ip, port)))
    }

    /// Whether a connection to `addr` would reach one of the simulator's listeners.
    pub fn is(&self, addr: SocketAddr) -> bool {
        let ip = addr.ip().to_canonical();
        self.listeners.iter().any(|l| {
            if l.port() != addr.port() {
                return false;
            }
            let listening = l.ip().to_canonical();
            // Connecting to an unspecified address reaches the local host.
            ip == listening
                || ip.is_unspecified()
                || (listening.is_unspecified() && (ip.is_loopback() || (self.is_local)(ip)))
        })
    }
}

/// `--public-url`: the scheme and authority clients use to reach the simulator through a
/// tunnel or proxy; absolute URLs in answers (`Location`, `@odata.context`, next links,
/// partition URLs) use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    /// `https://abc.tunnel.example` (no trailing slash).
    pub base: String,
    /// Its host in lower case, and its port (the scheme's default when not written).
    pub host: String,
    pub port: u16,
}

impl PublicUrl {
    /// Reads `http(s)://host[:port]` (a trailing `/` is allowed; a path is not, since routes
    /// are served from the root).
    pub fn parse(text: &str) -> Result<PublicUrl, String> {
        let bad = |why: &str| {
            format!(
                "invalid public URL \"{text}\": {why}; write the scheme and host the clients use, e.g. https://abc123.tunnel.example"
            )
        };
        let uri: http::Uri = text.trim().parse().map_err(|_| bad("it is not a URL"))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(bad("it must start with http:// or https://")),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("it has no host"))?;
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(bad("it must not have a path or a query"));
        }
        let authority = uri.authority().map_or(host, |a| a.as_str());
        Ok(PublicUrl {
            base: format!("{}://{authority}", if https { "https" } else { "http" }),
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase(),
            port: uri.port_u16().unwrap_or(if https { 443 } else { 80 }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own(listener: &str) -> OwnAddresses {
        OwnAddresses {
            listeners: vec![listener.parse().unwrap()],
            public: Some(("abc.tunnel.example".into(), 443)),
            is_local: |ip| ip == IpAddr::from([192, 168, 1, 5]),
        }
    }

    #[test]
    fn every_alias_of_a_loopback_listener_is_the_simulator() {
        let o = own("127.0.0.1:8080");
        for host in [
            "127.0.0.1",
            "localhost",
            "LOCALHOST.",
            "api.localhost",
            "0.0.0.0",
        ] {
            assert!(o.named_by(host, 8080), "{host}");
        }
        assert!(o.named_by("[::ffff:127.0.0.1]", 8080));
        assert!(o.named_by("abc.tunnel.example", 443), "the public URL");
        assert!(
            !o.named_by("127.0.0.1", 9000),
            "another port is another server"
        );
        assert!(!o.named_by("192.168.1.5", 8080), "not listening there");
        assert!(
            !o.named_by("example.com", 8080),
            "a name is judged when resolved"
        );
    }

    #[test]
    fn a_listener_on_every_address_is_reached_through_any_local_one() {
        for listener in ["0.0.0.0:8080", "[::]:8080"] {
            let o = own(listener);
            for host in [
                "127.0.0.1",
                "127.0.0.2",
                "[::1]",
                "localhost",
                "192.168.1.5",
            ] {
                assert!(o.named_by(host, 8080), "{listener} {host}");
            }
            assert!(
                !o.named_by("10.0.0.9", 8080),
                "{listener}: not a local address"
            );
        }
    }

    #[test]
    fn a_public_url_is_a_scheme_and_an_authority() {
        let p = PublicUrl::parse("https://ABC.tunnel.example/").unwrap();
        assert_eq!(
            (p.base.as_str(), p.host.as_str(), p.port),
            ("https://ABC.tunnel.example", "abc.tunnel.example", 443)
        );
        assert_eq!(PublicUrl::parse("http://[::1]:9000").unwrap().port, 9000);
        for bad in ["ftp://x", "https://x/base", "x.example", "https://x/?a=1"] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ipv4_mapped_loopback_is_loopback() {
        assert!(is_loopback("::ffff:127.0.0.1".parse().unwrap()));
        assert!(is_loopback("::1".parse().unwrap()));
        assert!(!is_loopback("::ffff:10.0.0.1".parse().unwrap()));
    }
}
