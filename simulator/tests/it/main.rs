//! Integration tests of the simulator: the API in-process (most of them) and over real sockets.

mod api;
mod architecture;
mod consistency;
mod http;
mod lifecycle;
mod paging;
mod parity;
mod support;
