use cachify::pooled;

#[pooled(key = "strict", max_size = 3, raise_on_full = true)]
fn strict_task() -> u32 {
    1
}

fn main() {}
