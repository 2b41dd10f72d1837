#[cachify::lock(key = "report-{id}")]
fn report(id: u32) -> Result<u32, String> {
    Ok(id)
}

fn main() {}
