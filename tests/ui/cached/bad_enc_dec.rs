use cachify::cached;

#[cached(key = "k", enc_dec = (|v: &u32| *v))]
fn f() -> u32 {
    1
}

fn main() {}
