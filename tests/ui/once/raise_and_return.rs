#[cachify::once(key = "daily-report", raise_on_locked = true, return_on_locked = Ok(0))]
fn daily_report() -> Result<u32, cachify::Error> {
    Ok(1)
}

fn main() {}
