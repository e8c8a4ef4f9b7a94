//! revy on PostgreSQL, compiled without any other driver: every kind of
//! tracked write, then the journal checked.

#[path = "../../check/journal.rs"]
mod journal;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(url) = std::env::args().nth(1) else {
        println!("usage: app-postgres postgres://...");
        return Ok(());
    };
    let db = journal::fresh_database(&url).await?;
    journal::run(&db).await
}
