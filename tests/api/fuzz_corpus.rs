//! Replays the committed fuzz corpora and the inputs of every fuzzing finding
//! (`fuzz/corpus/<target>/`, `fuzz/regressions/<target>/`) through the fuzz targets' own
//! checks (`fuzz/harness/mod.rs`), on the stable toolchain and without building the fuzzers,
//! so that `cargo test` keeps every finding fixed. See docs/fuzzing.md.

use std::path::Path;

#[path = "../../fuzz/harness/mod.rs"]
mod harness;

/// Runs `check` on every file of the target's corpus and regressions; returns how many.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut n = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths.iter().filter(|p| p.is_file()) {
            let data = std::fs::read(path).expect("a corpus file");
            let run = std::panic::catch_unwind(|| check(&data));
            assert!(
                run.is_ok(),
                "{} fails its fuzz target's checks",
                path.display()
            );
            n += 1;
        }
    }
    n
}

#[test]
fn csv_reader_corpus_and_findings_hold() {
    assert!(
        replay("csv_reader", harness::csv_reader) > 0,
        "no csv_reader corpus"
    );
}

#[test]
fn control_request_corpus_and_findings_hold() {
    assert!(
        replay("control_request", harness::control_request) > 0,
        "no control_request corpus"
    );
}

#[test]
fn report_corpus_and_findings_hold() {
    assert!(replay("report", harness::report) > 0, "no report corpus");
}
