//! Commands started at the same moment on a fresh database never break each other: the first
//! migrates, the others wait for it (an exclusive file lock on SQLite, sqlx's advisory lock on
//! PostgreSQL), and no error repeats its cause.

use std::process::{Command, Stdio};

use crate::helpers::{self, Db};

const ROUNDS: usize = 20;
const TOGETHER: usize = 4;

async fn commands_started_together_all_succeed(db: Db) {
    let root = tempfile::tempdir().unwrap();
    let campaigns = root.path().join("campaigns");
    std::fs::create_dir_all(&campaigns).unwrap();
    for round in 0..ROUNDS {
        // A fresh database each round: the race is over who migrates it first.
        let Some(test_db) = helpers::fresh_db(db, &format!("together_{round}")).await else {
            return;
        };
        let config = root.path().join(format!("pregonero-{round}.toml"));
        std::fs::write(
            &config,
            format!(
                "[database]\nurl = \"{}\"\n[campaigns]\ndir = \"{}\"\n",
                test_db.url,
                campaigns.display()
            ),
        )
        .unwrap();
        let children: Vec<_> = (0..TOGETHER)
            .map(|i| {
                let command = if i % 2 == 0 { "campaigns" } else { "report" };
                Command::new(env!("CARGO_BIN_EXE_pregonero"))
                    .arg("--config")
                    .arg(&config)
                    .arg(command)
                    .env_remove("PREGONERO_CONFIG")
                    .env_remove("RUST_LOG")
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn pregonero")
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "round {round}: a command failed: {stderr}"
            );
            // Read-only commands keep start-up housekeeping to themselves (a warning of a loaded
            // machine may still show).
            assert!(!stderr.contains(" INFO "), "round {round}: {stderr}");
            assert!(
                !stderr.contains("phone uniqueness"),
                "round {round}: {stderr}"
            );
        }
    }
}

crate::on_both_backends!(commands_started_together_all_succeed);
