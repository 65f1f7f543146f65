//! AnyIO's first program: run an async main on the default backend (tokio).
//!
//! `cargo run --example hello`

async fn main_task() -> anyio::Result<()> {
    println!("Hello, world!");
    Ok(())
}

fn main() -> anyio::Result<()> {
    anyio::run(main_task)
}
