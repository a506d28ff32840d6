//! The examples README.md and docs/envelope.md show are the files in core/examples that
//! `./scripts/test` runs (keys_remote.rs runs in sidecar/tests/keys.rs): each block after
//! `<!-- example: PATH -->` is PATH, byte for byte.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::Path;

#[test]
fn shown_examples_are_the_files_that_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (page, at_least) in [("README.md", 3), ("docs/envelope.md", 2)] {
        let text = std::fs::read_to_string(root.join(page)).unwrap();
        let mut shown = 0;
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            let Some(path) = line
                .strip_prefix("<!-- example: ")
                .and_then(|rest| rest.strip_suffix(" -->"))
            else {
                continue;
            };
            assert_eq!(
                lines.next(),
                Some("```rust"),
                "{page}: {path} is not a rust block"
            );
            let block: String = lines
                .by_ref()
                .take_while(|line| *line != "```")
                .map(|line| format!("{line}\n"))
                .collect();
            let file = std::fs::read_to_string(root.join(path)).unwrap();
            assert!(
                block == file,
                "{page} shows another {path} than the file: copy it again"
            );
            shown += 1;
        }
        assert!(shown >= at_least, "{page}: {shown} examples");
    }
}
