#[anyio::test(timeout = 0)]
async fn never_runs() {}

fn main() {}
