//! Who is at the other end: the client's address, for the limits counted per address.
//! Behind a proxy the operator trusts (`trusted_proxies`), it is the address the proxy
//! names in `X-Forwarded-For`; from anyone else that header is ignored, so a client
//! cannot choose the address it is counted under.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use super::state::AppState;

/// The client's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// What limits count under: an IPv4 address, or the /64 an IPv6 address is in (a
    /// household or a phone is given a whole /64, so counting single IPv6 addresses would
    /// let one client come back under 2^64 names).
    pub fn key(self) -> IpAddr {
        match self.0 {
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
        }
    }
}

/// The client's address, given the peer that connected (`None` when the router is called
/// in-process), the request's headers and the trusted proxies: `X-Forwarded-For` is read
/// from the right, each proxy appending the address it heard from, and the first address
/// that is not a trusted proxy is the client.
pub fn client_addr(peer: Option<IpAddr>, headers: &HeaderMap, proxies: &[IpNet]) -> IpAddr {
    let trusted = |ip: &IpAddr| proxies.iter().any(|net| net.contains(ip));
    let mut client = match peer {
        Some(ip) => ip.to_canonical(),
        None => return IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    if !trusted(&client) {
        return client;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    for hop in hops.iter().rev() {
        // Anything unreadable ends the chain: what is left of it cannot be trusted.
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            break;
        };
        client = ip.to_canonical();
        if !trusted(&client) {
            break;
        }
    }
    client
}

impl<S: Send + Sync, B: Send + Sync> FromRequestParts<AppState<S, B>> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState<S, B>,
    ) -> Result<ClientAddr, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(ClientAddr(client_addr(peer, &parts.headers, &app.proxies)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn a_client_that_is_not_a_trusted_proxy_cannot_name_another_address() {
        let got = client_addr(
            Some("203.0.113.7".parse().unwrap()),
            &headers(&["198.51.100.1"]),
            &nets(&["127.0.0.1/32"]),
        );
        assert_eq!(got, "203.0.113.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client() {
        let proxies = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        // The client put a made-up address first; nginx appended what it heard, and an
        // inner proxy appended nginx's address.
        let got = client_addr(
            Some("127.0.0.1".parse().unwrap()),
            &headers(&["6.6.6.6, 198.51.100.9", "10.1.2.3"]),
            &proxies,
        );
        assert_eq!(got, "198.51.100.9".parse::<IpAddr>().unwrap());
        // No header: the proxy itself.
        let got = client_addr(Some("10.0.0.5".parse().unwrap()), &headers(&[]), &proxies);
        assert_eq!(got, "10.0.0.5".parse::<IpAddr>().unwrap());
        // Garbage ends the chain at the last address that could be read.
        let got = client_addr(
            Some("127.0.0.1".parse().unwrap()),
            &headers(&["198.51.100.9, not-an-address, 10.1.2.3"]),
            &proxies,
        );
        assert_eq!(got, "10.1.2.3".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a = ClientAddr("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = ClientAddr("2001:db8:1:2:ffff::9".parse().unwrap());
        let c = ClientAddr("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a.key(), b.key());
        assert_ne!(a.key(), c.key());
        let mapped = client_addr(
            Some("::ffff:192.0.2.1".parse().unwrap()),
            &HeaderMap::new(),
            &[],
        );
        assert_eq!(mapped, "192.0.2.1".parse::<IpAddr>().unwrap());
    }
}
