//! The drop folder while the daemon runs: files written in pieces, lock files, new campaign
//! folders, live edits of campaign.toml (good and broken).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use pregonero::app::Application;
use pregonero::clock::SystemClock;
use pregonero::store::Store;
use tokio_util::sync::CancellationToken;

use crate::helpers::{self, Db};

crate::on_both_backends!(the_drop_folder_is_watched_live);

fn toml(title: &str) -> String {
    format!("kind = \"announcement\"\ntitle = \"{title}\"\ncaller_id = \"+34910000000\"\n[announcement]\nmessage = \"Hola\"\n")
}

async fn wait<F: Fn() -> Fut, Fut: std::future::Future<Output = bool>>(what: &str, f: F) {
    assert!(
        helpers::wait_for(Duration::from_secs(20), f).await,
        "timed out waiting for {what}"
    );
}

async fn the_drop_folder_is_watched_live(db: Db) {
    let Some(test_db) = helpers::fresh_db(db, "watch::the_drop_folder_is_watched_live").await
    else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let uno = root.path().join("uno");
    std::fs::create_dir_all(&uno).unwrap();
    std::fs::write(uno.join("campaign.toml"), toml("Uno")).unwrap();
    let mut config = helpers::config(&test_db.url, root.path());
    config.campaigns.settle_ms = 400;
    config.campaigns.rescan_seconds = 0.2;
    let app = Application::build(config, Arc::new(SystemClock))
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let run = tokio::spawn(app.run_until_stopped(stop.clone(), false));
    let store = Store::connect(&test_db.url).await.unwrap();

    // A file that appears in pieces: the first piece ends in the middle of a number.
    let path = uno.join("lista.csv");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(b"telefono;nombre\n600000001;Ana\n6000")
        .unwrap();
    f.flush().unwrap();
    // Excel's lock file and a hidden file sit beside it and must be ignored.
    std::fs::write(uno.join("~$lista.csv"), b"\x00garbage").unwrap();
    std::fs::write(uno.join(".oculto.csv"), b"garbage").unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await; // the writer is still busy
    f.write_all(b"00002;Bea\n600000003;Carla\n").unwrap();
    f.flush().unwrap();
    drop(f);
    // Imported means recorded complete: its contacts are committed batch by batch before that.
    wait("the file to be imported", || async {
        let contacts = store.stats("uno").await.map(|s| s.contacts).unwrap_or(0);
        let files = store.imported_files("uno").await.unwrap_or_default();
        contacts == 3 && files.iter().any(|f| f.rows_read > 0)
    })
    .await;
    let files = store.imported_files("uno").await.unwrap();
    assert_eq!(files.len(), 1, "read while still being written: {files:?}");
    assert_eq!(
        (files[0].rows_read, files[0].imported, files[0].rejected),
        (3, 3, 0)
    );
    assert!(!uno.join("lista.csv.rejected.csv").exists());
    assert!(!uno.join("~$lista.csv.rejected.csv").exists());

    // A new campaign folder appears live, its CSV with it.
    let dos = root.path().join("dos");
    std::fs::create_dir_all(&dos).unwrap();
    std::fs::write(dos.join("campaign.toml"), toml("Dos")).unwrap();
    std::fs::write(dos.join("a.csv"), "telefono\n611111111\n").unwrap();
    wait("the new campaign", || async {
        store
            .stats("dos")
            .await
            .map(|s| s.contacts == 1)
            .unwrap_or(false)
    })
    .await;

    // A broken edit keeps the last good version; a good one is applied.
    std::fs::write(
        uno.join("campaign.toml"),
        toml("Roto").replace("announcement\"", "announcemnt\""),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await; // longer than settle + a rescan
    let title = |rows: Vec<pregonero::store::CampaignRow>| {
        rows.into_iter().find(|r| r.id == "uno").map(|r| r.title)
    };
    assert_eq!(
        title(store.campaigns().await.unwrap()).as_deref(),
        Some("Uno")
    );
    std::fs::write(uno.join("campaign.toml"), toml("Nuevo título")).unwrap();
    wait("the edit to apply", || async {
        title(store.campaigns().await.unwrap()).as_deref() == Some("Nuevo título")
    })
    .await;

    // Dropping the same content again imports nothing.
    std::fs::write(
        uno.join("copia.csv"),
        "telefono;nombre\n600000001;Ana\n600000002;Bea\n600000003;Carla\n",
    )
    .unwrap();
    std::fs::write(
        uno.join("copia2.csv"),
        "telefono;nombre\n600000001;Ana\n600000002;Bea\n600000003;Carla\n600000004;Dani\n",
    )
    .unwrap();
    wait("the re-saved file", || async {
        store
            .stats("uno")
            .await
            .map(|s| s.contacts == 4)
            .unwrap_or(false)
    })
    .await;
    store.close().await;
    stop.cancel();
    run.await.unwrap().unwrap();
}
