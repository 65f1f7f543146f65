#[anyio::test(autojump = "soon")]
async fn never_runs() {}

fn main() {}
