//! The documentation points at things that exist: in every tracked Markdown file, every relative
//! link resolves, every quoted `epc` command names a subcommand of `src/main.rs`, and every
//! `scripts/NAME`, `plans/NAME.toml` and `configs/NAME.toml` it names is in the repository.
//!
//! Pure text checks: nothing is built or run but `git ls-files`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Markdown files to check, relative to the root: git's tracked `*.md` files, or, where git
/// is not available (a source archive), those found under the documented folders.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let tracked = Command::new("git")
        .args(["ls-files", "-z", "--", "*.md"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split('\0')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut files: Vec<PathBuf> = if tracked.is_empty() {
        let mut found = Vec::new();
        for top in ["README.md", "docs", "analyzer", "examples", "testdata"] {
            walk(root, Path::new(top), &mut found);
        }
        found
    } else {
        tracked
    };
    files.retain(|f| root.join(f).is_file());
    files.sort();
    files
}

/// Collects the `.md` files at or under `rel` (relative to `root`).
fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    let full = root.join(rel);
    if full.is_file() {
        if rel.extension().is_some_and(|e| e == "md") {
            out.push(rel.to_path_buf());
        }
    } else if let Ok(entries) = std::fs::read_dir(&full) {
        for e in entries.flatten() {
            walk(root, &rel.join(e.file_name()), out);
        }
    }
}

/// The subcommands of `epc`: the variants of `enum Command` in `src/main.rs`, in clap's
/// kebab-case (`CheckModel` -> `check-model`).
fn subcommands(root: &Path) -> Vec<String> {
    let main = std::fs::read_to_string(root.join("src/main.rs")).expect("src/main.rs");
    let start = main
        .find("enum Command {")
        .expect("src/main.rs declares `enum Command`");
    let body = &main[start + "enum Command {".len()..];
    let body = &body[..body.find("\n}").expect("end of enum Command")];
    let mut names = Vec::new();
    for line in body.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("//") || line.starts_with('#') {
            continue;
        }
        let ident: String = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if ident.is_empty() || !ident.starts_with(|c: char| c.is_ascii_uppercase()) {
            continue;
        }
        names.push(kebab(&ident));
    }
    names
}

/// `CheckModel` -> `check-model`.
fn kebab(ident: &str) -> String {
    let mut s = String::new();
    for (i, c) in ident.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                s.push('-');
            }
            s.push(c.to_ascii_lowercase());
        } else {
            s.push(c);
        }
    }
    s
}

/// A Markdown text split into prose (with fenced code blocks blanked out) and the lines of its
/// fenced code blocks.
fn split_fences(text: &str) -> (String, Vec<String>) {
    let mut prose = String::new();
    let mut code = Vec::new();
    let mut fence: Option<String> = None;
    for line in text.lines() {
        let t = line.trim_start();
        let marker = if t.starts_with("```") {
            Some("```")
        } else if t.starts_with("~~~") {
            Some("~~~")
        } else {
            None
        };
        match (&fence, marker) {
            (None, Some(m)) => fence = Some(m.to_string()),
            (Some(f), Some(m)) if f == m => fence = None,
            (Some(_), _) => code.push(line.to_string()),
            (None, None) => {
                prose.push_str(line);
                prose.push('\n');
                continue;
            }
        }
        prose.push('\n');
    }
    (prose, code)
}

/// The inline code spans of prose, as (content, byte range); a span does not cross a blank line.
fn inline_code(prose: &str) -> Vec<(String, std::ops::Range<usize>)> {
    let b = prose.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'`' {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i] == b'`' {
            i += 1;
        }
        let run = i - start;
        // Find a closing run of the same length.
        let mut j = i;
        let mut close = None;
        while j < b.len() {
            if b[j] == b'`' {
                let k = j;
                while j < b.len() && b[j] == b'`' {
                    j += 1;
                }
                if j - k == run {
                    close = Some(k);
                    break;
                }
            } else {
                j += 1;
            }
        }
        if let Some(k) = close.filter(|&k| !prose[i..k].contains("\n\n")) {
            spans.push((prose[i..k].to_string(), start..k + run));
            i = k + run;
        }
        // Otherwise the backtick run is literal text.
    }
    spans
}

