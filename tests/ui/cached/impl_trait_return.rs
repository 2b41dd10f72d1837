use cachify::cached;

#[cached(key = "k")]
fn f() -> impl std::fmt::Display {
    1
}

fn main() {}
