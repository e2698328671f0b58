//! Who is connecting, by address: how many connections each client holds (and all of
//! them together), and which ones fail to authenticate often enough to be slowed down.
//!
//! A client is its IPv4 address, or its IPv6 /64 (one host commonly holds a whole /64).
//! Behind a TLS-terminating proxy (`--insecure-http`) every client is the proxy.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Connections served at once, in all.
pub const MAX_CONNECTIONS: usize = 4096;
/// Connections served at once for one client.
pub const MAX_PER_CLIENT: usize = 256;
/// Failed authentications a client may make in a minute before it is slowed.
pub const FAILURES_PER_MINUTE: usize = 10;
/// A slowed client's authentications take turns, one at a time, this far apart.
pub const SLOWED_TURN: Duration = Duration::from_secs(1);
/// Clients whose failures are remembered; the oldest are forgotten first.
const TRACKED: usize = 10_000;

/// The client an address belongs to.
pub fn client_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The connections open, in all and per client.
#[derive(Default)]
pub struct Connections {
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// Why a connection is turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// All `MAX_CONNECTIONS` are taken.
    Server,
    /// This client holds `MAX_PER_CLIENT` already.
    Client,
}

/// One connection counted open until dropped.
pub struct Admitted {
    connections: Arc<Connections>,
    client: IpAddr,
}

impl Connections {
    /// Count a connection from `ip` open, if neither cap is reached.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admitted, Full> {
        self.admit_within(ip, MAX_CONNECTIONS, MAX_PER_CLIENT)
    }

    fn admit_within(
        self: &Arc<Self>,
        ip: IpAddr,
        all: usize,
        each: usize,
    ) -> Result<Admitted, Full> {
        let client = client_of(ip);
        let mut open = self.open.lock().expect("connections");
        if open.0 >= all {
            return Err(Full::Server);
        }
        let mine = open.1.entry(client).or_insert(0);
        if *mine >= each {
            return Err(Full::Client);
        }
        *mine += 1;
        open.0 += 1;
        Ok(Admitted {
            connections: self.clone(),
            client,
        })
    }

    /// How many connections are open.
    pub fn count(&self) -> usize {
        self.open.lock().expect("connections").0
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.connections.open.lock().expect("connections");
        open.0 = open.0.saturating_sub(1);
        if let Some(mine) = open.1.get_mut(&self.client) {
            *mine -= 1;
            if *mine == 0 {
                open.1.remove(&self.client);
            }
        }
    }
}

/// Failed authentications per client, over the last minute.
#[derive(Default)]
pub struct Failures {
    clients: Mutex<HashMap<IpAddr, Failed>>,
}

struct Failed {
    /// When each failure of the last minute happened, oldest first.
    times: VecDeque<Instant>,
    /// A slowed client's authentications wait for this, one at a time.
    turn: Arc<tokio::sync::Mutex<()>>,
}

/// A slowed client's turn to authenticate, held until it is done.
pub struct Turn(#[allow(dead_code)] Option<tokio::sync::OwnedMutexGuard<()>>);

impl Failures {
    /// Wait for `ip`'s turn if it is slowed (at once otherwise).
    pub async fn turn(&self, ip: IpAddr) -> Turn {
        let slowed = {
            let mut clients = self.clients.lock().expect("failures");
            clients
                .get_mut(&client_of(ip))
                .filter(|failed| failed.recent_now() >= FAILURES_PER_MINUTE)
                .map(|failed| failed.turn.clone())
        };
        match slowed {
            None => Turn(None),
            Some(turn) => {
                let held = turn.lock_owned().await;
                tokio::time::sleep(SLOWED_TURN).await;
                Turn(Some(held))
            }
        }
    }

    /// Count a failed authentication of `ip`; true when this one makes it slowed.
    pub fn failed(&self, ip: IpAddr) -> bool {
        let client = client_of(ip);
        let mut clients = self.clients.lock().expect("failures");
        if clients.len() >= TRACKED && !clients.contains_key(&client) {
            clients.retain(|_, f| f.recent() > 0);
            if clients.len() >= TRACKED {
                let oldest = clients
                    .iter()
                    .min_by_key(|(_, f)| f.times.back().copied())
                    .map(|(ip, _)| *ip);
                if let Some(oldest) = oldest {
                    clients.remove(&oldest);
                }
            }
        }
        let failed = clients.entry(client).or_insert_with(|| Failed {
            times: VecDeque::new(),
            turn: Arc::new(tokio::sync::Mutex::new(())),
        });
        let before = failed.recent();
        failed.times.push_back(Instant::now());
        before + 1 == FAILURES_PER_MINUTE
    }
}

impl Failed {
    /// Failures in the last minute.
    fn recent_now(&self) -> usize {
        self.times
            .iter()
            .filter(|t| t.elapsed() <= Duration::from_secs(60))
            .count()
    }

    /// Failures in the last minute (older ones are forgotten).
    fn recent(&mut self) -> usize {
        while self
            .times
            .front()
            .is_some_and(|t| t.elapsed() > Duration::from_secs(60))
        {
            self.times.pop_front();
        }
        self.times.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_its_v4_address_or_its_v6_64() {
        let v4: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_of(v4), v4);
        let mapped: IpAddr = "::ffff:203.0.113.9".parse().unwrap();
        assert_eq!(client_of(mapped), v4);
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_of(a), client_of(b));
        assert_ne!(client_of(a), client_of(c));
    }

    #[test]
    fn connections_are_capped_in_all_and_per_client_and_freed_when_dropped() {
        let connections = Arc::new(Connections::default());
        let one: IpAddr = "10.0.0.1".parse().unwrap();
        let two: IpAddr = "10.0.0.2".parse().unwrap();
        let three: IpAddr = "10.0.0.3".parse().unwrap();
        let a = connections.admit_within(one, 3, 2).unwrap();
        let _b = connections.admit_within(one, 3, 2).unwrap();
        assert_eq!(
            connections.admit_within(one, 3, 2).err(),
            Some(Full::Client)
        );
        let _c = connections.admit_within(two, 3, 2).unwrap();
        assert_eq!(
            connections.admit_within(three, 3, 2).err(),
            Some(Full::Server)
        );
        assert_eq!(connections.count(), 3);
        drop(a);
        assert_eq!(connections.count(), 2);
        let _d = connections.admit_within(one, 3, 2).unwrap();
    }

    #[test]
    fn the_tenth_failure_in_a_minute_slows_a_client_and_only_that_one() {
        let failures = Failures::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let slowed: Vec<bool> = (0..12).map(|_| failures.failed(ip)).collect();
        assert_eq!(
            slowed.iter().position(|s| *s),
            Some(FAILURES_PER_MINUTE - 1)
        );
        assert_eq!(slowed.iter().filter(|s| **s).count(), 1);
        let clients = failures.clients.lock().unwrap();
        assert!(!clients.contains_key(&"10.0.0.2".parse::<IpAddr>().unwrap()));
    }
}