/// The relative link targets of prose (inline code removed): `](target)`, `](target#anchor)`
/// and reference definitions `[name]: target`, without web, mail and pure-anchor links.
fn link_targets(prose: &str) -> Vec<String> {
    let mut text = prose.to_string();
    for (_, r) in inline_code(prose).into_iter().rev() {
        let blank = " ".repeat(r.len());
        text.replace_range(r, &blank);
    }
    let mut targets = Vec::new();
    let mut rest = text.as_str();
    while let Some(p) = rest.find("](") {
        rest = &rest[p + 2..];
        let end = rest
            .find(|c: char| c == ')' || c.is_whitespace())
            .unwrap_or(rest.len());
        targets.push(rest[..end].to_string());
    }
    for line in text.lines() {
        let t = line.trim_start();
        // `[name]: target`: the first `]` of the line is followed by `:`.
        let Some(inner) = t.strip_prefix('[') else {
            continue;
        };
        let Some(close) = inner.find(']') else {
            continue;
        };
        if let Some(after) = inner[close + 1..].strip_prefix(':') {
            if let Some(target) = after.split_whitespace().next() {
                targets.push(target.to_string());
            }
        }
    }
    targets.retain(|t| {
        let t = t.trim_matches(|c| c == '<' || c == '>');
        !(t.is_empty()
            || t.starts_with('#')
            || t.starts_with("http:")
            || t.starts_with("https:")
            || t.starts_with("mailto:"))
    });
    targets
}

/// The `epc` commands quoted in a file: inline code and code-block lines that start with `epc `
/// (after an optional `$ ` prompt).
fn epc_commands(prose: &str, code: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let quoted = inline_code(prose).into_iter().map(|(c, _)| c);
    for text in quoted.chain(code.iter().cloned()) {
        let t = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let t = t.strip_prefix("$ ").unwrap_or(&t);
        if t.starts_with("epc ") {
            found.push(t.to_string());
        }
    }
    found
}

/// The `scripts/NAME`, `plans/NAME.toml` and `configs/NAME.toml` paths named anywhere in a file
/// (not those inside a longer path such as `../configs/x.toml`, which are relative to
/// something else).
fn named_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for dir in ["scripts/", "plans/", "configs/"] {
        let mut from = 0;
        while let Some(p) = text[from..].find(dir) {
            let at = from + p;
            from = at + dir.len();
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || "_-./".contains(c)) {
                continue;
            }
            let name: String = text[from..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "_-.".contains(*c))
                .collect();
            let name = name.trim_end_matches('.');
            if name.is_empty() || (dir != "scripts/" && !name.ends_with(".toml")) {
                continue;
            }
            found.push(format!("{dir}{name}"));
        }
    }
    found
}

/// Every problem of one Markdown file (`rel`, relative to `root`), one line each.
fn check_file(root: &Path, rel: &Path, text: &str, commands: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let (prose, code) = split_fences(text);
    let dir = rel.parent().unwrap_or(Path::new(""));
    for target in link_targets(&prose) {
        let path = target.trim_matches(|c| c == '<' || c == '>');
        let path = path.split('#').next().unwrap_or(path);
        let resolved = match path.strip_prefix('/') {
            Some(abs) => root.join(abs),
            None => root.join(dir).join(path),
        };
        if !resolved.exists() {
            problems.push(format!(
                "{}: link to {target}: {} does not exist",
                rel.display(),
                resolved.display()
            ));
        }
    }
    for cmd in epc_commands(&prose, &code) {
        let sub = cmd.split_whitespace().nth(1).unwrap_or("");
        if !sub.starts_with('-') && !commands.iter().any(|c| c == sub) {
            problems.push(format!(
                "{}: `{cmd}`: `{sub}` is not an epc subcommand ({})",
                rel.display(),
                commands.join(", ")
            ));
        }
    }
    for path in named_paths(text) {
        if !root.join(&path).exists() {
            problems.push(format!(
                "{}: names {path}, which does not exist",
                rel.display()
            ));
        }
    }
    problems
}

