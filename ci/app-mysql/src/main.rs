//! revy on MySQL/MariaDB with only sea-orm's `sqlx-mysql`: every kind of
//! tracked write, then the journal checked.

#[path = "../../check/journal.rs"]
mod journal;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(url) = std::env::args().nth(1) else {
        println!("usage: app-mysql mysql://...");
        return Ok(());
    };
    let db = journal::fresh_database(&url).await?;
    journal::run(&db).await
}
