use cachify::cached;

#[cached(key = "k", ttl = 1.5)]
fn f() -> u32 {
    1
}

fn main() {}