#[test]
fn every_link_command_and_named_file_of_the_docs_exists() {
    let root = root();
    let commands = subcommands(&root);
    for expected in ["train", "export", "dump", "analyze", "check-model", "sweep"] {
        assert!(
            commands.iter().any(|c| c == expected),
            "`{expected}` not found among the subcommands parsed from src/main.rs: {commands:?}"
        );
    }
    let files = markdown_files(&root);
    for expected in ["README.md", "docs/guide/README.md", "analyzer/README.md"] {
        assert!(
            files.iter().any(|f| f == Path::new(expected)),
            "{expected} is not among the Markdown files checked: {files:?}"
        );
    }
    let mut problems = Vec::new();
    for rel in &files {
        let text = std::fs::read_to_string(root.join(rel))
            .unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
        problems.extend(check_file(&root, rel, &text, &commands));
    }
    assert!(
        problems.is_empty(),
        "{} problem(s) in the documentation:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The checker itself finds what it is meant to find (so that a green run means something).
#[test]
fn the_checker_reports_broken_links_unknown_subcommands_and_missing_files() {
    let root = root();
    let commands = subcommands(&root);
    let text = "\
See [the guide](guide/README.md), [a figure](figures/mnist-fig2a_energy.png#top),
[the web](https://example.org/x), [an anchor](#top) and [gone](guide/missing.md#part).
`epc --version`, `epc train --out RUN`, `epc trian --out RUN`, `epc sweep
status STUDY`, `scripts/demo.sh`, `scripts/nothing.sh`, `plans/nothing.toml`,
`../configs/relative-elsewhere.toml`, and `configs/mnist.toml`.

[kept]: guide/install.md
[dropped]: reference/absent.md

```sh
epc analyze --model M.onnx --out DIR
$ epc analyse --model M.onnx
python3 x.py   # epc dump in a comment is not a command
```
";
    let problems = check_file(&root, Path::new("docs/example.md"), text, &commands);
    let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(has("link to guide/missing.md#part"), "{problems:#?}");
    assert!(has("`trian` is not an epc subcommand"), "{problems:#?}");
    assert!(has("`analyse` is not an epc subcommand"), "{problems:#?}");
    assert!(has("names scripts/nothing.sh"), "{problems:#?}");
    assert!(has("names plans/nothing.toml"), "{problems:#?}");
    assert!(has("link to reference/absent.md"), "{problems:#?}");
    assert_eq!(problems.len(), 6, "{problems:#?}");
}

/// The table script `scripts/results_tables.py` run with `args` from the root: (success,
/// stdout and stderr).
fn results_tables(root: &Path, args: &[&str]) -> (bool, String) {
    let python = std::env::var_os("EPC_PYTHON")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".into());
    let out = Command::new(python)
        .arg(root.join("scripts/results_tables.py"))
        .args(args)
        .current_dir(root)
        .output()
        .expect("python runs (source scripts/env.sh)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn every_generated_table_equals_its_scripts_output_on_the_committed_summary() {
    let (ok, text) = results_tables(&root(), &[]);
    assert!(ok, "{text}");
    // The results pages hold their tables as generated blocks (at least one per study).
    let count: usize = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(count >= 16, "{text}");
}

#[test]
fn the_table_check_fails_on_an_edited_number() {
    // A copy of the repository's scripts and one page whose table has one number changed.
    let root = root();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path();
    std::fs::create_dir_all(copy.join("scripts")).unwrap();
    std::fs::create_dir_all(copy.join("docs/results/digits-orders")).unwrap();
    for f in ["results_tables.py", "study_table.py"] {
        std::fs::copy(root.join("scripts").join(f), copy.join("scripts").join(f)).unwrap();
    }
    let summary = "docs/results/digits-orders/summary.json.gz";
    std::fs::copy(root.join(summary), copy.join(summary)).unwrap();
    let page = std::fs::read_to_string(root.join("docs/results/digits-orders.md")).unwrap();
    let start = page.find("<!-- table:").unwrap();
    let block = &page[start..page.find("<!-- /table -->").unwrap() + 15];
    let path = copy.join("docs/results/digits-orders.md");
    // One digit of the first data row (the line after the header's `|---|`) changed.
    let row = block
        .find("|\n|---")
        .and_then(|i| block[i..].find("\n| ").map(|j| i + j + 3));
    let at = row
        .and_then(|r| block[r..].find(|c: char| c.is_ascii_digit()).map(|d| r + d))
        .expect("a data row with a number");
    let old = block.as_bytes()[at];
    let edited = format!(
        "{}{}{}",
        &block[..at],
        if old == b'9' { '8' } else { (old + 1) as char },
        &block[at + 1..]
    );
    std::fs::write(&path, edited).unwrap();
    let (ok, text) = results_tables(copy, &[]);
    assert!(
        !ok && text.contains("out of date: docs/results/digits-orders.md"),
        "{text}"
    );
    // --write restores the script's output, after which the check passes.
    assert!(results_tables(copy, &["--write"]).0);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), block);
    assert!(results_tables(copy, &[]).0);
}
