#[cachify::lock(key = "report", raise_on_locked = true)]
fn report() -> Result<(), cachify::Error> {
    Ok(())
}

fn main() {}
