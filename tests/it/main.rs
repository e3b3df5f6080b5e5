//! Integration tests: the real daemon on loopback, driven by real FTP clients.
