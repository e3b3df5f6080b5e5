//! The virtual path namespace every session sees: absolute, `/`-separated, UTF-8 paths
//! (RFC 2640) resolved lexically against the working directory. Storage receives only
//! normalised paths (see [`Storage`](super::Storage)), so `.`/`..` tricks never reach it.
//!
//! RFC 959 leaves pathname syntax to the server (section 3.2 and appendix II); ours is the Unix
//! one: `..` at `/` stays at `/` (there is nothing above the root to climb to), empty
//! components and `.` are dropped, and `~` or `\` are ordinary characters.

/// Resolves `arg` (absolute or relative to `cwd`, which is normalised) to a normalised
/// absolute path: `/`, no `.` or `..` (`..` at `/` stays `/`), no empty components, no
/// trailing slash. `~` is not special.
pub fn resolve(cwd: &str, arg: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if !arg.starts_with('/') {
        push_all(&mut parts, cwd);
    }
    push_all(&mut parts, arg);
    if parts.is_empty() {
        return "/".to_string();
    }
    let mut out = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for part in parts {
        out.push('/');
        out.push_str(part);
    }
    out
}

/// Applies the components of `path` to `parts`.
fn push_all<'a>(parts: &mut Vec<&'a str>, path: &'a str) {
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
}

/// The parent of a normalised path (`/` for `/x` and for `/`).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The last component (`""` for `/`).
pub fn file_name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_and_absolute_paths() {
        let cases = [
            ("/", "", "/"),
            ("/", ".", "/"),
            ("/", "..", "/"),
            ("/", "../../..", "/"),
            ("/", "a", "/a"),
            ("/a", "b", "/a/b"),
            ("/a", "b/", "/a/b"),
            ("/a", "/b", "/b"),
            ("/a/b", "..", "/a"),
            ("/a/b", "../..", "/"),
            ("/a/b", "../../../c", "/c"),
            ("/a", "./b/./c/", "/a/b/c"),
            ("/a", "b//c///d", "/a/b/c/d"),
            ("/a", "/a/../a", "/a"),
            ("/", "//x", "/x"),
            ("/", "~", "/~"),
            ("/", "~/x", "/~/x"),
            ("/", "a\\..\\b", "/a\\..\\b"),
            ("/", "...", "/..."),
            ("/", ".hidden", "/.hidden"),
            ("/", " spaced ", "/ spaced "),
            ("/a", " /b", "/a/ /b"),
            ("/dir", "ünï ✓", "/dir/ünï ✓"),
        ];
        for (cwd, arg, want) in cases {
            assert_eq!(resolve(cwd, arg), want, "resolve({cwd:?}, {arg:?})");
        }
    }

    #[test]
    fn parent_and_file_name() {
        assert_eq!(parent("/"), "/");
        assert_eq!(parent("/x"), "/");
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a/b/c"), "/a/b");
        assert_eq!(file_name("/"), "");
        assert_eq!(file_name("/x"), "x");
        assert_eq!(file_name("/a/b c"), "b c");
    }
}
