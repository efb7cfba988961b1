//! The crate's walls, checked from its sources (like rust-analyzer's tidy tests): no import
//! cycle between files, no file over 600 lines of code, and `mod.rs` files that only declare
//! and re-export.
//!
//! The import graph has one node per source file reachable from `lib.rs` through `mod`
//! declarations (test-only modules left out). File A depends on file B when A names an item that
//! B defines: through `use crate::…`, `use super::…`, `use self::…` or a child module, and
//! through paths written in code (`crate::ids::uuid(…)`, `super::queue::Due`), including inside
//! macro calls. A path through a module that re-exports an item (`pub use …`) leads to the file
//! that defines it, so a facade `mod.rs` is transparent. Items under `#[cfg(test)]` and comments
//! (intra-doc links included) are not dependencies.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use syn::visit::Visit;

/// Lines of code a file may hold before its `#[cfg(test)]` items.
const CODE_LINES_MAX: usize = 600;

#[test]
fn the_simulator_has_no_import_cycle_between_files() {
    let graph = Graph::of_crate(&source_dir());
    let cycles: Vec<String> = graph.cycles().iter().map(Cycle::describe).collect();
    assert!(
        cycles.is_empty(),
        "import cycles between files of the simulator (break each by moving the shared item \
         to a leaf module or passing data as an argument):\n{}",
        cycles.join("\n")
    );
}

#[test]
fn no_file_has_more_than_600_lines_of_code() {
    let graph = Graph::of_crate(&source_dir());
    let mut long: Vec<String> = graph
        .files
        .values()
        .map(|f| (f.path.clone(), code_lines(&f.text)))
        .filter(|(_, n)| *n > CODE_LINES_MAX)
        .map(|(path, n)| format!("{path}: {n} lines before #[cfg(test)]"))
        .collect();
    long.sort();
    assert!(
        long.is_empty(),
        "split these files along their subjects:\n{}",
        long.join("\n")
    );
}

