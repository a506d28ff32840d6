//! docs/deploy.md: the kesrs commands of the guide (the fenced blocks after `<!-- tested -->`) run in
//! order and succeed, against the real binary.
//!
//! Two substitutions, both stated in the guide: the Azure `keystore:` section becomes a filesystem
//! key store (Azure cannot be reached here; the Azure store is tested against the fake Key Vault in
//! core/tests), and port 7373 becomes a free port so that tests can run in parallel.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_kesrs");

/// The tested blocks of a Markdown file, in order.
fn tested_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "<!-- tested -->" {
            continue;
        }
        let fence = lines.next().unwrap_or_default();
        assert!(
            fence.starts_with("```"),
            "<!-- tested --> must precede a fence, not {fence:?}"
        );
        let mut block = String::new();
        for line in lines.by_ref() {
            if line.starts_with("```") {
                break;
            }
            block.push_str(line);
            block.push('\n');
        }
        blocks.push(block);
    }
    blocks
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_guide_runs() {
    let guide = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/deploy.md");
    let blocks = tested_blocks(&std::fs::read_to_string(guide).unwrap());
    assert!(blocks.len() >= 8, "only {} tested blocks", blocks.len());
    let port = free_port().to_string();
    let mut script =
        String::from("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n");
    for block in &blocks {
        let block = match block.find("keystore:\n  azure:") {
            Some(start) => {
                let end = block[start..]
                    .find("\nEOF")
                    .map_or(block.len(), |e| start + e);
                format!(
                    "{}keystore:\n  fs:\n    path: ./keys{}",
                    &block[..start],
                    &block[end..]
                )
            }
            None => block.clone(),
        };
        script.push_str(&block.replace("7373", &port));
        script.push_str("echo '--- block done'\n");
    }
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // Bounded: a server that never comes up would leave the guide's wait loop spinning.
    let output = Command::new("timeout")
        .args(["120", "bash", "-c"])
        .arg(&script)
        .current_dir(dir.path())
        .env("PATH", path)
        .env_remove("KES_SERVER")
        .env_remove("KES_API_KEY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the guide failed\n--- script\n{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert_eq!(stdout.matches("--- block done").count(), blocks.len());
    // What the guide promises each step shows.
    assert!(stdout.contains("all 15 checks passed"), "{stdout}");
    assert!(stdout.contains("minio-bucket1"), "{stdout}");
    assert!(stdout.contains("kesrs_reload_generation 2"), "{stdout}");
    assert!(stderr.contains("configuration reloaded"), "{stderr}");
    assert!(dir.path().join("keys/minio-default-key").is_file());
    assert!(dir.path().join("keys/minio-bucket1").is_file());
}
