use cachify::cached;

// A refresh runs after the call returned: it cannot borrow the arguments or `self`.
#[cached(key = "user-{name}", ttl = 60, refresh = 50)]
fn greeting(name: &str) -> String {
    format!("hello {name}")
}

struct Users;

#[cachify::companions]
impl Users {
    #[cached(key = "user-{id}", ttl = 60, refresh = 50)]
    fn name(&self, id: u32) -> String {
        id.to_string()
    }
}

fn main() {}