#[test]
fn mod_rs_files_only_declare_and_reexport() {
    let graph = Graph::of_crate(&source_dir());
    let mut offenders = Vec::new();
    for file in graph.files.values().filter(|f| f.path.ends_with("mod.rs")) {
        for item in &file.syntax.items {
            let declares = match item {
                syn::Item::Mod(m) => m.content.is_none() || is_test_only(&m.attrs),
                syn::Item::Use(_) => true,
                _ => false,
            };
            if !declares {
                offenders.push(format!("{}: {}", file.path, describe(item)));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "move these items out of mod.rs into a module named after them:\n{}",
        offenders.join("\n")
    );
}

/// The engine is composed of owners (each concern's state and methods) wired by one
/// orchestrator: an owner imports neither another owner nor the orchestrator; where one needs
/// another's data, the orchestrator passes it in.
#[test]
fn the_engine_owners_import_neither_each_other_nor_the_orchestrator() {
    let owners = [
        "engine/catalog",
        "engine/jobs",
        "engine/subscriptions",
        "engine/delivery",
        "engine/schedules",
    ];
    let orchestrator = [
        "engine/state.rs",
        "engine/emit.rs",
        "engine/schedule_calls.rs",
        "engine/delivery_calls.rs",
        "engine/identity.rs",
    ];
    let owner_of = |file: &str| {
        owners
            .iter()
            .find(|o| file == format!("{o}.rs") || file.starts_with(&format!("{o}/")))
            .copied()
    };
    let graph = Graph::of_crate(&source_dir());
    let mut offenders = Vec::new();
    for (from, targets) in &graph.edges {
        let Some(owner) = owner_of(from) else {
            continue;
        };
        for (to, why) in targets {
            let other_owner = owner_of(to).is_some_and(|o| o != owner);
            if other_owner || orchestrator.contains(&to.as_str()) {
                let why: Vec<&str> = why.iter().map(String::as_str).collect();
                offenders.push(format!("{from} -> {to} ({})", why.join(", ")));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "pass the data in from the orchestrator, or move the shared type to a leaf module:\n{}",
        offenders.join("\n")
    );
}

/// The graph builder must see each kind of reference, or the cycle test could never fail.
#[test]
fn the_graph_sees_uses_paths_in_code_and_macros_and_ignores_tests() {
    let crate_files = [
        ("lib.rs", "mod a; mod b; mod c; mod d; pub use c::Shown;"),
        ("a.rs", "use crate::b::Thing; pub fn f() {}"),
        ("b.rs", "pub struct Thing; fn g() { crate::a::f() }"),
        (
            "c.rs",
            "pub struct Shown; fn h() { let _ = format!(\"{}\", crate::d::VALUE); }",
        ),
        (
            "d.rs",
            "pub const VALUE: u8 = 1;\n#[cfg(test)]\nmod tests { use crate::c::Shown; }",
        ),
    ];
    let graph = Graph::of_sources(|path| {
        crate_files
            .iter()
            .find(|(p, _)| Path::new(p) == path)
            .map(|(_, text)| (*text).to_owned())
    });
    let cycles: Vec<String> = graph.cycles().iter().map(Cycle::short).collect();
    assert_eq!(cycles, ["a.rs -> b.rs -> a.rs"]);
    assert!(
        graph.edges["c.rs"].contains_key("d.rs"),
        "{:?}",
        graph.edges
    );
    assert!(
        !graph.edges["d.rs"].contains_key("c.rs"),
        "{:?}",
        graph.edges
    );
}

#[test]
fn the_graph_follows_reexports_and_super_paths_in_directories() {
    let crate_files = [
        ("lib.rs", "mod e; pub use e::Engine;"),
        ("e/mod.rs", "mod state; mod jobs; pub use state::Engine;"),
        ("e/state.rs", "use super::jobs::Job; pub struct Engine;"),
        ("e/jobs.rs", "pub struct Job; fn f(_: crate::e::Engine) {}"),
    ];
    let graph = Graph::of_sources(|path| {
        crate_files
            .iter()
            .find(|(p, _)| Path::new(p) == path)
            .map(|(_, text)| (*text).to_owned())
    });
    let cycles: Vec<String> = graph.cycles().iter().map(Cycle::short).collect();
    assert_eq!(
        cycles,
        ["e/jobs.rs -> e/state.rs -> e/jobs.rs"],
        "crate::e::Engine is e/state.rs's, through the re-export of e/mod.rs"
    );
    assert_eq!(code_lines("a\nb\n#[cfg(test)]\nmod tests {}\n"), 2);
}

fn source_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Lines before the first top-level `#[cfg(test)]`.
fn code_lines(text: &str) -> usize {
    text.lines()
        .take_while(|line| !line.starts_with("#[cfg(test)]"))
        .count()
}

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

fn describe(item: &syn::Item) -> String {
    match item {
        syn::Item::Fn(f) => format!("fn {}", f.sig.ident),
        syn::Item::Struct(s) => format!("struct {}", s.ident),
        syn::Item::Enum(e) => format!("enum {}", e.ident),
        syn::Item::Const(c) => format!("const {}", c.ident),
        syn::Item::Static(s) => format!("static {}", s.ident),
        syn::Item::Type(t) => format!("type {}", t.ident),
        syn::Item::Trait(t) => format!("trait {}", t.ident),
        syn::Item::Impl(_) => "an impl block".to_owned(),
        syn::Item::Mod(m) => format!("inline mod {}", m.ident),
        syn::Item::Macro(_) => "a macro call".to_owned(),
        _ => "an item".to_owned(),
    }
}

/// A module path below the crate root: `[]` is `lib.rs`, `["engine", "jobs"]` is
/// `engine/jobs.rs`.
type ModPath = Vec<String>;

struct File {
    /// Relative to `src/`.
    path: String,
    text: String,
    syntax: syn::File,
    /// Child modules declared in this file (not under `#[cfg(test)]`).
    children: BTreeSet<String>,
}

struct Graph {
    files: BTreeMap<ModPath, File>,
    /// File → file it depends on → the paths that make it depend.
    edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
}

impl Graph {
    fn of_crate(src: &Path) -> Graph {
        Graph::of_sources(|rel| std::fs::read_to_string(src.join(rel)).ok())
    }

    /// Loads every module reachable from `lib.rs`, reading files through `read` (a path
    /// relative to `src/`).
    fn of_sources(read: impl Fn(&Path) -> Option<String>) -> Graph {
        let mut files = BTreeMap::new();
        let mut todo: Vec<(ModPath, String)> = vec![(Vec::new(), "lib.rs".to_owned())];
        while let Some((module, path)) = todo.pop() {
            let text = read(Path::new(&path)).unwrap_or_else(|| panic!("cannot read {path}"));
            let syntax =
                syn::parse_file(&text).unwrap_or_else(|e| panic!("cannot parse {path}: {e}"));
            let mut children = BTreeSet::new();
            for item in &syntax.items {
                let syn::Item::Mod(m) = item else { continue };
                if m.content.is_some() || is_test_only(&m.attrs) {
                    continue;
                }
                let name = m.ident.to_string();
                let dir = if module.is_empty() || path.ends_with("mod.rs") {
                    Path::new(&path).parent().map(Path::to_path_buf)
                } else {
                    Some(Path::new(&path).with_extension(""))
                }
                .unwrap_or_default();
                let flat = dir.join(format!("{name}.rs"));
                let nested = dir.join(&name).join("mod.rs");
                let child = if read(&flat).is_some() { flat } else { nested };
                let mut child_module = module.clone();
                child_module.push(name.clone());
                todo.push((child_module, child.to_string_lossy().into_owned()));
                children.insert(name);
            }
            files.insert(
                module,
                File {
                    path,
                    text,
                    syntax,
                    children,
                },
            );
        }
        let mut graph = Graph {
            files,
            edges: BTreeMap::new(),
        };
        graph.edges = graph.build_edges();
        graph
    }

    fn build_edges(&self) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
        let mut edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
        for (module, file) in &self.files {
            let mut refs = References::default();
            refs.visit_file(&file.syntax);
            let aliases = self.aliases(module, &file.syntax);
            let from = edges.entry(file.path.clone()).or_default();
            for path in refs.uses.iter().chain(&refs.paths) {
                let Some(target) = self.resolve(module, path, &aliases, 0) else {
                    continue;
                };
                let target_file = &self.files[&target].path;
                if *target_file != file.path {
                    from.entry(target_file.clone())
                        .or_default()
                        .insert(path.join("::"));
                }
            }
        }
        edges
    }

    /// Names brought into `module` by `use` that stand for modules of this crate
    /// (`use crate::ids;` makes `ids::uuid` a path into `ids.rs`).
    fn aliases(&self, module: &ModPath, syntax: &syn::File) -> BTreeMap<String, ModPath> {
        let mut refs = References::default();
        for item in &syntax.items {
            if let syn::Item::Use(u) = item
                && !is_test_only(&u.attrs)
            {
                refs.visit_item_use(u);
            }
        }
        let mut aliases = BTreeMap::new();
        for (path, alias) in refs.uses.iter().zip(&refs.use_names) {
            if let Some(start) = self.start(module, path, &BTreeMap::new()) {
                let (mut at, rest) = start;
                let mut all_modules = true;
                for seg in rest {
                    at.push(seg.clone());
                    if !self.files.contains_key(&at) {
                        all_modules = false;
                        break;
                    }
                }
                if all_modules {
                    aliases.insert(alias.clone(), at);
                }
            }
        }
        aliases
    }

    /// Where a path starts: an absolute module and the segments after it, or `None` for a path
    /// outside the crate (`std::…`, `serde::…`, a local item).
    fn start(
        &self,
        module: &ModPath,
        path: &[String],
        aliases: &BTreeMap<String, ModPath>,
    ) -> Option<(ModPath, Vec<String>)> {
        let first = path.first()?;
        let mut at = module.clone();
        let mut rest = path;
        match first.as_str() {
            "crate" => {
                at.clear();
                rest = &path[1..];
            }
            "self" => rest = &path[1..],
            "super" => {
                while rest.first().is_some_and(|s| s == "super") {
                    at.pop();
                    rest = &rest[1..];
                }
            }
            name if self
                .files
                .get(module)
                .is_some_and(|f| f.children.contains(name)) => {}
            name => {
                at = aliases.get(name)?.clone();
                rest = &path[1..];
            }
        }
        Some((at, rest.to_vec()))
    }

    /// The module whose file defines what `path` (written in `module`) names.
    fn resolve(
        &self,
        module: &ModPath,
        path: &[String],
        aliases: &BTreeMap<String, ModPath>,
        depth: usize,
    ) -> Option<ModPath> {
        if depth > 16 {
            return None;
        }
        let (mut at, rest) = self.start(module, path, aliases)?;
        for (i, seg) in rest.iter().enumerate() {
            let mut child = at.clone();
            child.push(seg.clone());
            if self.files.contains_key(&child) {
                at = child;
                continue;
            }
            // An item of `at`: defined there, or re-exported from elsewhere.
            if let Some(source) = self.reexport(&at, seg) {
                let mut target = source;
                target.extend(rest[i + 1..].iter().cloned());
                let facade_aliases = self.aliases(&at, &self.files.get(&at)?.syntax);
                return self.resolve(&at, &target, &facade_aliases, depth + 1);
            }
            return Some(at);
        }
        Some(at)
    }

    /// The path a `pub use` in `module` gives for `name`, as written there: an explicit
    /// re-export first, then a glob.
    fn reexport(&self, module: &ModPath, name: &str) -> Option<Vec<String>> {
        let file = self.files.get(module)?;
        let mut refs = References::default();
        for item in &file.syntax.items {
            if let syn::Item::Use(u) = item
                && !matches!(u.vis, syn::Visibility::Inherited)
                && !is_test_only(&u.attrs)
            {
                refs.visit_item_use(u);
            }
        }
        let leaves = || refs.uses.iter().zip(&refs.use_names);
        if let Some((path, _)) = leaves().find(|(_, alias)| *alias == name) {
            return Some(path.clone());
        }
        leaves().find(|(_, alias)| *alias == "*").map(|(path, _)| {
            let mut glob = path.clone();
            glob.push(name.to_owned());
            glob
        })
    }

    /// One cycle per strongly connected component of more than one file (the shortest through
    /// its first file), each edge with the paths that make it.
    fn cycles(&self) -> Vec<Cycle> {
        let nodes: Vec<&String> = self.edges.keys().collect();
        let index: BTreeMap<&String, usize> =
            nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let succ: Vec<Vec<usize>> = nodes
            .iter()
            .map(|n| {
                self.edges[*n]
                    .keys()
                    .filter_map(|t| index.get(t).copied())
                    .collect()
            })
            .collect();
        let mut out = Vec::new();
        for component in strongly_connected(&succ) {
            if component.len() < 2 {
                continue;
            }
            let members: BTreeSet<usize> = component.into_iter().collect();
            let Some(&start) = members.iter().next() else {
                continue;
            };
            let cycle = shortest_cycle(start, &succ, &members);
            let files: Vec<String> = cycle.iter().map(|&i| nodes[i].clone()).collect();
            let because = cycle
                .windows(2)
                .map(|pair| {
                    let why = &self.edges[nodes[pair[0]]][nodes[pair[1]]];
                    let why: Vec<&str> = why.iter().map(String::as_str).take(3).collect();
                    format!("{} uses {}", nodes[pair[0]], why.join(", "))
                })
                .collect();
            let knot = members
                .iter()
                .filter(|m| !cycle.contains(m))
                .map(|&i| nodes[i].clone())
                .collect();
            out.push(Cycle {
                files,
                because,
                knot,
            });
        }
        out.sort_by(|a, b| a.files.cmp(&b.files));
        out
    }
}

/// An import cycle: `files` ends where it starts.
#[derive(Debug)]
struct Cycle {
    files: Vec<String>,
    /// Why each file depends on the next.
    because: Vec<String>,
    /// Other files in the same strongly connected component.
    knot: Vec<String>,
}

impl Cycle {
    fn short(&self) -> String {
        self.files.join(" -> ")
    }

    fn describe(&self) -> String {
        let mut text = self.short();
        if !self.knot.is_empty() {
            text.push_str(&format!(" (in one knot with {})", self.knot.join(", ")));
        }
        for line in &self.because {
            text.push_str(&format!("\n    {line}"));
        }
        text
    }
}

/// Tarjan's algorithm, iteratively.
fn strongly_connected(succ: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = succ.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut out = Vec::new();
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(&mut (v, ref mut i)) = work.last_mut() {
            if *i == 0 {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = succ[v].get(*i) {
                *i += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                out.push(component);
            }
        }
    }
    out
}

/// The shortest cycle through `start` inside `members` (breadth-first), as a node list that
/// ends where it starts.
fn shortest_cycle(start: usize, succ: &[Vec<usize>], members: &BTreeSet<usize>) -> Vec<usize> {
    let mut parent: BTreeMap<usize, usize> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &succ[v] {
            if !members.contains(&w) {
                continue;
            }
            if w == start {
                let mut path = vec![v];
                while let Some(&p) = parent.get(path.last().unwrap_or(&start)) {
                    path.push(p);
                }
                // `path` runs from v back to the node after start; the cycle is start, that
                // node, ..., v, start.
                path.retain(|&n| n != start);
                path.reverse();
                let mut cycle = vec![start];
                cycle.extend(path);
                cycle.push(start);
                return cycle;
            }
            if w != start
                && let std::collections::btree_map::Entry::Vacant(e) = parent.entry(w)
            {
                e.insert(v);
                queue.push_back(w);
            }
        }
    }
    vec![start, start]
}

/// The crate paths a file names, outside `#[cfg(test)]` items.
#[derive(Default)]
struct References {
    /// Paths of `use` items, one per leaf of each use tree (`*` for a glob).
    uses: Vec<Vec<String>>,
    /// The name each `use` leaf binds (its last segment, its alias, or `*`).
    use_names: Vec<String>,
    /// Paths written in code (expressions, types, patterns) and in macro calls.
    paths: Vec<Vec<String>>,
}

impl References {
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let name = n.ident.to_string();
                let mut path = prefix.clone();
                if name != "self" {
                    path.push(name.clone());
                }
                let bound = path.last().cloned().unwrap_or_default();
                self.uses.push(path);
                self.use_names.push(bound);
            }
            syn::UseTree::Rename(r) => {
                let mut path = prefix.clone();
                if r.ident != "self" {
                    path.push(r.ident.to_string());
                }
                self.uses.push(path);
                self.use_names.push(r.rename.to_string());
            }
            syn::UseTree::Glob(_) => {
                self.uses.push(prefix.clone());
                self.use_names.push("*".to_owned());
            }
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }

    /// `a :: b :: c` sequences in a macro's tokens.
    fn macro_paths(&mut self, tokens: &str) {
        let words: Vec<&str> = tokens.split_whitespace().collect();
        let mut i = 0;
        while i < words.len() {
            if is_ident(words[i]) && words.get(i + 1) == Some(&"::") {
                let mut path = vec![words[i].to_owned()];
                let mut j = i + 1;
                while words.get(j) == Some(&"::") && words.get(j + 1).is_some_and(|w| is_ident(w)) {
                    path.push(words[j + 1].to_owned());
                    j += 2;
                }
                self.paths.push(path);
                i = j;
            } else {
                i += 1;
            }
        }
    }
}

