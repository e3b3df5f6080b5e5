//! Pure path mapping for [`UserStorage`](super::UserStorage): lexical normalisation of paths
//! (the engine's, and SITE arguments) and their split into the user's home and the virtual
//! `/shared` tree. No I/O happens here, so every rule is covered by table-driven tests.
//!
//! Paths here are FTP paths: `/` is the top of the user's FTP view (their home folder, with
//! the virtual `/shared` beside their own files), not the data root (`Settings::root`) and
//! not a directory handle (`ConfinedDir`, in `dir.rs`).
//!
//! Normalisation is the first line of defence only: home operations also go through cap-std
//! directory handles, which refuse to leave the home whatever the path says (symlinks too).

use std::path::{Component, Path, PathBuf};

/// The reserved name of the virtual folder at FTP `/` of every user.
pub const SHARED: &str = "shared";

/// Where a normalised path points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A path in the user's own home: absolute, normalised (`/`, `/a/b`).
    Home(String),
    /// `/shared` itself.
    SharedRoot,
    /// `/shared/<owner>`.
    SharedOwner(String),
    /// `/shared/<owner>/<path>`: `path` is owner-relative, absolute and normalised.
    Shared {
        /// The owner whose home the path is in.
        owner: String,
        /// The path inside the owner's home, starting with `/`.
        path: String,
    },
}

/// Normalises `path` lexically into an absolute path: `.` is dropped, `..` removes the last
/// component and stops at `/` (RFC 959 gives no meaning to going above FTP `/`, so `/..` is
/// `/`), repeated and trailing slashes go. Relative paths are taken from `/`: callers join them
/// with the working directory first.
pub fn normalise(path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => parts.push(name.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    if parts.is_empty() { "/".to_string() } else { format!("/{}", parts.join("/")) }
}

/// Normalises `path` (the engine's paths already are: this is defence in depth) and tells
/// whether it is in the home or under `/shared`.
pub fn classify(path: &str) -> Target {
    let norm = normalise(Path::new(path));
    let mut rest = norm.trim_start_matches('/').splitn(3, '/');
    match (rest.next(), rest.next(), rest.next()) {
        (Some(SHARED), None, _) => Target::SharedRoot,
        (Some(SHARED), Some(owner), None) => Target::SharedOwner(owner.to_string()),
        (Some(SHARED), Some(owner), Some(path)) => {
            Target::Shared { owner: owner.to_string(), path: format!("/{path}") }
        }
        _ => Target::Home(norm),
    }
}

/// Whether `path` is `base` or inside it (both normalised).
pub fn is_within(path: &str, base: &str) -> bool {
    base == "/"
        || path == base
        || (path.starts_with(base) && path.as_bytes().get(base.len()) == Some(&b'/'))
}

/// For a virtual folder `dir` that is a strict ancestor of the shared path `shared`, the name
/// of the next component on the way down (`/a`, `/a/b/c` gives `b`).
pub fn next_component<'a>(dir: &str, shared: &'a str) -> Option<&'a str> {
    if dir == shared || !is_within(shared, dir) {
        return None;
    }
    let rest = if dir == "/" { &shared[1..] } else { &shared[dir.len() + 1..] };
    rest.split('/').next()
}

/// A normalised absolute path as a path relative to a directory handle (`/` is `.`, the
/// folder itself).
pub fn rel(path: &str) -> PathBuf {
    if path == "/" { PathBuf::from(".") } else { PathBuf::from(&path[1..]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_table() {
        let cases = [
            ("/", "/"),
            ("", "/"),
            (".", "/"),
            ("/a/b/", "/a/b"),
            ("a//b", "/a/b"),
            ("/a/./b", "/a/b"),
            ("/a/../b", "/b"),
            ("/..", "/"),
            ("/../../etc/passwd", "/etc/passwd"),
            ("../..", "/"),
            ("/a/b/../../..", "/"),
            ("/%2e%2e/x", "/%2e%2e/x"),
            ("/..\\..\\x", "/..\\..\\x"),
            ("/with space/é.txt", "/with space/é.txt"),
        ];
        for (input, want) in cases {
            assert_eq!(normalise(Path::new(input)), want, "{input:?}");
        }
    }

    #[test]
    fn classify_table() {
        use Target::*;
        let cases = [
            ("/", Home("/".into())),
            ("/docs/a.txt", Home("/docs/a.txt".into())),
            ("/sharedx", Home("/sharedx".into())),
            ("/docs/shared", Home("/docs/shared".into())),
            ("/shared", SharedRoot),
            ("/shared/", SharedRoot),
            ("/x/../shared", SharedRoot),
            ("/shared/alice", SharedOwner("alice".into())),
            ("/shared/alice/..", SharedRoot),
            (
                "/shared/alice/p/2026/plan.pdf",
                Shared { owner: "alice".into(), path: "/p/2026/plan.pdf".into() },
            ),
            ("/shared/alice/../../etc", Home("/etc".into())),
            ("/shared/alice/p/../../bob/x", Shared { owner: "bob".into(), path: "/x".into() }),
        ];
        for (input, want) in cases {
            assert_eq!(classify(input), want, "{input:?}");
        }
    }

    #[test]
    fn within_and_next_component() {
        assert!(is_within("/a/b", "/a"));
        assert!(is_within("/a", "/a"));
        assert!(is_within("/a", "/"));
        assert!(!is_within("/ab", "/a"));
        assert!(!is_within("/a", "/a/b"));
        assert_eq!(next_component("/", "/a/b/c"), Some("a"));
        assert_eq!(next_component("/a", "/a/b/c"), Some("b"));
        assert_eq!(next_component("/a/b", "/a/b/c"), Some("c"));
        assert_eq!(next_component("/a/b/c", "/a/b/c"), None);
        assert_eq!(next_component("/x", "/a/b/c"), None);
        assert_eq!(next_component("/a/b", "/a/bc"), None);
    }
}
