/// An alias hides no `Result` here: the compiler, not the spelling, decides.
type Count = u64;

#[cachify::lock("count")]
fn count() -> Count {
    1
}

fn main() {}
