use cachify::pooled;

#[derive(Debug)]
struct MyError;

#[pooled(key = "strict", max_size = 3, raise_on_full = true)]
fn strict_task() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
