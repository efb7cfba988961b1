//! The harness's walls, checked from its sources (like rust-analyzer's tidy tests): no import
//! cycle between its files, and no file in `harness/src` or the binary's `src/` over 600 lines
//! of code.
//!
//! The import graph has one node per source file reachable from `lib.rs` through `mod`
//! declarations (test-only modules left out). File A depends on file B when A names an item that
//! B defines: through `use crate::…`, `use super::…` or `use self::…`, through paths written in
//! code (`crate::scenario::write(…)`, `super::parse::serde_message`), inside macro calls too,
//! and through a module imported by name (`use crate::scenario;` then `scenario::parse(…)`). A
//! path through a module that re-exports an item (`pub use …`) leads to the file that defines
//! it, so a facade `mod.rs` is transparent. Items under `#[cfg(test)]` and comments (intra-doc
//! links included) are not dependencies.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// Lines of code a file may hold before its `#[cfg(test)]` items.
const CODE_LINES_MAX: usize = 600;

#[test]
fn the_harness_has_no_import_cycle_between_files() {
    let graph = Graph::of_crate(&manifest_dir().join("src"));
    let cycles = graph.cycles();
    assert!(
        cycles.is_empty(),
        "import cycles between files of the harness (break each by moving the shared item to a \
         leaf module, or by passing it as an argument):\n{}",
        cycles.join("\n")
    );
}

