#[anyio::test(backends = ["trio"])]
async fn on_trio() {}

fn main() {}
