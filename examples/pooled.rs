//! Limit concurrent calls to a slow external API: at most 3 in flight per user, the rest
//! answered from a fallback instead of piling onto the API.
//!
//! `cargo run --example pooled`

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use cachify::pooled;

/// Calls in flight per user right now, and the most seen at once (to show the bound).
static IN_FLIGHT: LazyLock<Mutex<HashMap<String, (usize, usize)>>> =
    LazyLock::new(Default::default);
static QUEUED: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug)]
enum Reply {
    Fresh(String),
    Queued { user_id: String },
}

/// What callers get while a user's pool is full: queue the request for later.
fn queue_for_later(user_id: String, _query: String) -> Reply {
    QUEUED.fetch_add(1, Ordering::Relaxed);
    Reply::Queued { user_id }
}

/// The slow API, at most 3 concurrent calls per user. A crashed caller's slot frees
/// itself after 30 s.
#[pooled(key = "weather-api-{user_id}", max_size = 3, slot_exp = 30, on_full = queue_for_later)]
async fn fetch_forecast(user_id: String, query: String) -> Reply {
    enter(&user_id);
    tokio::time::sleep(Duration::from_millis(200)).await; // the slow part
    leave(&user_id);
    Reply::Fresh(format!("forecast for {query}"))
}

fn enter(user_id: &str) {
    let mut in_flight = IN_FLIGHT.lock().unwrap();
    let (now, most) = in_flight.entry(user_id.to_owned()).or_default();
    *now += 1;
    *most = (*most).max(*now);
}

fn leave(user_id: &str) {
    if let Some((now, _)) = IN_FLIGHT.lock().unwrap().get_mut(user_id) {
        *now -= 1;
    }
}

#[tokio::main]
async fn main() -> Result<(), cachify::Error> {
    cachify::init_cachify();

    // Ten requests each for two users, all at once.
    let calls: Vec<_> = ["ada", "grace"]
        .iter()
        .flat_map(|user| (0..10).map(move |n| (user.to_string(), format!("city-{n}"))))
        .map(|(user, city)| tokio::spawn(fetch_forecast(user, city)))
        .collect();

    // Occupancy while the first calls are in flight.
    tokio::time::sleep(Duration::from_millis(50)).await;
    for user in ["ada", "grace"] {
        let busy = fetch_forecast::size(user.into(), String::new()).await?;
        println!("{user}: {busy} calls in flight");
    }

    let mut fresh = 0;
    for call in calls {
        match call.await.expect("a call panicked") {
            Reply::Fresh(forecast) => {
                if fresh == 0 {
                    println!("first answer: {forecast}");
                }
                fresh += 1;
            }
            Reply::Queued { user_id } => println!("queued a request of {user_id}"),
        }
    }
    println!(
        "{fresh} answered by the API, {} queued",
        QUEUED.load(Ordering::Relaxed)
    );
    for (user, (_, most)) in IN_FLIGHT.lock().unwrap().iter() {
        println!("{user}: at most {most} concurrent API calls");
        assert!(*most <= 3);
    }
    Ok(())
}
