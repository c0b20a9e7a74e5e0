//! Repository rules checked on the source text, as rust-analyzer's tidy
//! tests do:
//!
//! - no import cycle among the core's modules (`use crate::…` and
//!   `use super::…` edges; a parent declaring `mod child;` is not an edge);
//! - no document outside the repository is cited as the contract.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable source directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/machine/exit.rs` → `machine::exit`; `src/machine/mod.rs` →
/// `machine`; `src/lib.rs` → `crate`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    if parts.is_empty() {
        "crate".into()
    } else {
        parts.join("::")
    }
}

/// The modules a file's `use` lines reach, resolved to the longest known
/// module path.
fn imports(module: &str, text: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    // Join `use` statements that span lines.
    let mut statements = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(stmt) = current.as_mut() {
            stmt.push_str(line);
        } else if line.starts_with("use ")
            || line.starts_with("pub use ")
            || line.starts_with("pub(crate) use ")
        {
            current = Some(line.to_string());
        }
        if current.as_ref().is_some_and(|s| s.ends_with(';')) {
            statements.push(current.take().expect("some"));
        }
    }
    for stmt in statements {
        let path = stmt
            .split("use ")
            .nth(1)
            .unwrap_or("")
            .trim_end_matches(';');
        let absolute = if let Some(rest) = path.strip_prefix("crate::") {
            rest.to_string()
        } else if let Some(rest) = path.strip_prefix("super::") {
            let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
            if parent.is_empty() {
                rest.to_string()
            } else {
                format!("{parent}::{rest}")
            }
        } else {
            continue;
        };
        // `a::b::{c, d::e}` → candidates `a::b::c`, `a::b::d::e`, and `a::b`.
        let (base, group) = match absolute.split_once("::{") {
            Some((b, g)) => (b.to_string(), g.trim_end_matches('}').to_string()),
            None => (absolute.clone(), String::new()),
        };
        let mut candidates = vec![base.clone()];
        for item in group.split(',') {
            let item = item.trim().split(" as ").next().unwrap_or("").trim();
            if !item.is_empty() && item != "self" {
                candidates.push(format!("{base}::{item}"));
            }
        }
        for c in candidates {
            let mut path = c.as_str();
            loop {
                if known.contains(path) {
                    if path != module && !module.starts_with(&format!("{path}::")) {
                        out.insert(path.to_string());
                    }
                    break;
                }
                match path.rsplit_once("::") {
                    Some((p, _)) => path = p,
                    None => break,
                }
            }
        }
    }
    out
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

fn core_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeMap<String, String> = files
        .iter()
        .map(|f| (module_of(&src, f), fs::read_to_string(f).expect("readable")))
        .collect();
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(m, text)| (m.clone(), imports(m, text, &known)))
        .collect()
}

#[test]
fn the_core_modules_import_each_other_without_cycles() {
    let graph = core_graph();
    assert!(graph.len() > 15, "found only {:?}", graph.keys());
    // The graph is real: the scheduler reaches the state owners, the entry
    // point reaches the machine.
    assert!(graph["machine"].contains("state::runs"), "{graph:?}");
    assert!(graph["event"].contains("machine"), "{graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle: {}", cycle.join(" → "));
    }
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    graph.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(find_cycle(&graph).map(|c| c.len()), Some(4));
    graph.insert("c".to_string(), BTreeSet::new());
    assert_eq!(find_cycle(&graph), None);
}

#[test]
fn no_document_outside_the_repository_is_cited() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches", "examples", "crates"] {
        rust_files(&root.join(dir), &mut files);
    }
    files.push(root.join("README.md"));
    files.push(root.join("ARCHITECTURE.md"));
    let outside = ["DESIGN", "BENCH", ".md"].map(|s| s.to_string());
    for file in files {
        if file.ends_with("tests/tidy.rs") {
            continue;
        }
        let text = fs::read_to_string(&file).expect("readable");
        for (n, line) in text.lines().enumerate() {
            for word in line.split(|c: char| c.is_whitespace() || c == '`' || c == '(' || c == ')')
            {
                let cites = word.ends_with(&outside[2])
                    && (word.contains(&outside[0]) || word.contains(&outside[1]));
                assert!(!cites, "{}:{}: cites {word}", file.display(), n + 1);
            }
        }
    }
}