#[test]
fn no_file_of_the_harness_or_the_cli_has_more_than_600_lines_of_code() {
    let mut long = Vec::new();
    for dir in [manifest_dir().join("src"), manifest_dir().join("../src")] {
        for path in rust_files(&dir) {
            let text = std::fs::read_to_string(&path).unwrap();
            let n = code_lines(&text);
            if n > CODE_LINES_MAX {
                long.push(format!("{}: {n} lines before #[cfg(test)]", path.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these files along their subjects:\n{}",
        long.join("\n")
    );
}

/// The graph sees each kind of reference, or the cycle test could never fail.
#[test]
fn the_graph_sees_uses_paths_in_code_macros_and_imported_modules_and_ignores_tests() {
    let check = |files: &[(&str, &str)], expected: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        assert_eq!(Graph::of_crate(dir.path()).cycles(), expected, "{files:?}");
    };
    // A `use` one way, a path in code the other.
    check(
        &[
            ("lib.rs", "mod a; mod b;"),
            ("a.rs", "use crate::b::Thing; pub fn f() {}"),
            ("b.rs", "pub struct Thing; fn g() { crate::a::f() }"),
        ],
        &["a.rs -> b.rs -> a.rs"],
    );
    // A path inside a macro call; a module imported by name.
    check(
        &[
            ("lib.rs", "mod a; mod b;"),
            (
                "a.rs",
                "use crate::b; pub const X: u8 = 1; fn f() { b::g(); }",
            ),
            ("b.rs", "pub fn g() { println!(\"{}\", crate::a::X); }"),
        ],
        &["a.rs -> b.rs -> a.rs"],
    );
    // Through a re-exporting mod.rs (`super::` from a child), and a glob re-export.
    check(
        &[
            ("lib.rs", "mod m; mod n;"),
            ("m/mod.rs", "mod x; mod y; pub use x::X; pub use y::*;"),
            ("m/x.rs", "pub struct X; fn f() -> super::Y { todo() }"),
            ("m/y.rs", "pub struct Y; fn g(_: crate::m::X) {}"),
            ("n.rs", "use crate::m::X;"),
        ],
        &["m/x.rs -> m/y.rs -> m/x.rs"],
    );
    // A re-export alone is no dependency: a facade and its children do not form a cycle.
    check(
        &[
            ("lib.rs", "mod m;"),
            (
                "m/mod.rs",
                "mod x; mod y; pub use x::X; pub const T: u8 = 1;",
            ),
            ("m/x.rs", "pub struct X; fn f() -> u8 { super::T }"),
            ("m/y.rs", "use super::X;"),
        ],
        &[],
    );
    // Tests, comments and intra-doc links are not dependencies.
    check(
        &[
            ("lib.rs", "mod a; mod b; #[cfg(test)] mod c;"),
            (
                "a.rs",
                "/// See [`b`](crate::b::g).\npub fn f() {} #[cfg(test)] mod tests { use crate::b::g; }",
            ),
            ("b.rs", "pub fn g() { crate::a::f() } // crate::a"),
            ("c.rs", "use crate::a::f; use crate::b::g;"),
        ],
        &[],
    );
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Lines before the first top-level `#[cfg(test)]` (test modules come last, by convention).
fn code_lines(text: &str) -> usize {
    text.lines()
        .take_while(|line| line.trim_end() != "#[cfg(test)]")
        .count()
}

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Ident>()
                .is_ok_and(|ident| ident == "test")
    })
}

/// A module of the crate: the file it lives in, and what it names.
#[derive(Debug, Default)]
struct Module {
    file: String,
    children: BTreeSet<String>,
    /// Items defined here (functions, types, constants, ...).
    items: BTreeSet<String>,
    /// Names brought in by `use` (`name` → the path written), and glob imports.
    uses: BTreeMap<String, Vec<String>>,
    globs: Vec<Vec<String>>,
}

/// The crate's modules (by path: `[]` is the root, `["replay", "runner"]`) and, per file, the
/// paths it writes that start with `crate`, `super` or `self`, or with an imported name.
#[derive(Debug, Default)]
struct Graph {
    modules: BTreeMap<Vec<String>, Module>,
    /// Per file: the module it is, and the paths it writes.
    paths: BTreeMap<String, (Vec<String>, Vec<Vec<String>>)>,
}

impl Graph {
    fn of_crate(src: &Path) -> Graph {
        let mut graph = Graph::default();
        graph.add_file(src, Path::new("lib.rs"), Vec::new());
        graph
    }

    /// Reads the file of module `module` (at `relative` below `src`) and its child modules.
    fn add_file(&mut self, src: &Path, relative: &Path, module: Vec<String>) {
        let text = std::fs::read_to_string(src.join(relative))
            .unwrap_or_else(|e| panic!("{}: {e}", relative.display()));
        let syntax =
            syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", relative.display()));
        let file = relative.to_string_lossy().replace('\\', "/");
        let mut collector = Collector::default();
        let mut entry = Module {
            file: file.clone(),
            ..Module::default()
        };
        for item in &syntax.items {
            if is_test_only(item_attrs(item)) {
                continue;
            }
            match item {
                syn::Item::Mod(m) if m.content.is_none() => {
                    let name = m.ident.to_string();
                    entry.children.insert(name.clone());
                    // `a/b.rs` declares `a/b/c.rs`; `a/mod.rs` and `lib.rs` declare `a/c.rs`.
                    let dir = match relative.file_name().and_then(|n| n.to_str()) {
                        Some("lib.rs" | "mod.rs") => {
                            relative.parent().unwrap_or(Path::new("")).to_owned()
                        }
                        _ => relative.with_extension(""),
                    };
                    let child = if src.join(&dir).join(format!("{name}.rs")).exists() {
                        dir.join(format!("{name}.rs"))
                    } else {
                        dir.join(&name).join("mod.rs")
                    };
                    let mut path = module.clone();
                    path.push(name);
                    self.add_file(src, &child, path);
                }
                syn::Item::Use(u) => {
                    // A re-export (`pub use`) is the module's interface, not a dependency of its
                    // file: paths through it lead on to the file that defines the item.
                    let reexport = !matches!(u.vis, syn::Visibility::Inherited);
                    let mut uses = Vec::new();
                    flatten_use(&u.tree, Vec::new(), &mut uses);
                    for (name, path) in uses {
                        match name {
                            Some(name) => {
                                entry.uses.insert(name, path.clone());
                            }
                            None => entry.globs.push(path.clone()),
                        }
                        if !reexport {
                            collector.paths.push(path);
                        }
                    }
                }
                item => {
                    if let Some(name) = item_name(item) {
                        entry.items.insert(name);
                    }
                    collector.visit_item(item);
                }
            }
        }
        self.modules.insert(module.clone(), entry);
        self.paths.insert(file, (module, collector.paths));
    }

    /// The file that defines what `path` (written in module `from`) names, if it is in the
    /// crate. `seen` guards against re-exports that go round.
    fn resolve(
        &self,
        from: &[String],
        path: &[String],
        seen: &mut BTreeSet<(Vec<String>, Vec<String>)>,
    ) -> Option<String> {
        if !seen.insert((from.to_vec(), path.to_vec())) {
            return None;
        }
        let (mut module, rest) = match path.first().map(String::as_str) {
            Some("crate") => (Vec::new(), &path[1..]),
            Some("self") => (from.to_vec(), &path[1..]),
            Some("super") => {
                let mut module = from.to_vec();
                let mut rest = path;
                while rest.first().map(String::as_str) == Some("super") {
                    module.pop();
                    rest = &rest[1..];
                }
                (module, rest)
            }
            Some(first) => {
                let here = self.modules.get(from)?;
                if here.children.contains(first) || here.items.contains(first) {
                    // A path relative to the module (`pub use runner::Runner;` in a `mod.rs`).
                    (from.to_vec(), path)
                } else {
                    // A name imported into `from` (`use crate::scenario;`, then
                    // `scenario::parse`), or outside the crate.
                    let target = here.uses.get(first)?;
                    let mut full = target.clone();
                    full.extend_from_slice(&path[1..]);
                    return self.resolve(from, &full, seen);
                }
            }
            None => return None,
        };
        for (i, segment) in rest.iter().enumerate() {
            let here = self.modules.get(&module)?;
            if here.children.contains(segment) {
                module.push(segment.clone());
                continue;
            }
            if here.items.contains(segment) {
                return Some(here.file.clone());
            }
            if let Some(target) = here.uses.get(segment) {
                let mut full = target.clone();
                full.extend_from_slice(&rest[i + 1..]);
                return self.resolve(&module, &full, seen);
            }
            for glob in &here.globs {
                let mut full = glob.clone();
                full.extend_from_slice(&rest[i..]);
                if let Some(file) = self.resolve(&module, &full, seen) {
                    return Some(file);
                }
            }
            return None;
        }
        // The path names a module itself.
        self.modules.get(&module).map(|m| m.file.clone())
    }

    /// File → the files it depends on.
    fn edges(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (file, (module, paths)) in &self.paths {
            let out = edges.entry(file.clone()).or_default();
            for path in paths {
                if let Some(target) = self.resolve(module, path, &mut BTreeSet::new())
                    && target != *file
                {
                    out.insert(target);
                }
            }
        }
        edges
    }

    /// Every cycle, one per strongly connected component of two or more files: a walk
    /// `a.rs -> b.rs -> a.rs` through it, and the whole component when the walk misses some.
    fn cycles(&self) -> Vec<String> {
        let edges = self.edges();
        let mut cycles = Vec::new();
        for component in strongly_connected(&edges) {
            let Some(start) = component.first().cloned().filter(|_| component.len() > 1) else {
                continue;
            };
            // Walk from the first file, staying in the component, until a file repeats.
            let mut walk = vec![start.clone()];
            let mut at = start;
            let cycle = loop {
                let Some(next) = edges[&at].iter().find(|n| component.contains(*n)) else {
                    break walk.clone();
                };
                if let Some(i) = walk.iter().position(|f| f == next) {
                    let mut cycle = walk[i..].to_vec();
                    cycle.push(next.clone());
                    break cycle;
                }
                walk.push(next.clone());
                at = next.clone();
            };
            let mut text = cycle.join(" -> ");
            if cycle.len() <= component.len() {
                let all: Vec<&str> = component.iter().map(String::as_str).collect();
                text.push_str(&format!(" (and the rest of {})", all.join(", ")));
            }
            cycles.push(text);
        }
        cycles
    }
}

/// Tarjan's algorithm, iterative enough for a crate's files.
fn strongly_connected(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        components: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.insert(w.to_owned());
                if w == v {
                    break;
                }
            }
            s.components.push(component);
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for v in edges.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.components.sort();
    state.components
}

