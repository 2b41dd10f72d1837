use cachify::cached;

#[cached(key = "k", ttl = 30, ttl = 60)]
fn f() -> u32 {
    1
}

fn main() {}
