//! `#[cached]` tour: keys from arguments, ttl, enc_dec, reset, methods.
//!
//! Run with `cargo run --example cached`.

use std::time::Duration;

use cachify::{cached, Cachify};

#[cached(key = "sum_two-{a}-{b}", ttl = 300)]
async fn sum_two(a: i32, b: i32) -> i32 {
    println!("  computing {a} + {b}");
    a + b
}

fn encoder(value: &i32) -> i32 {
    value * 2
}

fn decoder(value: i32) -> i32 {
    value * 3
}

#[cached(key = "enc_dec-{a}-{b}", enc_dec = (encoder, decoder))]
fn enc_dec_sum(a: i32, b: i32) -> i32 {
    a + b
}

#[cached(key = "lookup-{name}")]
fn lookup(name: &str) -> Result<u32, String> {
    println!("  looking up {name}");
    name.parse().map_err(|_| format!("{name} is not a number"))
}

struct Profiles {
    region: &'static str,
}

impl Profiles {
    #[cached(key = "profile-{self.region}-{user_id}", ttl = Duration::from_secs(30))]
    fn get(&self, user_id: u64) -> Option<String> {
        println!("  loading profile {user_id} in {}", self.region);
        (user_id != 0).then(|| format!("user {user_id}"))
    }
}

#[tokio::main]
async fn main() -> Result<(), cachify::Error> {
    Cachify::builder()
        .prefix("EXAMPLE-")
        .default_cache_ttl(Duration::from_secs(60))
        .init();

    println!("sum_two(5, 5) = {}", sum_two(5, 5).await);
    println!("sum_two(5, 5) = {} (cached)", sum_two(5, 5).await);
    sum_two::reset(5, 5).await?;
    println!("sum_two(5, 5) = {} (after reset)", sum_two(5, 5).await);

    println!("enc_dec_sum(5, 5) = {} (computed)", enc_dec_sum(5, 5));
    println!(
        "enc_dec_sum(5, 5) = {} (decoded: 20 * 3)",
        enc_dec_sum(5, 5)
    );

    println!("lookup(\"x\") = {:?}", lookup("x"));
    println!("lookup(\"x\") = {:?} (errors are not cached)", lookup("x"));
    println!("lookup(\"42\") = {:?}", lookup("42"));
    println!("lookup(\"42\") = {:?} (cached)", lookup("42"));

    let profiles = Profiles { region: "eu" };
    println!("profile 0 = {:?}", profiles.get(0));
    println!("profile 0 = {:?} (None is cached too)", profiles.get(0));
    profiles.get_reset(0)?;
    Ok(())
}
