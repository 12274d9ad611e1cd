//! Address blocks (`server.allow_from`, `server.trusted_proxies`): `203.0.113.0/24`,
//! `2001:db8::/32`, or one address.

use std::net::IpAddr;
use std::str::FromStr;

/// An address block: `203.0.113.0/24`, `2001:db8::/32`, or one address. IPv4-mapped IPv6
/// blocks and addresses (`::ffff:a.b.c.d`) are taken as the IPv4 they carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(ipnet::IpNet);

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, what a dual-stack socket reports) as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl FromStr for Cidr {
    /// The sentence for people, from the catalogue.
    type Err = crate::i18n::Msg;

    fn from_str(s: &str) -> Result<Cidr, crate::i18n::Msg> {
        let s = s.trim();
        let bad = || crate::i18n::Msg::new("cidr.bad").arg("value", s);
        let net = match s.parse::<ipnet::IpNet>() {
            Ok(net) => net,
            Err(_) => ipnet::IpNet::from(IpAddr::from_str(s).map_err(|_| bad())?),
        };
        // `::ffff:10.0.0.0/104` is the IPv4 block 10.0.0.0/8.
        let net = match (net, canonical(net.addr())) {
            (ipnet::IpNet::V6(v6), IpAddr::V4(v4)) if v6.prefix_len() >= 96 => {
                ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                    .map_err(|_| bad())?
                    .into()
            }
            _ => net,
        };
        Ok(Cidr(net))
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&canonical(ip))
    }
}

/// Parses a list of blocks from the config key `key`, naming the bad entry.
pub fn parse_list(key: &str, items: &[String]) -> Result<Vec<Cidr>, crate::i18n::Msg> {
    items
        .iter()
        .map(|i| {
            i.parse::<Cidr>().map_err(|e| {
                crate::i18n::Msg::new("error.in")
                    .arg("what", key)
                    .msg("error", e)
            })
        })
        .collect()
}
