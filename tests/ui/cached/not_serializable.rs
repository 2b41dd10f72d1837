use cachify::cached;

struct Report;

#[cached(key = "report")]
fn report() -> Report {
    Report
}

fn main() {}
