use cachify::cached;

#[cached(key = "sum-{a}-{c}")]
fn sum(a: i32, b: i32) -> i32 {
    a + b
}

fn main() {}
