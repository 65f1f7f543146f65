#[anyio::test(threads = 0)]
async fn never_runs() {}

fn main() {}
