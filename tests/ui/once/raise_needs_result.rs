#[cachify::once(key = "daily-report", raise_on_locked = true)]
fn daily_report() -> u32 {
    1
}

fn main() {}
