use cachify::cached;

#[cached(ttl = 30)]
fn f() -> u32 {
    1
}

fn main() {}
