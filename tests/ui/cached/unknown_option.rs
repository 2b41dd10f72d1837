use cachify::cached;

#[cached(key = "k", tll = 30)]
fn f() -> u32 {
    1
}

fn main() {}
