//! Which push endpoints the server calls: a push endpoint is a URL a user hands the
//! server to call, so it must be `https` on a public address. Checked when a device
//! subscribes and again at every push: the client resolves names through
//! [`CheckedResolver`], which refuses a name with any internal address and hands the
//! connector only the addresses it checked, so DNS cannot swap one in between the check
//! and the connection.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::LazyLock;

use hyper_util::client::legacy::connect::dns::Name;
use ipnet::{Ipv4Net, Ipv6Net};

/// Why an endpoint is refused (the text is the problem's detail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// IPv4 networks no push goes to: this network, private, shared (CGNAT), loopback,
/// link-local, IETF protocol assignments, documentation, benchmarking, multicast,
/// reserved and broadcast.
static V4_INTERNAL: LazyLock<Vec<Ipv4Net>> = LazyLock::new(|| {
    [
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    ]
    .iter()
    .map(|n| n.parse().expect("a network"))
    .collect()
});

/// IPv6 networks no push goes to: unspecified, loopback, discard, IETF protocol
/// assignments (Teredo, benchmarking, ORCHID), local-use NAT64, documentation, 6to4, unique local,
/// link-local, site-local and multicast. IPv4 inside IPv6 (mapped, compatible, NAT64)
/// is judged by its IPv4 address.
static V6_INTERNAL: LazyLock<Vec<Ipv6Net>> = LazyLock::new(|| {
    [
        "::/128",
        "::1/128",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "2002::/16",
        "3fff::/20",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    ]
    .iter()
    .map(|n| n.parse().expect("a network"))
    .collect()
});

/// Whether a push may go to `ip`. `allow_loopback` admits loopback addresses only.
pub fn allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    if allow_loopback && ip.to_canonical().is_loopback() {
        return true;
    }
    match ip {
        IpAddr::V4(v4) => allowed_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => allowed_v4(v4),
            None => !V6_INTERNAL.iter().any(|n| n.contains(&v6)),
        },
    }
}

fn allowed_v4(ip: Ipv4Addr) -> bool {
    !V4_INTERNAL.iter().any(|n| n.contains(&ip))
}

/// The IPv4 address an IPv6 address stands for: mapped (`::ffff:a.b.c.d`), compatible
/// (`::a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let mapped = s[..5] == [0; 5] && s[5] == 0xffff;
    let compatible = s[..6] == [0; 6] && !(s[6] == 0 && s[7] <= 1);
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    (mapped || compatible || nat64).then_some(tail)
}

/// An endpoint's URL if its form is acceptable (`https`, or `http` to a loopback address
/// when `allow_loopback`; no credentials; at most 2,048 bytes). Its addresses are
/// checked separately ([`check`], [`CheckedResolver`]).
pub fn parse(endpoint: &str, allow_loopback: bool) -> Result<url::Url, Refused> {
    if endpoint.len() > 2048 {
        return Err(Refused("the endpoint is longer than 2,048 bytes".into()));
    }
    let url = url::Url::parse(endpoint)
        .map_err(|e| Refused(format!("the endpoint is not a URL: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused("the endpoint may not carry credentials".into()));
    }
    let literal = literal_ip(&url);
    match url.scheme() {
        "https" => {}
        "http" if allow_loopback && literal.is_some_and(|ip| ip.to_canonical().is_loopback()) => {}
        _ => return Err(Refused("the endpoint must be an https URL".into())),
    }
    if url.host().is_none() {
        return Err(Refused("the endpoint has no host".into()));
    }
    if let Some(ip) = literal
        && !allowed(ip, allow_loopback)
    {
        return Err(internal());
    }
    Ok(url)
}

/// The endpoint's host when it is an address rather than a name.
fn literal_ip(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

fn internal() -> Refused {
    Refused(
        "the endpoint reaches a loopback, private, link-local or otherwise internal address".into(),
    )
}

/// [`parse`], then resolves a name and refuses it unless every address is allowed: what
/// subscribing checks.
pub async fn check(endpoint: &str, allow_loopback: bool) -> Result<url::Url, Refused> {
    let url = parse(endpoint, allow_loopback)?;
    if let Some(url::Host::Domain(name)) = url.host() {
        resolve(name, allow_loopback).await?;
    }
    Ok(url)
}

/// The addresses of `name`, all allowed, or why not.
async fn resolve(name: &str, allow_loopback: bool) -> Result<Vec<SocketAddr>, Refused> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, 0))
        .await
        .map_err(|e| Refused(format!("the endpoint's host does not resolve: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(Refused("the endpoint's host has no address".into()));
    }
    if addrs.iter().any(|a| !allowed(a.ip(), allow_loopback)) {
        return Err(internal());
    }
    Ok(addrs)
}

/// The push client's resolver: the checked addresses of a name, or an error, for
/// hyper-util's connector.
#[derive(Clone, Copy)]
pub struct CheckedResolver {
    /// [`crate::Config::push_allow_loopback`].
    pub allow_loopback: bool,
}

impl tower::Service<Name> for CheckedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = Refused;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Refused>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Refused>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let allow_loopback = self.allow_loopback;
        Box::pin(async move { Ok(resolve(name.as_str(), allow_loopback).await?.into_iter()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused_and_public_ones_allowed() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.20.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
        ] {
            assert!(!allowed(ip.parse().unwrap(), false), "{ip} allowed");
        }
        for ip in [
            "142.250.74.110",
            "2a00:1450:4001:80b::200a",
            "::ffff:8.8.8.8",
        ] {
            assert!(allowed(ip.parse().unwrap(), false), "{ip} refused");
        }
        assert!(allowed("127.0.0.1".parse().unwrap(), true));
        assert!(allowed("::1".parse().unwrap(), true));
        assert!(!allowed("10.0.0.1".parse().unwrap(), true));
    }

    #[test]
    fn only_https_passes_unless_loopback_is_allowed() {
        assert!(parse("http://push.example/x", false).is_err());
        assert!(parse("http://127.0.0.1:8080/x", false).is_err());
        assert!(parse("https://127.0.0.1:8080/x", false).is_err());
        assert!(parse("http://127.0.0.1:8080/x", true).is_ok());
        assert!(parse("http://10.0.0.1:8080/x", true).is_err());
        assert!(parse("http://push.example/x", true).is_err());
        assert!(parse("https://user:pw@push.example/x", false).is_err());
        assert!(parse("ftp://push.example/x", false).is_err());
        assert!(parse("https://push.example/x", false).is_ok());
        assert!(parse("https://[::ffff:192.168.0.1]/x", false).is_err());
    }
}
