//! `HASH` (draft-bryan-ftpext-hash-02, as FileZilla and lftp use it): the digest of a file, or
//! of the byte range set by `RANG`, computed on the server so a client can check a transfer
//! without downloading it again. `OPTS HASH` picks the algorithm; FEAT lists them with the
//! selected one marked by `*`.
//!
//! [`Hasher`] is a [`DataStream`](super::DataStream) that storage "sends" the file into, so
//! `HASH` reuses `Storage::retrieve` (permissions, shares, offsets) instead of needing its own
//! storage operation. SHA-256 and SHA-1 come from `ring` (already our crypto provider), MD5
//! from `md-5`.

use std::pin::Pin;
use std::task::{Context, Poll};

use md5::Digest as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A digest algorithm of the HASH draft (section 3: names as registered by IANA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algo {
    /// `SHA-256`, the default (the draft recommends a SHA-2 default).
    #[default]
    Sha256,
    /// `SHA-1`.
    Sha1,
    /// `MD5`.
    Md5,
}

/// Every algorithm, in FEAT order.
const ALL: [Algo; 3] = [Algo::Sha256, Algo::Sha1, Algo::Md5];

impl Algo {
    /// The algorithm called `name` (case-insensitive), if offered.
    pub fn parse(name: &str) -> Option<Algo> {
        ALL.into_iter().find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// The name in replies: `SHA-256`, `SHA-1`, `MD5`.
    pub fn name(&self) -> &'static str {
        match self {
            Algo::Sha256 => "SHA-256",
            Algo::Sha1 => "SHA-1",
            Algo::Md5 => "MD5",
        }
    }

    /// FEAT's line (draft section 4): `HASH SHA-256*;SHA-1;MD5`, the selected one starred.
    pub fn feat_line(selected: Algo) -> String {
        let names: Vec<String> = ALL
            .iter()
            .map(|&a| if a == selected { format!("{}*", a.name()) } else { a.name().to_string() })
            .collect();
        format!("HASH {}", names.join(";"))
    }
}

/// The digest being computed, by algorithm: ring for the SHA family, the md-5 crate for MD5.
enum State {
    /// SHA-256 or SHA-1.
    Ring(ring::digest::Context),
    /// MD5.
    Md5(md5::Md5),
}

/// An AsyncWrite that hashes what is written to it, up to `limit` bytes (range end), then
/// accepts and ignores the rest; plus trivial AsyncRead (returns EOF) so it is a DataStream.
///
/// `limit` is a byte count: for `RANG start end` the session retrieves from `start` and passes
/// `end - start + 1`.
pub struct Hasher {
    /// The digest so far.
    state: State,
    /// Bytes still to hash; `None` hashes everything.
    left: Option<u64>,
    /// Bytes hashed so far.
    hashed: u64,
}

impl Hasher {
    /// A hasher for `algo` that hashes at most `limit` bytes (`None`: all of them).
    pub fn new(algo: Algo, limit: Option<u64>) -> Self {
        let state = match algo {
            Algo::Sha256 => State::Ring(ring::digest::Context::new(&ring::digest::SHA256)),
            Algo::Sha1 => {
                // SHA-1 is weak against collisions, but the draft offers it and clients use
                // it only to check transfers.
                State::Ring(ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY))
            }
            Algo::Md5 => State::Md5(md5::Md5::new()),
        };
        Self { state, left: limit, hashed: 0 }
    }

    /// Bytes hashed so far (less than the range when the file ended first).
    pub fn hashed(&self) -> u64 {
        self.hashed
    }

    /// The digest in lower-case hex.
    pub fn finish(self) -> String {
        match self.state {
            State::Ring(ctx) => hex(ctx.finish().as_ref()),
            State::Md5(md5) => hex(&md5.finalize()),
        }
    }

    /// Hashes what of `data` is within the limit.
    fn update(&mut self, data: &[u8]) {
        let take = match self.left {
            None => data.len(),
            Some(left) => {
                let take = usize::try_from(left).unwrap_or(usize::MAX).min(data.len());
                self.left = Some(left - take as u64);
                take
            }
        };
        if take == 0 {
            return;
        }
        match &mut self.state {
            State::Ring(ctx) => ctx.update(&data[..take]),
            State::Md5(md5) => md5.update(&data[..take]),
        }
        self.hashed += take as u64;
    }
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher").field("left", &self.left).field("hashed", &self.hashed).finish()
    }
}

/// `bytes` as lower-case hex.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

impl AsyncWrite for Hasher {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.get_mut().update(buf);
        // Everything is accepted, also past the limit: storage sends until the file ends.
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Hasher {
    /// Always at EOF: nothing is ever uploaded into a hash.
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn digest(algo: Algo, limit: Option<u64>, chunks: &[&[u8]]) -> String {
        let mut h = Hasher::new(algo, limit);
        for c in chunks {
            h.write_all(c).await.unwrap();
        }
        h.shutdown().await.unwrap();
        h.finish()
    }

    #[tokio::test]
    async fn known_digests() {
        // FIPS 180 / RFC 1321 test vectors for "abc".
        assert_eq!(
            digest(Algo::Sha256, None, &[b"a", b"bc"]).await,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            digest(Algo::Sha1, None, &[b"abc"]).await,
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            digest(Algo::Md5, None, &[b"ab", b"c"]).await,
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(digest(Algo::Md5, None, &[]).await, "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[tokio::test]
    async fn limit_hashes_only_the_range() {
        let want = digest(Algo::Sha256, None, &[b"abc"]).await;
        assert_eq!(digest(Algo::Sha256, Some(3), &[b"ab", b"cdef", b"gh"]).await, want);
        assert_eq!(
            digest(Algo::Md5, Some(3), &[b"abcdef"]).await,
            digest(Algo::Md5, None, &[b"abc"]).await
        );
        let mut h = Hasher::new(Algo::Sha1, Some(10));
        h.write_all(b"abcd").await.unwrap();
        assert_eq!(h.hashed(), 4);
        let mut h = Hasher::new(Algo::Sha1, Some(0));
        h.write_all(b"abcd").await.unwrap();
        assert_eq!(h.hashed(), 0);
        assert_eq!(h.finish(), digest(Algo::Sha1, None, &[]).await);
    }

    #[tokio::test]
    async fn reads_are_at_eof() {
        let mut h = Hasher::new(Algo::Sha256, None);
        let mut buf = [0u8; 8];
        assert_eq!(h.read(&mut buf).await.unwrap(), 0);
        fn is_stream<T: crate::ftp::DataStream>(_: &T) {}
        is_stream(&h);
    }

    #[test]
    fn names_and_feat() {
        assert_eq!(Algo::parse("sha-256"), Some(Algo::Sha256));
        assert_eq!(Algo::parse("SHA-1"), Some(Algo::Sha1));
        assert_eq!(Algo::parse("md5"), Some(Algo::Md5));
        assert_eq!(Algo::parse("SHA-512"), None);
        assert_eq!(Algo::parse("CRC32"), None);
        assert_eq!(Algo::default(), Algo::Sha256);
        assert_eq!(Algo::feat_line(Algo::Sha256), "HASH SHA-256*;SHA-1;MD5");
        assert_eq!(Algo::feat_line(Algo::Md5), "HASH SHA-256;SHA-1;MD5*");
        for a in ALL {
            assert_eq!(Algo::parse(a.name()), Some(a));
        }
    }
}
