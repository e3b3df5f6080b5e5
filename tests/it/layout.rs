//! The source layout the README's "Where things live" promises: the crate's top-level modules
//! form tiers that only import downward (no module cycle), and no source file grows past about
//! 400 lines of code without its module doc saying why.
//!
//! The check reads `src/` as text: a module depends on another when its code (comments
//! stripped) names `crate::<other>`, or `multiftp::<other>` in the binaries. That is what a
//! reader follows too; rustdoc links in comments are not dependencies.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module's tier: a module may use modules of its own tier or lower ones. Within
/// a tier the graph must still be acyclic (checked separately).
const TIERS: &[(&str, u8)] = &[
    // Shared by all, and the engine, which imports nothing outside itself.
    ("error", 0),
    ("ftp", 0),
    ("config", 1),
    ("db", 1),
    ("transfer_log", 1),
    ("memory", 1),
    // Data: files.
    ("storage", 2),
    // Service (each with its store.rs: the data tier's SQL).
    ("account", 3),
    ("session", 3),
    ("message", 3),
    ("share", 3),
    ("app", 4),
    // Protocol: the engine's adapters, SITE, serving, HTTP and the command-line pieces.
    ("auth", 5),
    ("site", 5),
    ("metrics", 5),
    ("server", 6),
    ("signal", 7),
    ("cli", 7),
    ("bin", 8),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/account/store.rs` -> `account`).
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(src()).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_string()
}

/// The file's text without `//` comments (doc comments included) and string literals' contents
/// are left alone: a path inside a string is rare enough here.
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every top-level module `code` names through `prefix` (`crate::` or `multiftp::`), including
/// the ones inside `use crate::{a, b::c}` groups.
fn referenced(code: &str, prefix: &str, known: &BTreeSet<&str>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        rest = &rest[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name = item.trim().split("::").next().unwrap_or("");
                if known.contains(name) {
                    found.insert(name.to_string());
                }
            }
            continue;
        }
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if known.contains(name.as_str()) {
            found.insert(name);
        }
    }
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let known: BTreeSet<&str> = TIERS.iter().map(|(m, _)| *m).collect();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let module = module_of(&file);
        if module == "lib" {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        let prefix = if module == "bin" { "multiftp::" } else { "crate::" };
        let uses = referenced(&code, prefix, &known);
        graph.entry(module.clone()).or_default().extend(uses.into_iter().filter(|m| *m != module));
    }
    graph
}

#[test]
fn every_top_level_module_has_a_tier() {
    let known: BTreeSet<&str> = TIERS.iter().map(|(m, _)| *m).collect();
    let missing: Vec<String> =
        graph().into_keys().filter(|m| !known.contains(m.as_str())).collect();
    assert!(missing.is_empty(), "modules without a tier in tests/it/layout.rs: {missing:?}");
}

#[test]
fn modules_import_only_their_own_tier_or_below() {
    let tier: BTreeMap<&str, u8> = TIERS.iter().copied().collect();
    let mut upward = Vec::new();
    for (module, uses) in graph() {
        let Some(&own) = tier.get(module.as_str()) else { continue };
        for used in uses {
            if tier[used.as_str()] > own {
                upward.push(format!("{module} -> {used}"));
            }
        }
    }
    assert!(upward.is_empty(), "imports that go up a tier: {upward:?}");
}

#[test]
fn no_module_cycle() {
    let graph = graph();
    // Depth-first search with colours: meeting a module still on the stack is a cycle.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|s| s == m) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(m.to_string());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        stack.push(m.to_string());
        for next in graph.get(m).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        let cycle = visit(module, &graph, &mut Vec::new(), &mut done);
        assert!(cycle.is_none(), "module cycle: {}", cycle.unwrap().join(" -> "));
    }
}

#[test]
fn the_engine_imports_nothing_outside_itself() {
    assert_eq!(graph()["ftp"], BTreeSet::new(), "src/ftp/ must stay a self-contained engine");
}

/// Lines of a file before its unit tests.
fn code_lines(text: &str) -> usize {
    text.lines().take_while(|l| !l.starts_with("#[cfg(test)]")).count()
}

#[test]
fn long_files_say_why_in_their_module_doc() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut unexplained = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines = code_lines(&text);
        let doc: String =
            text.lines().take_while(|l| l.starts_with("//!")).collect::<Vec<_>>().join("\n");
        if lines > 420 && !doc.contains("Why one file") {
            unexplained.push(format!("{} ({lines} lines)", file.display()));
        }
    }
    assert!(
        unexplained.is_empty(),
        "split these files, or say in their module doc (a paragraph starting \"Why one file\") \
         why they stay whole: {unexplained:?}"
    );
}

#[test]
fn the_checker_sees_grouped_and_plain_imports() {
    let known: BTreeSet<&str> = ["db", "error", "share"].into_iter().collect();
    let code =
        code_of("use crate::{db::now, error::Error};\n// crate::share\nlet x = crate::db::now();");
    assert_eq!(referenced(&code, "crate::", &known), ["db", "error"].map(String::from).into());
}
