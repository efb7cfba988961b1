//! Integration tests of the simulator: the API in-process (most of them) and over real sockets.

mod api;
mod architecture;
mod connector;
mod consistency;
mod durability;
mod http;
mod lifecycle;
mod manage;
mod openapi;
mod paging;
mod parity;
mod reliability;
mod routes;
mod support;
mod tls_deliveries;
mod tunnel;
mod workflows;
