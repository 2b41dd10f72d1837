use cachify::pooled;

fn queue_for_later() -> Result<u32, cachify::Error> {
    Ok(0)
}

#[pooled(key = "both", max_size = 3, on_full = queue_for_later, raise_on_full = true)]
fn both() -> Result<u32, cachify::Error> {
    Ok(1)
}

fn main() {}
