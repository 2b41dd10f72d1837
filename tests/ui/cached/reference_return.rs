use cachify::cached;

struct User {
    name: String,
}

impl User {
    #[cached("name-{self.name}")]
    fn name(&self) -> &str {
        &self.name
    }
}

fn main() {}
