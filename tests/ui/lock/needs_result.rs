#[cachify::lock(key = "report-{id}")]
fn report(id: u32) -> u32 {
    id
}

#[cachify::lock(key = "unit")]
fn unit() {}

fn main() {}