fn is_ident(word: &str) -> bool {
    word.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && word.chars().all(|c| c.is_alphanumeric() || c == '_')
}

impl<'ast> Visit<'ast> for References {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Const(i) => &i.attrs,
            syn::Item::Enum(i) => &i.attrs,
            syn::Item::Fn(i) => &i.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Mod(i) => &i.attrs,
            syn::Item::Static(i) => &i.attrs,
            syn::Item::Struct(i) => &i.attrs,
            syn::Item::Trait(i) => &i.attrs,
            syn::Item::Type(i) => &i.attrs,
            syn::Item::Use(i) => &i.attrs,
            syn::Item::Macro(i) => &i.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if !is_test_only(attrs) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_impl_item(&mut self, item: &'ast syn::ImplItem) {
        let attrs = match item {
            syn::ImplItem::Fn(i) => &i.attrs,
            syn::ImplItem::Const(i) => &i.attrs,
            syn::ImplItem::Type(i) => &i.attrs,
            _ => return syn::visit::visit_impl_item(self, item),
        };
        if !is_test_only(attrs) {
            syn::visit::visit_impl_item(self, item);
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.paths
            .push(path.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.macro_paths(&mac.tokens.to_string());
        syn::visit::visit_macro(self, mac);
    }

    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {
        // `pub(crate)` and `pub(super)` name modules but depend on nothing.
    }

    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {
        // Attributes hold docs (intra-doc links are not dependencies) and derives.
    }
}
