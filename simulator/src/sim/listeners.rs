//! Where the simulator listens, for the rule that a delivery never reaches the simulator
//! itself (`delivery.allow_self`).

use std::net::{IpAddr, SocketAddr};

use super::Simulator;
use crate::addresses::OwnAddresses;

impl Simulator {
    /// Records that a server listens on `addr` (deliveries to it are refused unless
    /// `delivery.allow_self`); `is_local` tells this machine's addresses apart.
    pub fn add_listener(&self, addr: SocketAddr, is_local: fn(IpAddr) -> bool) {
        let mut own = self.own.write();
        own.listeners.push(addr);
        own.is_local = is_local;
    }

    /// Forgets a listener (its server stopped).
    pub fn remove_listener(&self, addr: SocketAddr) {
        self.own.write().listeners.retain(|l| *l != addr);
    }

    /// Whether a URL's literal host and port name the simulator itself.
    pub fn names_self(&self, host: &str, port: u16) -> bool {
        self.own.read().named_by(host, port)
    }

    /// Where the simulator can be reached: its listeners and its public URL.
    pub fn own_addresses(&self) -> OwnAddresses {
        self.own.read().clone()
    }
}
