//! The crate's imports between its top-level modules, checked: none may close a cycle. The
//! data flows one way (see `lib.rs`) and the imports follow it: a module never imports one
//! that imports it, directly or through others. The test names the edge and the files that
//! make it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// Top-level module → imported top-level module → the files that import it. Comments and
/// tests (an inline `#[cfg(test)] mod … {` to the end of its file, and files named `tests*.rs`
/// or `*_tests.rs`) are left out: tests may reach anywhere.
fn graph(src: &Path) -> Graph {
    let mut g = Graph::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(src)
                .unwrap()
                .to_string_lossy()
                .to_string();
            let file = path.file_name().unwrap().to_string_lossy().to_string();
            if !rel.ends_with(".rs") || file.starts_with("tests") || file.ends_with("_tests.rs") {
                continue;
            }
            let top = rel
                .split('/')
                .next()
                .unwrap()
                .trim_end_matches(".rs")
                .to_string();
            if top == "main" || top == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = without_test_module(&text);
            for line in code.lines() {
                let line = line.split("//").next().unwrap_or("");
                for to in imported_modules(line) {
                    if to != top {
                        g.entry(top.clone())
                            .or_default()
                            .entry(to)
                            .or_default()
                            .insert(rel.clone());
                    }
                }
            }
        }
    }
    g
}

/// The top-level modules a line names: `crate::a::…`, and `crate::{a, b::c}` (one line).
fn imported_modules(line: &str) -> Vec<String> {
    let ident = |t: &str| -> String {
        t.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (i, _) in line.match_indices("crate::") {
        let rest = &line[i + 7..];
        match rest.strip_prefix('{') {
            Some(group) => {
                let group = group.split('}').next().unwrap_or("");
                out.extend(group.split(',').map(ident));
            }
            None => out.push(ident(rest)),
        }
    }
    out.retain(|m| !m.is_empty() && m != "self");
    out
}

/// The file up to its inline test module, if any.
fn without_test_module(text: &str) -> &str {
    let mut from = 0;
    while let Some(i) = text[from..].find("#[cfg(test)]") {
        let at = from + i;
        let next = text[at + 12..].trim_start();
        let line = next.lines().next().unwrap_or("");
        if line.starts_with("mod ") && line.trim_end().ends_with('{') {
            return &text[..at];
        }
        from = at + 12;
    }
    text
}

fn reaches(g: &Graph, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_string()];
    while let Some(m) = stack.pop() {
        if m == to {
            return true;
        }
        if seen.insert(m.clone()) {
            stack.extend(g.get(&m).into_iter().flat_map(|d| d.keys().cloned()));
        }
    }
    false
}

/// Every edge that lies on a cycle: `a → b` where `b` reaches `a`.
fn cycle_edges(g: &Graph) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for (from, deps) in g {
        for (to, files) in deps {
            if reaches(g, to, from) {
                out.insert((from.clone(), to.clone()), files.clone());
            }
        }
    }
    out
}

#[test]
fn no_import_cycle_between_modules() {
    let g = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(
        g["webhook"].contains_key("store") && g.contains_key("simulator"),
        "{g:?}"
    );
    let found: Vec<String> = cycle_edges(&g)
        .into_iter()
        .map(|((a, b), files)| format!("{a} → {b} ({})", Vec::from_iter(files).join(", ")))
        .collect();
    assert!(
        found.is_empty(),
        "imports that close a cycle between modules (make the lower module not import the \
         higher one: pass what it needs in, or move the shared part down):\n{}",
        found.join("\n")
    );
}

#[test]
fn a_back_edge_is_caught_and_test_modules_are_not_read() {
    let mut g = Graph::new();
    let edge = |g: &mut Graph, a: &str, b: &str| {
        g.entry(a.into())
            .or_default()
            .entry(b.into())
            .or_default()
            .insert(format!("{a}.rs"));
    };
    edge(&mut g, "webhook", "store");
    edge(&mut g, "store", "schedule");
    assert!(cycle_edges(&g).is_empty());
    edge(&mut g, "schedule", "webhook");
    let found = cycle_edges(&g);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found.contains_key(&("schedule".to_string(), "webhook".to_string())));
    let file = "use crate::a;\n#[cfg(test)]\nmod helpers;\nfn f() {}\n#[cfg(test)]\nmod tests {\n    use crate::b;\n}\n";
    assert_eq!(
        imported_modules("use crate::{app, commands::x}; crate::store::Store"),
        ["app", "commands", "store"]
    );
    let code = without_test_module(file);
    assert!(code.contains("crate::a") && code.contains("fn f()") && !code.contains("crate::b"));
}
