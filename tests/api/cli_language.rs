//! The operator commands' output in `[ui] language`, through the real binary: `dnc`, `agent`,
//! `holidays`, `import`, `callbacks` and `report`'s errors speak Spanish by default and English with `"en"`; the
//! stored identifiers (the do-not-call source, agent states) stay as they are.

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `pregonero --config TOML ARGS…` (with `stdin` on its standard input); (exit code,
/// stdout, stderr).
fn run(toml: &std::path::Path, args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pregonero"))
        .arg("--config")
        .arg(toml)
        .args(args)
        .env_remove("PREGONERO_CONFIG")
        .env_remove("PREGONERO_UI_LANGUAGE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pregonero");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A folder with one campaign whose list has a row that is not a number, and a config naming a
/// fresh SQLite database, in `language` (none: the default).
fn setup(language: Option<&str>) -> (tempfile::TempDir, std::path::PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let campaigns = root.path().join("campaigns");
    crate::helpers::campaign(
        &campaigns,
        "aviso",
        "kind = \"announcement\"\ncaller_id = \"+34910000000\"\n[announcement]\nmessage = \"Hola\"\n",
        "notes.txt",
        "",
    );
    std::fs::write(
        root.path().join("lista.csv"),
        "telefono;nombre\n600000001;Ana\nhola;Berta\n",
    )
    .unwrap();
    let toml = root.path().join("pregonero.toml");
    let ui = language
        .map(|l| format!("[ui]\nlanguage = \"{l}\"\n"))
        .unwrap_or_default();
    std::fs::write(
        &toml,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[campaigns]\ndir = \"{}\"\n{ui}",
            root.path().join("p.db").display(),
            campaigns.display()
        ),
    )
    .unwrap();
    (root, toml)
}

#[test]
fn the_operator_commands_speak_spanish_by_default() {
    let (root, toml) = setup(None);
    let ok = |args: &[&str], stdin: &str| {
        let (code, out, err) = run(&toml, args, stdin);
        assert_eq!(code, Some(0), "{args:?}\n{out}\n{err}");
        out
    };
    assert_eq!(
        ok(&["dnc", "add", "600 00 00 09", "--until", "2026-12-31"], ""),
        "+34600000009 está en la lista de no llamar hasta el 2026-12-31\n"
    );
    assert_eq!(
        ok(&["dnc", "list"], ""),
        "+34600000009 hasta el 2026-12-31  (cli)\n1 número(s)\n"
    );
    let (code, _, err) = run(&toml, &["dnc", "remove", "600000008"], "");
    assert_eq!(code, Some(1));
    assert_eq!(
        err.trim_end(),
        "error: +34600000008 no está en la lista de no llamar"
    );
    assert_eq!(
        ok(&["dnc", "remove", "600000009"], ""),
        "+34600000009 ya no está en la lista de no llamar\n"
    );
    let holidays = ok(&["holidays", "--year", "2026", "--region", "CT"], "");
    assert!(
        holidays.starts_with("Festivos de 2026, calendario ES, [calling], región CT (CT):"),
        "{holidays}"
    );
    assert!(holidays.contains("  2026-09-11  vie  "), "{holidays}");
    assert!(ok(&["agent", "list"], "").starts_with("no hay agentes"));
    assert!(ok(
        &[
            "agent",
            "add",
            "marta",
            "--extension",
            "201",
            "--team",
            "ventas"
        ],
        ""
    )
    .starts_with("agente marta añadido (extensión 201, equipo ventas)"));
    assert_eq!(
        ok(&["agent", "password", "marta"], "una clave larga\n"),
        "contraseña del agente marta guardada\n"
    );
    let list = ok(&["agent", "list"], "");
    assert!(
        list.starts_with("agente ") && list.contains("desconectado"),
        "{list}"
    );
    let lista = root.path().join("lista.csv");
    let import = ok(&["import", "aviso", lista.to_str().unwrap()], "");
    assert!(
        import.contains("lista.csv: 2 filas leídas, 1 importadas, 1 rechazadas, 0 duplicadas"),
        "{import}"
    );
    assert!(
        import.contains(
            "rechazadas 1×: \"hola\" no es un número de teléfono: tiene letras (línea 3)"
        ),
        "{import}"
    );
    let rejected = std::fs::read_to_string(root.path().join("lista.csv.rejected.csv")).unwrap();
    assert!(
        rejected.contains("línea 3: \"\"hola\"\" no es un número de teléfono: tiene letras"),
        "{rejected}"
    );
    assert_eq!(ok(&["callbacks"], ""), "No hay llamadas que devolver.\n");
    let table = ok(&["report", "aviso"], "");
    assert!(
        table.starts_with("aviso (aviso) — 1 contactos\n  estados:\n    pendiente"),
        "{table}"
    );
    assert!(
        table.contains("  coste ") && table.contains(" 0,0000 €\n"),
        "{table}"
    );
    let (code, _, err) = run(&toml, &["report", "nada"], "");
    assert_eq!(code, Some(1));
    assert_eq!(
        err.trim_end(),
        "error: no hay ninguna campaña \"nada\" en la base de datos (`pregonero campaigns` las lista)"
    );
}

#[test]
fn the_operator_commands_speak_english_with_en() {
    let (root, toml) = setup(Some("en"));
    let ok = |args: &[&str], stdin: &str| {
        let (code, out, err) = run(&toml, args, stdin);
        assert_eq!(code, Some(0), "{args:?}\n{out}\n{err}");
        out
    };
    assert_eq!(
        ok(
            &["dnc", "add", "600000009", "--hours", "mon-fri 09:00-14:00"],
            ""
        ),
        "+34600000009 is on the do-not-call list during mon-fri 09:00-14:00\n"
    );
    assert_eq!(
        ok(&["dnc", "list"], ""),
        "+34600000009 during mon-fri 09:00-14:00  (cli)\n1 number(s)\n"
    );
    let (code, _, err) = run(&toml, &["dnc", "add", "hola"], "");
    assert_eq!(code, Some(1));
    assert_eq!(
        err.trim_end(),
        "error: \"hola\" is not a phone number: it contains letters"
    );
    let holidays = ok(&["holidays", "--year", "2026"], "");
    assert!(
        holidays.starts_with("Holidays 2026, calendar ES, [calling], callees with no region"),
        "{holidays}"
    );
    assert!(ok(&["agent", "add", "marta", "--extension", "201"], "")
        .starts_with("agent marta added (extension 201)"));
    let (code, _, err) = run(&toml, &["agent", "add", "luis", "--extension", "201"], "");
    assert_eq!(code, Some(1));
    assert_eq!(
        err.trim_end(),
        "error: extension 201 belongs to agent \"marta\""
    );
    assert!(ok(&["agent", "list"], "").contains("logged out"));
    assert_eq!(
        ok(&["agent", "remove", "marta"], ""),
        "agent marta removed\n"
    );
    let lista = root.path().join("lista.csv");
    let import = ok(&["import", "aviso", lista.to_str().unwrap()], "");
    assert!(
        import.contains("lista.csv: 2 rows read, 1 imported, 1 rejected, 0 duplicates"),
        "{import}"
    );
    let rejected = std::fs::read_to_string(root.path().join("lista.csv.rejected.csv")).unwrap();
    assert!(
        rejected.contains("line 3: \"\"hola\"\" is not a phone number: it contains letters"),
        "{rejected}"
    );
    assert_eq!(ok(&["callbacks"], ""), "No calls to return.\n");
    let table = ok(&["report", "aviso"], "");
    assert!(
        table.starts_with("aviso (announcement) — 1 contacts\n  states:\n    pending"),
        "{table}"
    );
    let (code, _, err) = run(&toml, &["report", "--contacts"], "");
    assert_eq!(code, Some(1));
    assert!(err.starts_with("error: name the campaign: "), "{err}");
}
