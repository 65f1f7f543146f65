#[anyio::test(flavor = "work_stealing")]
async fn never_runs() {}

fn main() {}
