#[anyio::test(flavor = "current_thread", threads = 2)]
async fn never_runs() {}

fn main() {}
