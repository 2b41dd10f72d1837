use cachify::cached;

// An unknown option and a bad argument pattern are reported together, and no
// "cannot find function" cascade follows from the failed expansion.
#[cached(key = "k", wat = 1)]
fn f((a, b): (u32, u32)) -> u32 {
    a + b
}

fn main() {
    f((1, 2));
}
