//! revy on SQLite without sea-orm's `sqlite-use-returning-for-3_35`: every
//! kind of tracked write, then the journal checked.

#[path = "../../check/journal.rs"]
mod journal;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = std::env::temp_dir().join(format!("revy-ci-app-sqlite-{}.db", std::process::id()));
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let db = sea_orm::Database::connect(&url).await?;
    let result = journal::run(&db).await;
    db.close().await?;
    let _ = std::fs::remove_file(&file);
    result
}
