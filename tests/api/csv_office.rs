//! The excel-style CSV as a spreadsheet reads it: LibreOffice (headless, Spanish locale) opens
//! the file and every cell is read back from its flat-XML conversion. No cell may be a formula;
//! phones, leading zeros and long digit runs stay text with every digit; decimals are numbers.
//!
//! Without `soffice` the test prints `SKIPPED (LibreOffice): …` and passes, unless
//! `PREGONERO_TEST_REQUIRE_ALL` is set: then it fails (as CI runs it).

use std::process::Command;

use pregonero::report::csv::{write, Cell, CsvStyle};

/// One cell as LibreOffice read it.
#[derive(Debug)]
struct Read {
    kind: String,
    formula: bool,
    text: String,
}

fn cells_of(fods: &str) -> Vec<Read> {
    let mut out = Vec::new();
    for part in fods.split("<table:table-cell").skip(1) {
        let Some(end) = part.find('>') else { continue };
        let attrs = &part[..end];
        if !attrs.contains("office:value-type") {
            continue;
        }
        let kind = attrs
            .split("office:value-type=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("")
            .to_string();
        let body = &part[end + 1..];
        let text = body
            .split("<text:p>")
            .nth(1)
            .and_then(|r| r.split("</text:p>").next())
            .unwrap_or("")
            .replace("&apos;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        out.push(Read {
            kind,
            formula: attrs.contains("table:formula"),
            text,
        });
    }
    out
}

#[test]
fn libreoffice_reads_no_formula_and_keeps_every_digit() {
    let soffice = ["soffice", "libreoffice"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok());
    let Some(soffice) = soffice else {
        if std::env::var_os("PREGONERO_TEST_REQUIRE_ALL").is_some() {
            panic!("soffice is required (apt-get install -y libreoffice-calc-nogui)");
        }
        eprintln!("SKIPPED (LibreOffice): soffice not found; install libreoffice-calc-nogui to run the spreadsheet check");
        return;
    };
    let texts = [
        "=HYPERLINK(\"http://example.com\",\"clic\")",
        "+cmd|' /C calc'!A0",
        "@SUM(1+1)",
        "-2+3",
        "=1+2",
        "+34650112233",
        "0034651223344",
        "08001",
        "650112233",
        "Peña",
    ];
    let mut rows: Vec<Vec<Cell>> = texts
        .iter()
        .map(|t| vec![Cell::Text(t.to_string())])
        .collect();
    rows.push(vec![Cell::Decimal(0.96, 2)]);
    let csv = write(CsvStyle::Excel, &["valor".into()], &rows);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("informe.csv");
    std::fs::write(&file, csv).unwrap();
    // `;`, `"`, UTF-8, from line 1, Spanish (3082), quoted fields not forced to text, special
    // numbers detected: what a Spanish Calc does on a double-click.
    let out = Command::new(soffice)
        .arg(format!(
            "-env:UserInstallation=file://{}",
            dir.path().join("profile").display()
        ))
        .args([
            "--headless",
            "--infilter=CSV:59,34,76,1,,3082,false,true",
            "--convert-to",
            "fods",
            "--outdir",
        ])
        .arg(dir.path())
        .arg(&file)
        .output()
        .unwrap();
    let fods = std::fs::read_to_string(dir.path().join("informe.fods")).unwrap_or_else(|e| {
        panic!(
            "LibreOffice wrote no conversion ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let cells = cells_of(&fods);
    assert_eq!(cells.len(), texts.len() + 2, "{cells:?}");
    assert_eq!(cells[0].text, "valor");
    for (t, c) in texts.iter().zip(&cells[1..]) {
        assert!(!c.formula, "{t} became a formula: {c:?}");
        assert_eq!(c.kind, "string", "{t} is not text: {c:?}");
        // Every character the cell held is still there (after the ' that marks it text).
        assert!(c.text.ends_with(t), "{t} read as {:?}", c.text);
    }
    let decimal = &cells[texts.len() + 1];
    assert_eq!(
        (decimal.kind.as_str(), decimal.formula),
        ("float", false),
        "{decimal:?}"
    );
    assert_eq!(decimal.text.replace(',', "."), "0.96", "{decimal:?}");
}
