use cachify::{cached, Error};

trait Repo {
    fn find(&self, id: u32) -> Result<String, Error>;
}

struct MemoryRepo;

// Missing `#[cachify::companions]` on the impl: `find_reset` cannot live in a trait impl.
impl Repo for MemoryRepo {
    #[cached("user-{id}")]
    fn find(&self, id: u32) -> Result<String, Error> {
        Ok(format!("user {id}"))
    }
}

fn main() {}