/// The paths of a `use` tree: `(Some(name), path)` for a name it brings in (the last segment,
/// or the `as` name), `(None, path)` for a glob; `self` in a group names the group's module.
fn flatten_use(
    tree: &syn::UseTree,
    prefix: Vec<String>,
    out: &mut Vec<(Option<String>, Vec<String>)>,
) {
    match tree {
        syn::UseTree::Path(p) => {
            let mut prefix = prefix;
            prefix.push(p.ident.to_string());
            flatten_use(&p.tree, prefix, out);
        }
        syn::UseTree::Name(n) if n.ident == "self" => {
            let name = prefix.last().cloned();
            out.push((name, prefix));
        }
        syn::UseTree::Name(n) => {
            let mut path = prefix;
            path.push(n.ident.to_string());
            out.push((Some(n.ident.to_string()), path));
        }
        syn::UseTree::Rename(r) => {
            let mut path = prefix;
            if r.ident != "self" {
                path.push(r.ident.to_string());
            }
            out.push((Some(r.rename.to_string()), path));
        }
        syn::UseTree::Glob(_) => out.push((None, prefix)),
        syn::UseTree::Group(g) => {
            for tree in &g.items {
                flatten_use(tree, prefix.clone(), out);
            }
        }
    }
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Union(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

fn item_name(item: &syn::Item) -> Option<String> {
    let ident = match item {
        syn::Item::Const(i) => &i.ident,
        syn::Item::Enum(i) => &i.ident,
        syn::Item::Fn(i) => &i.sig.ident,
        syn::Item::Macro(i) => i.ident.as_ref()?,
        syn::Item::Mod(i) => &i.ident,
        syn::Item::Static(i) => &i.ident,
        syn::Item::Struct(i) => &i.ident,
        syn::Item::Trait(i) => &i.ident,
        syn::Item::Type(i) => &i.ident,
        syn::Item::Union(i) => &i.ident,
        _ => return None,
    };
    Some(ident.to_string())
}

/// The paths a file's code writes (types, expressions, patterns, macro arguments), skipping
/// `#[cfg(test)]` items inside it.
#[derive(Debug, Default)]
struct Collector {
    paths: Vec<Vec<String>>,
}

impl Collector {
    fn tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Group(g) => self.tokens(g.stream()),
                TokenTree::Ident(ident) => {
                    // `ident :: ident :: ...`: `::` is two `:` puncts.
                    let mut path = vec![ident.to_string()];
                    let mut j = i + 1;
                    while let (
                        Some(TokenTree::Punct(a)),
                        Some(TokenTree::Punct(b)),
                        Some(TokenTree::Ident(next)),
                    ) = (tokens.get(j), tokens.get(j + 1), tokens.get(j + 2))
                    {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        path.push(next.to_string());
                        j += 3;
                    }
                    if path.len() > 1 {
                        self.paths.push(path);
                        i = j;
                        continue;
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !is_test_only(item_attrs(item)) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if !is_test_only(&f.attrs) {
            syn::visit::visit_impl_item_fn(self, f);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.segments.len() > 1 {
            self.paths
                .push(path.segments.iter().map(|s| s.ident.to_string()).collect());
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        // A `use` inside a function body.
        let mut uses = Vec::new();
        flatten_use(&u.tree, Vec::new(), &mut uses);
        self.paths.extend(uses.into_iter().map(|(_, path)| path));
    }

    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {
        // Doc comments and other attributes name no dependency.
    }
}
