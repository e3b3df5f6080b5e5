//! (being written) FTPS.

/// TLS configurations for control and data connections.
#[derive(Debug, Clone)]
pub struct Tls {}
