use cachify::cached;

#[cached(key = "pair-{a}")]
fn f((a, b): (u32, u32), _: u8) -> u32 {
    a + b
}

fn main() {}
