//! The shape of the code, held by a test: no two files of any crate import each other in
//! a circle, and the server's layers import only downward (ARCHITECTURE.md, "Layers").
//!
//! Every `.rs` file under `crates/*/src` is parsed (with `syn`), and every path it
//! names that starts with `crate`, `self`, `super` or a module it declares is resolved
//! to the file that defines it: the longest module path that is a file, following
//! `pub use` re-exports to where a name is defined. A file that names something in
//! another file depends on it; `mod x;` alone is not a dependency, and neither are a
//! file's `#[cfg(test)]` modules (tests may reach anything in their crate).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// A crate's files by module path (`["runtime", "hub"]` for `src/runtime/hub.rs`).
type Files = BTreeMap<Vec<String>, PathBuf>;

/// Each file's module path, for every `.rs` file under `src`.
fn files_of(src: &Path) -> Files {
    let mut files = Files::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read a source directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src");
            let mut module: Vec<String> = rel
                .with_extension("")
                .iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect();
            if matches!(
                module.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                module.pop();
            }
            // A binary's other entry points (src/bin/x.rs) are crates of their own.
            if module.first().is_some_and(|m| m == "bin") {
                continue;
            }
            files.insert(module, path);
        }
    }
    files
}

/// Collects the absolute module paths one file names, and the external crates.
struct Names<'a> {
    /// The module the visitor is in (the file's, plus inline modules).
    here: Vec<String>,
    /// Modules declared in the file (`mod x;` or `mod x { .. }`), by the module they are
    /// declared in.
    declared: BTreeSet<Vec<String>>,
    /// Absolute paths named inside the crate.
    internal: Vec<Vec<String>>,
    /// While walking a `pub use`: its paths are re-exports (aliases), not dependencies.
    reexporting: bool,
    /// What a `pub use` in this file makes a name here stand for: (the module and name
    /// here, the absolute path it stands for), or (the module, the glob's module).
    aliases: Vec<(Vec<String>, Vec<String>)>,
    globs: Vec<(Vec<String>, Vec<String>)>,
    /// The first segment of every other path (an external crate, a local name).
    external: BTreeSet<String>,
    files: &'a Files,
}

impl Names<'_> {
    /// Resolves `segments` as written in the current module.
    fn name(&mut self, segments: &[String]) {
        if let Some(path) = self.resolve(segments) {
            self.internal.push(path);
        }
    }

    /// `segments` as written in the current module, as an absolute path in the crate;
    /// `None` for another crate's path.
    fn resolve(&mut self, segments: &[String]) -> Option<Vec<String>> {
        let first = segments.first()?;
        let mut base = match first.as_str() {
            "crate" => Vec::new(),
            "self" => self.here.clone(),
            "super" => {
                let mut b = self.here.clone();
                b.pop();
                b
            }
            _ => {
                let mut child = self.here.clone();
                child.push(first.clone());
                if self.declared.contains(&child) || self.files.contains_key(&child) {
                    return Some(
                        child
                            .into_iter()
                            .chain(segments[1..].iter().cloned())
                            .collect(),
                    );
                }
                self.external.insert(first.clone());
                return None;
            }
        };
        for s in &segments[1..] {
            if s == "super" {
                base.pop();
            } else if s != "self" {
                base.push(s.clone());
            }
        }
        Some(base)
    }

    /// A `use` of `segments` (ending in the name it brings in, `alias` if renamed).
    fn used(&mut self, segments: &[String], alias: Option<String>) {
        if !self.reexporting {
            self.name(segments);
            return;
        }
        if let Some(target) = self.resolve(segments) {
            let mut here = self.here.clone();
            here.push(alias.unwrap_or_else(|| segments.last().cloned().unwrap_or_default()));
            self.aliases.push((here, target));
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                prefix.push(n.ident.to_string());
                self.used(&prefix.clone(), None);
                prefix.pop();
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.used(&prefix.clone(), Some(r.rename.to_string()));
                prefix.pop();
            }
            syn::UseTree::Glob(_) => {
                if self.reexporting {
                    if let Some(target) = self.resolve(prefix) {
                        self.globs.push((self.here.clone(), target));
                    }
                } else {
                    self.name(&prefix.clone());
                }
            }
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }
}

/// Whether an item is compiled for tests only (`#[cfg(test)]`, or `all(test, ..)`).
fn for_tests(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>().is_ok_and(|meta| match meta {
                syn::Meta::Path(p) => p.is_ident("test"),
                syn::Meta::List(l) => {
                    l.path.is_ident("all") && l.tokens.to_string().starts_with("test")
                }
                syn::Meta::NameValue(_) => false,
            })
    })
}

