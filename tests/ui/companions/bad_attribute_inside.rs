use cachify::{cached, Error};

trait Repo {
    fn find(&self, id: u32) -> Result<String, Error>;
}

struct MemoryRepo;

// The bad placeholder is the one error: `find` keeps its trait signature and the stub
// `find_reset` answers the call below.
#[cachify::companions]
impl Repo for MemoryRepo {
    #[cached("user-{user_id}")]
    fn find(&self, id: u32) -> Result<String, Error> {
        Ok(format!("user {id}"))
    }
}

fn main() {
    let _ = MemoryRepo.find(1);
    let _ = MemoryRepo.find_reset(1);
}