impl<'ast> Visit<'ast> for Names<'_> {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        // A file's tests may reach anything in its crate: the graph is of the code that
        // ships.
        if for_tests(&m.attrs) {
            return;
        }
        self.here.push(m.ident.to_string());
        syn::visit::visit_item_mod(self, m);
        self.here.pop();
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        // `pub use` (re-exporting) makes an alias; `pub(crate) use` and `use` import.
        self.reexporting = matches!(u.vis, syn::Visibility::Public(_));
        self.use_tree(&mut Vec::new(), &u.tree);
        self.reexporting = false;
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        if segments.len() > 1 || p.leading_colon.is_some() {
            if p.leading_colon.is_some() {
                self.external.insert(segments[0].clone());
            } else {
                self.name(&segments);
            }
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        // Paths inside a macro's tokens (`tracing::warn!(..)`, `matches!`) are not parsed;
        // the macro's own path is.
        self.visit_path(&m.path);
    }
}

/// Modules declared in a file, as absolute module paths.
fn declared(file: &syn::File, module: &[String]) -> BTreeSet<Vec<String>> {
    fn walk(items: &[syn::Item], here: &mut Vec<String>, out: &mut BTreeSet<Vec<String>>) {
        for item in items {
            if let syn::Item::Mod(m) = item {
                here.push(m.ident.to_string());
                out.insert(here.clone());
                if let Some((_, inner)) = &m.content {
                    walk(inner, here, out);
                }
                here.pop();
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(&file.items, &mut module.to_vec(), &mut out);
    out
}

/// One file's dependencies (other files of its crate) and the external names it uses.
struct Imports {
    files: BTreeSet<Vec<String>>,
    external: BTreeSet<String>,
}

/// What one file names, before the crate's re-exports are followed.
struct Parsed {
    internal: Vec<Vec<String>>,
    external: BTreeSet<String>,
    aliases: Vec<(Vec<String>, Vec<String>)>,
    globs: Vec<(Vec<String>, Vec<String>)>,
    /// The items the file defines at its top level, as absolute paths.
    items: Vec<Vec<String>>,
}

fn parse(files: &Files, module: &[String], path: &Path) -> Parsed {
    let text = std::fs::read_to_string(path).expect("read a source file");
    let file = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut names = Names {
        here: module.to_vec(),
        declared: declared(&file, module),
        internal: Vec::new(),
        reexporting: false,
        aliases: Vec::new(),
        globs: Vec::new(),
        external: BTreeSet::new(),
        files,
    };
    names.visit_file(&file);
    let items = file
        .items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Struct(i) => Some(i.ident.to_string()),
            syn::Item::Enum(i) => Some(i.ident.to_string()),
            syn::Item::Fn(i) => Some(i.sig.ident.to_string()),
            syn::Item::Trait(i) => Some(i.ident.to_string()),
            syn::Item::Type(i) => Some(i.ident.to_string()),
            syn::Item::Const(i) => Some(i.ident.to_string()),
            syn::Item::Static(i) => Some(i.ident.to_string()),
            syn::Item::Mod(i) => Some(i.ident.to_string()),
            syn::Item::Macro(i) => i.ident.as_ref().map(ToString::to_string),
            _ => None,
        })
        .map(|name| module.iter().cloned().chain([name]).collect())
        .collect();
    Parsed {
        internal: names.internal,
        external: names.external,
        aliases: names.aliases,
        globs: names.globs,
        items,
    }
}

/// The crate's names: what each file defines, and what its re-exports stand for.
struct Crate {
    files: Files,
    items: BTreeSet<Vec<String>>,
    aliases: BTreeMap<Vec<String>, Vec<String>>,
    globs: BTreeMap<Vec<String>, Vec<Vec<String>>>,
}

impl Crate {
    /// The file that defines what `path` names, following re-exports: a name a file
    /// re-exports (`pub use a::B`, or `pub use a::*`) is defined where it came from.
    fn locate(&self, path: &[String]) -> Option<Vec<String>> {
        let mut path = path.to_vec();
        for _ in 0..16 {
            let file = (0..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|prefix| self.files.contains_key(prefix))?;
            if path.len() == file.len() {
                return Some(file);
            }
            let name: Vec<String> = path[..=file.len()].to_vec();
            if self.items.contains(&name) {
                return Some(file);
            }
            if let Some(target) = self.aliases.get(&name) {
                path = target
                    .iter()
                    .chain(&path[file.len() + 1..])
                    .cloned()
                    .collect();
                continue;
            }
            let through_glob = self.globs.get(&file).and_then(|globs| {
                globs.iter().find_map(|glob| {
                    let candidate: Vec<String> =
                        glob.iter().chain(&path[file.len()..]).cloned().collect();
                    let defined = candidate[..=glob.len()].to_vec();
                    (self.items.contains(&defined) || self.aliases.contains_key(&defined))
                        .then_some(candidate)
                })
            });
            match through_glob {
                Some(candidate) => path = candidate,
                None => return Some(file),
            }
        }
        None
    }
}

/// A circle of files importing each other, if there is one.
fn circle(graph: &BTreeMap<Vec<String>, Imports>) -> Option<Vec<Vec<String>>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, Imports>,
        marks: &mut BTreeMap<Vec<String>, Mark>,
        path: &mut Vec<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        marks.insert(node.clone(), Mark::Open);
        path.push(node.clone());
        for next in graph.get(node).map(|i| &i.files).into_iter().flatten() {
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let from = path.iter().position(|p| p == next).expect("on the path");
                    let mut found = path[from..].to_vec();
                    found.push(next.clone());
                    return Some(found);
                }
                Mark::New => {
                    if let Some(found) = visit(next, graph, marks, path) {
                        return Some(found);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks.insert(node.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if marks.get(node).copied().unwrap_or(Mark::New) == Mark::New
            && let Some(found) = visit(node, graph, &mut marks, &mut Vec::new())
        {
            return Some(found);
        }
    }
    None
}

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crates/")
        .to_path_buf()
}

fn graph_of(src: &Path) -> BTreeMap<Vec<String>, Imports> {
    let files = files_of(src);
    let parsed: BTreeMap<Vec<String>, Parsed> = files
        .iter()
        .map(|(module, path)| (module.clone(), parse(&files, module, path)))
        .collect();
    let mut krate = Crate {
        files: files.clone(),
        items: BTreeSet::new(),
        aliases: BTreeMap::new(),
        globs: BTreeMap::new(),
    };
    for (module, p) in &parsed {
        krate.items.extend(p.items.iter().cloned());
        krate.aliases.extend(p.aliases.iter().cloned());
        for (here, target) in &p.globs {
            debug_assert_eq!(here, module);
            krate
                .globs
                .entry(here.clone())
                .or_default()
                .push(target.clone());
        }
    }
    parsed
        .into_iter()
        .map(|(module, p)| {
            let files = p
                .internal
                .iter()
                .filter_map(|named| krate.locate(named))
                .filter(|file| *file != module)
                .collect();
            (
                module,
                Imports {
                    files,
                    external: p.external,
                },
            )
        })
        .collect()
}

fn shown(modules: &[Vec<String>]) -> String {
    modules
        .iter()
        .map(|m| format!("crate::{}", m.join("::")))
        .collect::<Vec<_>>()
        .join(" -> ")
}

#[test]
fn no_two_files_of_any_crate_import_each_other_in_a_circle() {
    let mut checked = 0;
    let mut circles = Vec::new();
    for entry in std::fs::read_dir(crates_dir()).expect("read crates/") {
        let src = entry.expect("a crate").path().join("src");
        if !src.is_dir() {
            continue;
        }
        let graph = graph_of(&src);
        assert!(graph.len() > 1 || src.join("lib.rs").exists() || src.join("main.rs").exists());
        if let Some(found) = circle(&graph) {
            circles.push(format!("{}: {}", src.display(), shown(&found)));
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} crates found under crates/");
    assert!(
        circles.is_empty(),
        "files import each other in a circle:\n{}",
        circles.join("\n")
    );
}

/// Which layer a server file is in, from the bottom: leaves 0, the bus 1, the run-time
/// layer 2, the HTTP layer 3; the crate root (which wires them together) 4.
fn layer(module: &[String]) -> usize {
    match module.first().map(String::as_str) {
        None => 4,
        Some("http") => 3,
        Some("runtime") => 2,
        Some("bus" | "push") => 1,
        Some("auth" | "clock" | "config" | "error" | "gpx" | "mailbox" | "metrics" | "tiles") => 0,
        Some(other) => panic!(
            "crates/server/src: {other} is in no layer; add it to one here and in \
             ARCHITECTURE.md"
        ),
    }
}

#[test]
fn the_server_layers_import_only_downward_and_know_no_http_below_it() {
    let graph = graph_of(&crates_dir().join("server/src"));
    let mut wrong = Vec::new();
    for (module, imports) in &graph {
        let here = layer(module);
        for dep in &imports.files {
            if layer(dep) > here {
                wrong.push(format!(
                    "{} imports {}",
                    shown(std::slice::from_ref(module)),
                    shown(std::slice::from_ref(dep))
                ));
            }
        }
        if here < 3 && imports.external.contains("axum") {
            wrong.push(format!(
                "{} imports axum",
                shown(std::slice::from_ref(module))
            ));
        }
    }
    assert!(wrong.is_empty(), "layers broken:\n{}", wrong.join("\n"));
    // The test sees the layers it guards.
    assert!(graph.keys().filter(|m| layer(m) == 2).count() >= 10);
    assert!(graph.keys().filter(|m| layer(m) == 3).count() >= 10);
}
